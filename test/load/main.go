// Command load measures skygate under load on loopback and prints a report: status
// throughput against a bare net/http server, event fan-out latency, memory per event
// subscriber, concurrent launches, idle memory and time to ready; then, over a state dir
// of 1,000 running clusters and their kept events, time to ready, idle memory, GET
// /clusters under load, and the events of 100 launches at once reaching 10,000
// subscribers of their clusters.
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
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
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
	only       string // one group of phases, or "" for all
}

func run() int {
	var opts options
	flag.StringVar(&opts.skygateBin, "skygate", "bin/skygate", "skygate binary to measure")
	flag.BoolVar(&opts.quick, "quick", false, "shorter rounds, fewer subscribers, events and lines")
	flag.StringVar(&opts.jsonPath, "json", "", "also write the figures to this file as JSON")
	flag.StringVar(&opts.only, "only", "", "measure one group of phases: "+strings.Join(phaseGroups, ", "))
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "load: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if opts.only != "" && !slices.Contains(phaseGroups, opts.only) {
		fmt.Fprintf(os.Stderr, "load: -only %q: want one of %s\n", opts.only, strings.Join(phaseGroups, ", "))
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

	// An interrupted run must not leave skygate or the bare server behind. Stopping them
	// makes the phase in progress fail at once; a second signal exits without waiting.
	var interrupted atomic.Bool
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		interrupted.Store(true)
		fmt.Fprintf(os.Stderr, "load: %v: stopping\n", sig)
		go func() {
			<-signals
			os.Exit(1)
		}()
		h.close()
	}()

	// Other work on the machine takes CPU from both sides of every figure.
	report := &report{loadAverage: loadAverage()}
	fmt.Printf("load: %d CPUs, load average %s before the run\n", runtime.NumCPU(), report.loadAverage)
	err = runPhases(h, report)
	report.print(os.Stdout)
	if opts.jsonPath != "" {
		if werr := report.writeJSON(opts.jsonPath, opts.quick); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	switch {
	case interrupted.Load():
		fmt.Fprintln(os.Stderr, "load: interrupted")
		return 1
	case err != nil:
		fmt.Fprintln(os.Stderr, "load: harness failed:", err)
		return 1
	}
	return 0
}

// phaseGroups name the groups of phases -only can pick, in the order they run.
var phaseGroups = []string{"cluster", "memory", "launch", "ready", "fleet"}

// runPhases measures every figure in turn (or only h.opts.only's), stopping at the first
// harness failure.
func runPhases(h *harness, r *report) error {
	groups := map[string]func() error{
		"cluster": func() error {
			// Status load and fan-out share one service; the memory figures need a fresh
			// one, so that what these phases allocated does not hide or inflate the growth.
			sg, err := h.startSkygate("main")
			if err != nil {
				return err
			}
			defer h.stop(sg.child)
			if err := measureStatus(h, sg, r); err != nil {
				return fmt.Errorf("status throughput: %w", err)
			}
			if err := measureFanOut(sg, r); err != nil {
				return fmt.Errorf("event fan-out: %w", err)
			}
			return nil
		},
		"memory": func() error { return wrapPhase("memory", measureMemory(h, r)) },
		"launch": func() error { return wrapPhase("concurrent launch", measureConcurrentLaunch(h, r)) },
		"ready":  func() error { return wrapPhase("time to ready", measureReady(h, r)) },
		"fleet":  func() error { return measureFleet(h, r) },
	}
	for _, name := range phaseGroups {
		if h.opts.only != "" && name != h.opts.only {
			continue
		}
		if err := groups[name](); err != nil {
			return err
		}
	}
	return nil
}

// wrapPhase names the phase a harness failure happened in.
func wrapPhase(phase string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", phase, err)
	}
	return nil
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if fields := strings.Fields(string(data)); err == nil && len(fields) >= 3 {
		return strings.Join(fields[:3], " ")
	}
	return "unknown"
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
	Quick       bool     `json:"quick"`
	CPUs        int      `json:"cpus"`
	LoadAverage string   `json:"load_average"` // of the machine before the run (1, 5, 15 min)
	Go          string   `json:"go"`
	Passed      int      `json:"passed"`
	Failed      int      `json:"failed"`
	Figures     []figure `json:"figures"`
}

func (r *report) writeJSON(path string, quick bool) error {
	passed, failed := r.counts()
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // targets such as ">= 0.75" stay readable
	enc.SetIndent("", "  ")
	err := enc.Encode(jsonReport{
		Quick: quick, CPUs: runtime.NumCPU(), LoadAverage: r.loadAverage, Go: runtime.Version(),
		Passed: passed, Failed: failed, Figures: r.figures,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data.Bytes(), 0o644)
}
