// Command load measures skygate under load on loopback and prints a report: status
// throughput against a bare net/http server, event fan-out latency, memory per event
// subscriber, concurrent launches, idle memory and time to ready.
//
//	go run ./test/load -skygate bin/skygate [-quick] [-json FILE]
//
// The same binary also plays two other parts, chosen when it starts: the fake `sky` that
// skygate drives (when it is run under the name "sky"), and the bare HTTP server that
// serves the baseline of the status figures (when HARNESS_BARE_BODY is set).
//
// Missed targets are reported, not fatal: the exit code is 0 unless the harness itself
// fails (a server does not start, an answer is wrong).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
)

func main() {
	if filepath.Base(os.Args[0]) == "sky" {
		os.Exit(runFakeSky(os.Args[1:]))
	}
	if path := os.Getenv(bareBodyEnv); path != "" {
		os.Exit(runBareServer(path))
	}
	os.Exit(run())
}

// options are the command-line flags.
type options struct {
	skygateBin string
	quick      bool
	jsonPath   string
}

func run() int {
	var opts options
	flag.StringVar(&opts.skygateBin, "skygate", "bin/skygate", "skygate binary to measure")
	flag.BoolVar(&opts.quick, "quick", false, "shorter rounds and fewer subscribers (under ~30 s)")
	flag.StringVar(&opts.jsonPath, "json", "", "also write the figures to this file as JSON")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "load: unexpected arguments %q\n", flag.Args())
		return 2
	}

	// Every subscriber is a connection, and skygate inherits this limit when it is
	// started: 10,000 subscribers need more than the usual soft limit of 1,024.
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	h, err := newHarness(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	defer h.close()

	// An interrupted run must not leave skygate or the bare server behind.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "load: %v: stopping\n", sig)
		h.close()
		os.Exit(1)
	}()

	report := &report{}
	err = runPhases(h, report)
	report.print(os.Stdout)
	if opts.jsonPath != "" {
		if werr := report.writeJSON(opts.jsonPath, opts.quick); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load: harness failed:", err)
		return 1
	}
	return 0
}

// runPhases measures every figure in turn, stopping at the first harness failure.
func runPhases(h *harness, r *report) error {
	// Status load and fan-out share one service; the memory figures need a fresh one, so
	// that what the earlier phases allocated does not hide or inflate the growth.
	sg, err := h.startSkygate("main")
	if err != nil {
		return err
	}
	if err := measureStatus(h, sg, r); err != nil {
		return fmt.Errorf("status throughput: %w", err)
	}
	if err := measureFanOut(h, sg, r); err != nil {
		return fmt.Errorf("event fan-out: %w", err)
	}
	h.stop(sg.child)
	if err := measureMemory(h, r); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	if err := measureConcurrentLaunch(h, r); err != nil {
		return fmt.Errorf("concurrent launch: %w", err)
	}
	if err := measureReady(h, r); err != nil {
		return fmt.Errorf("time to ready: %w", err)
	}
	return nil
}

func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open file limit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open file limit: %w", err)
	}
	return nil
}

// jsonReport is the -json file.
type jsonReport struct {
	Quick   bool     `json:"quick"`
	CPUs    int      `json:"cpus"`
	Go      string   `json:"go"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Figures []figure `json:"figures"`
}

func (r *report) writeJSON(path string, quick bool) error {
	passed, failed := r.counts()
	data, err := json.MarshalIndent(jsonReport{
		Quick: quick, CPUs: runtime.NumCPU(), Go: runtime.Version(),
		Passed: passed, Failed: failed, Figures: r.figures,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
