package skyexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The files of one supervised run, in its folder under the ops dir.
const (
	specFile   = "spec.json" // what to run: written by the service before the supervisor starts
	outputFile = "output"    // sky's stdout and stderr as they came, appended
	stderrFile = "stderr"    // sky's stderr alone, for the error sentence
	pidFile    = "pid"       // the supervisor's pid and start time
	exitFile   = "exit"      // how sky ended: written once, when it has
)

// runSpec is what a supervisor runs.
type runSpec struct {
	Argv      []string      `json:"argv"`
	Timeout   time.Duration `json:"timeout"`
	KillGrace time.Duration `json:"kill_grace"`
}

// exitRecord is how sky ended.
type exitRecord struct {
	// Code is sky's exit status, 128+N when signal N ended it, -1 when it never started.
	Code int `json:"code"`
	// Reason is set when the supervisor ended sky or could not start it: "timeout",
	// "cancelled" or "start: <error>".
	Reason string `json:"reason,omitempty"`
}

// Supervise is the `skygate supervise DIR` subcommand: it runs the sky command of DIR's
// spec in its own process group, appends its output to DIR/output (stderr also to
// DIR/stderr), enforces the timeout, and writes DIR/exit when sky has ended. SIGTERM or
// SIGINT ends sky: SIGTERM to its process group, SIGKILL after the grace period. It is
// started in a session of its own, so it and sky outlive the service that started them.
func Supervise(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: skygate supervise DIR")
		return 2
	}
	if err := supervise(args[0]); err != nil {
		fmt.Fprintln(os.Stderr, "skygate supervise:", err)
		return 1
	}
	return 0
}

func supervise(dir string) error {
	// Signals first: a cancel that comes at once must not be missed.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	raw, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return err
	}
	var spec runSpec
	if err := json.Unmarshal(raw, &spec); err != nil || len(spec.Argv) == 0 {
		return fmt.Errorf("reading %s: %v", specFile, err)
	}
	start, err := processStartTime(os.Getpid())
	if err != nil {
		return err
	}
	if err := writeAtomic(dir, pidFile, fmt.Sprintf("%d %d\n", os.Getpid(), start)); err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(dir, outputFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	errOut, err := os.OpenFile(filepath.Join(dir, stderrFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer errOut.Close()
	rec := runSky(spec, signals, out, errOut)
	data, _ := json.Marshal(rec)
	return writeAtomic(dir, exitFile, string(data)+"\n")
}

// runSky runs sky to its end and says how it ended.
func runSky(spec runSpec, signals <-chan os.Signal, out, errOut io.Writer) exitRecord {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	// One writer at a time into the shared output, so chunks of the two streams never mix.
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, out}
	cmd.Stderr = lockedWriter{&mu, io.MultiWriter(out, errOut)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = spec.KillGrace
	if err := cmd.Start(); err != nil {
		return exitRecord{Code: -1, Reason: "start: " + err.Error()}
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	timeout := time.NewTimer(spec.Timeout)
	defer timeout.Stop()
	reason := ""
	select {
	case <-done:
	case <-timeout.C:
		reason = "timeout"
	case <-signals:
		reason = "cancelled"
	}
	if reason != "" {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(spec.KillGrace):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	_ = waitErr
	return exitRecord{Code: exitCode(cmd.ProcessState), Reason: reason}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Never fail: sky must not be cut off from its output.
	_, _ = l.w.Write(p)
	return len(p), nil
}

// writeAtomic replaces dir/name with content: temp file, fsync, rename.
func writeAtomic(dir, name, content string) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// processStartTime is when process pid started, in clock ticks since boot (field 22 of
// /proc/PID/stat): with the pid, it names one process for ever, where a pid alone is
// reused.
func processStartTime(pid int) (uint64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or ')'.
	end := strings.LastIndexByte(string(raw), ')')
	if end < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(string(raw[end+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, errors.New("short /proc stat")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// supervisorAlive reports whether the supervisor recorded in dir still runs: the pid in
// its pid file names a live process with the recorded start time.
func supervisorAlive(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(raw), "%d %d", &pid, &start); err != nil || pid <= 0 {
		return false
	}
	now, err := processStartTime(pid)
	return err == nil && now == start && !isZombie(pid)
}

// isZombie reports whether pid has ended but is not yet reaped.
func isZombie(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	end := strings.LastIndexByte(string(raw), ')')
	fields := strings.Fields(string(raw[end+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// supervisorPid is the pid recorded in dir, when its process is still the supervisor.
func supervisorPid(dir string) (int, bool) {
	if !supervisorAlive(dir) {
		return 0, false
	}
	raw, _ := os.ReadFile(filepath.Join(dir, pidFile))
	var pid int
	_, err := fmt.Sscanf(string(raw), "%d", &pid)
	return pid, err == nil
}
