package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
)

// setScenario writes the scenario file of cluster in the stub's home.
func (s *stub) setScenario(t *testing.T, cluster, scenario string) {
	t.Helper()
	dir := filepath.Join(s.env["SKYSTUB_HOME"], "scenarios")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cluster), []byte(scenario+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScenarioPerCluster(t *testing.T) {
	s := newStub(t, "0.10.3")
	task := writeTask(t, simpleTask)
	s.setScenario(t, "bad", scenarioQuota)
	if r := s.run("launch", "-y", "-c", "bad", task); r.code != 1 || !strings.Contains(r.stderr, "ResourcesUnavailableError") {
		t.Errorf("launch of the cluster set to quota: %+v", r)
	}
	s.mustRun("launch", "-y", "-c", "good", task)

	// The file overrides SKYSTUB_SCENARIO, and a change counts from the next command.
	s.setScenario(t, "good", scenarioStopUnsupported)
	if r := s.with("SKYSTUB_SCENARIO", scenarioDownFails).mustRun("stop", "-y", "good"); !strings.Contains(r.stdout, "skipped") {
		t.Errorf("stop with the cluster's scenario: %q", r.stdout)
	}
	s.setScenario(t, "good", scenarioSuccess)
	if r := s.with("SKYSTUB_SCENARIO", scenarioDownFails).mustRun("down", "-y", "good"); r.stdout != "\nTerminating cluster good...done.\n" {
		t.Errorf("down with the cluster's scenario: %q", r.stdout)
	}

	// slow slows the cluster's own commands down tenfold.
	s.setScenario(t, "slow", scenarioSlow)
	start := time.Now()
	s.mustRun("launch", "-y", "-c", "slow", task)
	if took, least := time.Since(start), time.Duration(launchPauses*10*testDelayMS)*time.Millisecond; took < least {
		t.Errorf("a slow launch took %s, less than %s", took, least)
	}

	s.setScenario(t, "good", "")
	if r := s.with("SKYSTUB_SCENARIO", scenarioQuota).run("launch", "-y", "-c", "good", task); r.code != 1 {
		t.Errorf("an empty scenario file does not leave SKYSTUB_SCENARIO in force: %+v", r)
	}

	s.setScenario(t, "odd", "no-such-scenario")
	if r := s.run("launch", "-y", "-c", "odd", task); r.code != 1 || !strings.Contains(r.stderr, `unknown scenario "no-such-scenario"`) {
		t.Errorf("an unknown scenario: %+v", r)
	}
}

// procSpan is one process of SKYSTUB_PROCLOG, from its two records.
type procSpan struct {
	argv       []string
	start, end time.Time // end is zero without an end record
	exit       *int
	signal     string
}

func readProcLog(t *testing.T, path string) map[int]*procSpan {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans := map[int]*procSpan{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var rec procRecord
		if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
			t.Fatalf("record %q: %v", scanner.Text(), err)
		}
		span := spans[rec.PID]
		if span == nil {
			span = &procSpan{}
			spans[rec.PID] = span
		}
		switch rec.Event {
		case "start":
			span.argv, span.start = rec.Argv, rec.Time
		case "end":
			span.end, span.exit, span.signal = rec.Time, rec.Exit, rec.Signal
		default:
			t.Fatalf("record %q", scanner.Text())
		}
	}
	return spans
}

// maxConcurrent is the most processes running at once among spans that match.
func maxConcurrent(spans map[int]*procSpan, match func(*procSpan) bool) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		if match(s) {
			end := s.end
			if end.IsZero() {
				end = time.Now()
			}
			edges = append(edges, edge{s.start, 1}, edge{end, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return most
}

func isCommand(cmd string) func(*procSpan) bool {
	return func(s *procSpan) bool { return len(s.argv) > 1 && s.argv[1] == cmd }
}

func TestManyClustersAtOnce(t *testing.T) {
	procLog := filepath.Join(t.TempDir(), "procs.log")
	s := newStub(t, "0.10.3").with("SKYSTUB_PROCLOG", procLog).with("SKYSTUB_DELAY_MS", "20")
	task := writeTask(t, simpleTask)
	const n = 8
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	parallel := func(args func(name string) []string) {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := s.run(args(name)...); r.code != 0 {
					t.Errorf("sky %v: exit %d\n%s%s", args(name), r.code, r.stdout, r.stderr)
				}
			}()
		}
		wg.Wait()
	}
	parallel(func(name string) []string { return []string{"launch", "-y", "-c", name, task} })
	out := s.mustRun(append([]string{"status", "--refresh"}, names...)...).stdout
	clusters, err := core.ParseStatusAll(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if c := clusters[name]; c.Status != core.SkyUp {
			t.Errorf("%s after the concurrent launches: %+v (no launch may lose another's write)", name, c)
		}
	}
	parallel(func(name string) []string { return []string{"down", "-y", name} })
	if r := s.mustRun("status"); !strings.Contains(r.stdout, "No existing clusters.") {
		t.Errorf("after the concurrent downs:\n%s", r.stdout)
	}

	spans := readProcLog(t, procLog)
	if len(spans) != 2*n+2 {
		t.Errorf("%d processes recorded, want %d", len(spans), 2*n+2)
	}
	for pid, span := range spans {
		if span.start.IsZero() || span.end.Before(span.start) || span.exit == nil || *span.exit != 0 {
			t.Errorf("process %d: %+v", pid, span)
		}
	}
	if got := maxConcurrent(spans, isCommand("launch")); got < 2 {
		t.Errorf("at most %d launches ran at once, want several", got)
	}
	if got := maxConcurrent(spans, isCommand("status")); got != 1 {
		t.Errorf("%d status processes at once", got)
	}
}

func TestProcLogRecordsADeathBySIGTERM(t *testing.T) {
	procLog := filepath.Join(t.TempDir(), "procs.log")
	s := newStub(t, "0.10.3").with("SKYSTUB_PROCLOG", procLog).with("SKYSTUB_SCENARIO", scenarioHang)
	cmd := s.command("launch", "-y", "-c", "h", writeTask(t, simpleTask))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if statusOf(t, s.mustRun("status", "h").stdout, "h") == statusInit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the launch never started")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the launch ended with %v, want death by SIGTERM", err)
	}
	span := readProcLog(t, procLog)[cmd.Process.Pid]
	if span == nil || span.signal != "SIGTERM" || span.exit != nil || strings.Join(span.argv[:2], " ") != "sky launch" {
		t.Errorf("record of the killed launch: %+v", span)
	}
}

func TestStatusOfSeveralNames(t *testing.T) {
	cases := map[string]string{
		"0.7.0":  "Cluster x not found.\nCluster y not found.\n",
		"0.9.3":  "Clusters 'x', 'y' not found.\n",
		"0.10.3": "Clusters 'x', 'y' not found.\n",
		"0.12.0": "Clusters 'x', 'y' not found.\n",
	}
	for version, notFound := range cases {
		t.Run(version, func(t *testing.T) {
			s := newStub(t, version)
			task := writeTask(t, simpleTask)
			s.mustRun("launch", "-y", "-c", "a", task)
			s.mustRun("launch", "-y", "-c", "b", task)
			s.mustRun("stop", "-y", "b")
			forms := [][]string{{"status", "a", "x", "b", "y"}, {"status", "--refresh", "a", "x", "b", "y"}}
			if version == "0.12.0" {
				forms = append(forms, []string{"status", "-o", "json", "a", "x", "b", "y"})
			}
			for _, args := range forms {
				out := s.mustRun(args...).stdout
				if !slices.Contains(args, "json") && !strings.Contains(out, notFound) {
					t.Errorf("%v does not say %q:\n%s", args, notFound, out)
				}
				if strings.Contains(out, "Managed jobs") {
					t.Errorf("%v with names shows the jobs section:\n%s", args, out)
				}
				clusters, err := core.ParseStatusAll(out)
				if err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
				if len(clusters) != 2 || clusters["a"].Status != core.SkyUp || clusters["b"].Status != core.SkyStopped {
					t.Errorf("%v: %+v\n%s", args, clusters, out)
				}
			}
		})
	}
}

func TestDownOfAnUnknownClusterExitsZero(t *testing.T) {
	for _, version := range []string{"0.7.0", "0.9.3", "0.10.3", "0.12.0"} {
		s := newStub(t, version)
		s.mustRun("status") // absorb the API server start lines
		for _, args := range [][]string{{"down", "-y", "nope"}, {"down", "-y", "nope", "other"}, {"stop", "-y", "nope"}} {
			r := s.run(args...)
			if r.code != 0 || r.stdout != "Cluster(s) not found (tip: see `sky status`).\n" || r.stderr != "" {
				t.Errorf("%s: sky %v: %+v", version, args, r)
			}
		}
	}
}
