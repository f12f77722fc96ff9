// Command fakechild stands in for the sky CLI in the skyexec tests.
//
// Called with "script" as its first argument, it runs the other arguments as steps, in
// order:
//
//	out:TEXT        write TEXT to stdout as is (one write)
//	err:TEXT        write TEXT to stderr as is
//	sleep:DURATION  sleep
//	waitfile:PATH   wait until PATH exists
//	exit:N          exit with code N
//	killself        die of SIGTERM
//	ignoreterm      ignore SIGTERM from now on
//	hang            never exit
//	pid             print "pid N" on stdout
//	env:NAME        print "NAME=value" on stdout
//	spam:out:N      write N bytes of numbered 100-byte lines to stdout (spam:err:N: stderr)
//	longline:N      write one line of N bytes to stdout
//	grandchild      start a process that ignores SIGTERM, says "grandchild ready", holds
//	                stdout and stderr and never exits; then print "grandchild N" on stdout
//	closeready      (the grandchild's step) tell the parent that it is ready
//
// Called any other way (as sky would be), it prints its arguments as a JSON array on
// stdout and exits 0, or hangs when FAKECHILD_HANG is set. Then FAKECHILD_VERSION makes
// `--version` print "skypilot, version V", and FAKECHILD_REFUSE_JSON makes any command
// with "-o" a click usage error (exit 2), as a sky without `-o json` answers.
// FAKECHILD_LOG names a file to which every call appends its arguments as a JSON array.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 || args[0] != "script" {
		echoArgs(args)
		return
	}
	for _, step := range args[1:] {
		if err := run(step); err != nil {
			fmt.Fprintf(os.Stderr, "fakechild: step %q: %v\n", step, err)
			os.Exit(97)
		}
	}
}

func echoArgs(args []string) {
	if path := os.Getenv("FAKECHILD_LOG"); path != "" {
		line, _ := json.Marshal(args)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			os.Exit(96)
		}
		_, _ = f.Write(append(line, '\n'))
		f.Close()
	}
	if v := os.Getenv("FAKECHILD_VERSION"); v != "" && len(args) == 1 && args[0] == "--version" {
		fmt.Printf("skypilot, version %s\n", v)
		return
	}
	if os.Getenv("FAKECHILD_REFUSE_JSON") != "" && slices.Contains(args, "-o") {
		fmt.Fprintf(os.Stderr, "Usage: sky %s [OPTIONS]\nTry 'sky %s -h' for help.\n\nError: No such option: -o\n", args[0], args[0])
		os.Exit(2)
	}
	if err := json.NewEncoder(os.Stdout).Encode(args); err != nil {
		os.Exit(98)
	}
	if os.Getenv("FAKECHILD_HANG") != "" {
		hang()
	}
}

func run(step string) error {
	verb, arg, _ := strings.Cut(step, ":")
	switch verb {
	case "out":
		_, err := io.WriteString(os.Stdout, arg)
		return err
	case "err":
		_, err := io.WriteString(os.Stderr, arg)
		return err
	case "sleep":
		d, err := time.ParseDuration(arg)
		time.Sleep(d)
		return err
	case "waitfile":
		for {
			if _, err := os.Stat(arg); err == nil {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "exit":
		code, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		os.Exit(code)
	case "killself":
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		// The signal arrives asynchronously: the process must not exit 0 before.
		hang()
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
	case "hang":
		hang()
	case "pid":
		fmt.Printf("pid %d\n", os.Getpid())
	case "env":
		fmt.Printf("%s=%s\n", arg, os.Getenv(arg))
	case "spam":
		return spam(arg)
	case "longline":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		for range n {
			w.WriteByte('y')
		}
		w.WriteByte('\n')
		return w.Flush()
	case "grandchild":
		return startGrandchild()
	case "closeready":
		// File descriptor 3 is the grandchild's end of its readiness pipe.
		return os.NewFile(3, "ready").Close()
	default:
		return fmt.Errorf("unknown step")
	}
	return nil
}

// spam writes lines "%08d " + 91 'x' + "\n", numbered from 0.
func spam(arg string) error {
	streamName, size, _ := strings.Cut(arg, ":")
	n, err := strconv.Atoi(size)
	if err != nil {
		return err
	}
	out := os.Stdout
	if streamName == "err" {
		out = os.Stderr
	}
	w := bufio.NewWriterSize(out, 64<<10)
	filler := strings.Repeat("x", 91)
	for i := range n / 100 {
		fmt.Fprintf(w, "%08d %s\n", i, filler)
	}
	return w.Flush()
}

// startGrandchild returns once the grandchild has written "grandchild ready": it never
// writes again, so it cannot die of SIGPIPE when the pipes are closed.
func startGrandchild() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "script", "ignoreterm", "out:grandchild ready\n", "closeready", "hang")
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		return err
	}
	readyW.Close()
	// EOF comes when the grandchild closes its end.
	if _, err := io.Copy(io.Discard, ready); err != nil {
		return err
	}
	fmt.Printf("grandchild %d\n", cmd.Process.Pid)
	return nil
}

func hang() {
	for {
		time.Sleep(time.Hour)
	}
}
