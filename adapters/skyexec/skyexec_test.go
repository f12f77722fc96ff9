package skyexec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Binaries built by TestMain: fakeSky is testdata/fakechild, named "sky"; stubSky is the
// project's stub sky (test/stubsky); supervisorBin is testdata/supervisor, which runs
// Supervise as skygate's hidden subcommand does.
var fakeSky, stubSky, supervisorBin string

func TestMain(m *testing.M) {
	if os.Getenv(childModeEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skyexec-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeSky = filepath.Join(dir, "fake", "sky")
	stubSky = filepath.Join(dir, "stub", "sky")
	supervisorBin = filepath.Join(dir, "supervisor")
	for target, pkg := range map[string]string{fakeSky: "./testdata/fakechild", stubSky: "../../test/stubsky", supervisorBin: "./testdata/supervisor"} {
		build := exec.Command("go", "build", "-o", target, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// testGrace is the KillGrace of test runners: short, so that cancellation tests are quick.
const testGrace = 300 * time.Millisecond

// newTestRunner returns a Runner for cfg that runs the fake sky unless cfg names another
// binary, supervised by the test supervisor, with its runs in a temporary directory.
func newTestRunner(t *testing.T, cfg Config) *Runner {
	if cfg.Bin == "" {
		cfg.Bin = fakeSky
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = testGrace
	}
	if cfg.OpsDir == "" && t != nil {
		cfg.OpsDir = filepath.Join(t.TempDir(), "ops")
	}
	if cfg.SupervisorPath == "" {
		cfg.SupervisorPath = supervisorBin
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	return New(cfg)
}

// testContext is a safety net: it is cancelled (context.Canceled, never a deadline, so it
// cannot pass for a command timeout) when a test hangs for much longer than it should.
func testContext(t *testing.T, limit time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(limit, cancel)
	t.Cleanup(func() {
		timer.Stop()
		cancel()
	})
	return ctx, cancel
}

// lineRecorder is a LineFunc that records lines and notices overlapping calls.
type lineRecorder struct {
	mu      sync.Mutex
	lines   []ports.Line
	calling atomic.Int32
	overlap atomic.Bool
	then    func(l ports.Line) // called after a line is recorded, when set
}

func (r *lineRecorder) onLine(l ports.Line) {
	if r.calling.Add(1) != 1 {
		r.overlap.Store(true)
	}
	defer r.calling.Add(-1)
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	if r.then != nil {
		r.then(l)
	}
}

func (r *lineRecorder) recorded(t *testing.T) []ports.Line {
	t.Helper()
	if r.overlap.Load() {
		t.Error("onLine was called concurrently")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ports.Line(nil), r.lines...)
}

func (r *lineRecorder) texts(t *testing.T) []string {
	var texts []string
	for _, l := range r.recorded(t) {
		texts = append(texts, l.Text)
	}
	return texts
}

// script runs fakechild steps as one sky command.
func script(steps ...string) []string {
	return append([]string{"script"}, steps...)
}

// processGone reports whether pid has exited. A dead process whose parent is gone stays
// a zombie until init reaps it, which not every container's init does; it counts as gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state field follows the command name, which is in parentheses.
	end := bytes.LastIndexByte(stat, ')')
	return end >= 0 && end+2 < len(stat) && stat[end+2] == 'Z'
}

// waitGone fails the test unless pid exits within a few seconds (signals are delivered
// asynchronously).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d is still running", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoGoroutineLeak fails the test when, once it is over, more goroutines run than
// before it.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("goroutines: %d before the test, %d after", before, runtime.NumGoroutine())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// argvLog returns the calls the fake sky logged to path, one argv each.
func argvLog(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls [][]string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var argv []string
		if err := json.Unmarshal(scanner.Bytes(), &argv); err != nil {
			t.Fatalf("log line %q: %v", scanner.Text(), err)
		}
		calls = append(calls, argv)
	}
	return calls
}

func TestNewFillsDefaults(t *testing.T) {
	r := New(Config{Timeouts: Timeouts{Launch: time.Minute}, OpsDir: "relative/ops"})
	self, _ := os.Executable()
	if r.bin != "sky" || r.killGrace != 10*time.Second || r.env != nil || r.poll != 10*time.Millisecond ||
		r.maxLogBytes != 256<<20 || r.supervisorPath != self || !filepath.IsAbs(r.opsDir) {
		t.Errorf("bin %q, killGrace %s, env %v, poll %s, max log %d, supervisor %q, ops dir %q",
			r.bin, r.killGrace, r.env, r.poll, r.maxLogBytes, r.supervisorPath, r.opsDir)
	}
	want := Timeouts{
		Status: 2 * time.Minute, IP: 2 * time.Minute, Check: 5 * time.Minute, Version: 2 * time.Minute,
		Stop: 30 * time.Minute, Start: 30 * time.Minute, Down: 30 * time.Minute, Launch: time.Minute,
	}
	if r.timeouts != want {
		t.Errorf("timeouts %+v, want %+v", r.timeouts, want)
	}
}

// readOnlyCase calls one read-only method for cluster "c1".
type readOnlyCase struct {
	name    string
	call    func(context.Context, *Runner) error
	argv    []string
	timeout func(*Timeouts) *time.Duration // the method's field of Timeouts
}

var readOnlyCases = []readOnlyCase{
	{"status", func(ctx context.Context, r *Runner) error {
		_, err := r.Status(ctx, []string{"c1"}, false)
		return err
	}, []string{"status", "c1"}, func(t *Timeouts) *time.Duration { return &t.Status }},
	{"status refresh of several names", func(ctx context.Context, r *Runner) error {
		_, err := r.Status(ctx, []string{"c1", "c2", "c1"}, true)
		return err
	}, []string{"status", "--refresh", "c1", "c2"}, func(t *Timeouts) *time.Duration { return &t.Status }},
	{"ip", func(ctx context.Context, r *Runner) error {
		_, err := r.IP(ctx, "c1")
		return err
	}, []string{"status", "--ip", "c1"}, func(t *Timeouts) *time.Duration { return &t.IP }},
	{"check", func(ctx context.Context, r *Runner) error {
		_, err := r.Check(ctx)
		return err
	}, []string{"check"}, func(t *Timeouts) *time.Duration { return &t.Check }},
	{"version", func(ctx context.Context, r *Runner) error {
		_, err := r.Version(ctx)
		return err
	}, []string{"--version"}, func(t *Timeouts) *time.Duration { return &t.Version }},
}

func TestReadOnlyCallsRunExactArgv(t *testing.T) {
	for _, tc := range readOnlyCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, _ := testContext(t, time.Minute)
			log := filepath.Join(t.TempDir(), "argv.log")
			// An unreadable version: the table and text forms, and no -o json.
			r := newTestRunner(t, Config{Env: append(os.Environ(), "FAKECHILD_LOG="+log)})
			_ = tc.call(ctx, r)
			calls := argvLog(t, log)
			if len(calls) == 0 || !reflect.DeepEqual(calls[len(calls)-1], tc.argv) {
				t.Errorf("calls %q, want the last to be %q", calls, tc.argv)
			}
		})
	}
}

func TestJSONOutputIsChosenByVersion(t *testing.T) {
	tests := []struct {
		name, version string
		refuse        bool
		want          [][]string // the calls of two Status and one Check
	}{
		{"0.11 has no -o json", "0.11.2", false, [][]string{
			{"--version"}, {"status", "c1"}, {"status", "c1"}, {"check"}}},
		{"0.12 has it", "0.12.0", false, [][]string{
			{"--version"}, {"status", "-o", "json", "c1"}, {"status", "-o", "json", "c1"}, {"check", "-o", "json"}}},
		{"a 0.12 build that refuses it is asked once", "0.12.0", true, [][]string{
			{"--version"}, {"status", "-o", "json", "c1"}, {"status", "c1"}, {"status", "c1"}, {"check"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _ := testContext(t, time.Minute)
			log := filepath.Join(t.TempDir(), "argv.log")
			env := append(os.Environ(), "FAKECHILD_LOG="+log, "FAKECHILD_VERSION="+tt.version)
			if tt.refuse {
				env = append(env, "FAKECHILD_REFUSE_JSON=1")
			}
			r := newTestRunner(t, Config{Env: env})
			for range 2 {
				if _, err := r.Status(ctx, []string{"c1"}, false); err != nil {
					t.Fatal(err)
				}
			}
			_, _ = r.Check(ctx) // the fake's output is no check output
			if got := argvLog(t, log); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("calls %q\nwant  %q", got, tt.want)
			}
		})
	}
}

func TestVersionIsCachedAndRefreshed(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{Env: append(os.Environ(), "FAKECHILD_VERSION=0.12.1")})
	v, err := r.Version(ctx)
	if err != nil || v.Raw != "0.12.1" || !v.HasJSONOutput() {
		t.Fatalf("version %+v, %v", v, err)
	}
	if !r.jsonOutput(ctx) {
		t.Error("0.12.1 does not get -o json")
	}
	// An unreadable version is the zero Version, without error, and turns -o json off.
	r.env = os.Environ()
	if v, err := r.Version(ctx); err != nil || v.Known() {
		t.Errorf("unreadable version: %+v, %v", v, err)
	}
	if r.jsonOutput(ctx) {
		t.Error("an unknown version gets -o json")
	}
}

func TestStatusAnswersEveryName(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	home := t.TempDir()
	procLog := filepath.Join(t.TempDir(), "procs.log")
	r := newTestRunner(t, Config{Bin: stubSky, Env: append(os.Environ(), "SKYSTUB_HOME="+home, "SKYSTUB_DELAY_MS=1",
		"SKYSTUB_VERSION=0.10.3", "SKYSTUB_PROCLOG="+procLog)})
	yaml := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(yaml, []byte("resources:\n  cloud: aws\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		out, err := r.Start(ctx, ports.Operation{Key: ports.OperationKey(name + ".1"), Action: core.ActionLaunch, Cluster: name, Launch: ports.LaunchSpec{YAMLPath: yaml}}, nil)
		if err != nil || out.Failed {
			t.Fatalf("launch %s: %+v %v", name, out, err)
		}
	}
	before := statusProcesses(t, procLog)
	got, err := r.Status(ctx, []string{"b", "nope", "a", "gone"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if ran := statusProcesses(t, procLog) - before; ran != 1 {
		t.Errorf("%d sky status processes for four names, want one", ran)
	}
	if len(got) != 4 || !got["a"].Found || !got["b"].Found || got["a"].Status != core.SkyUp || got["nope"].Found || got["gone"].Found {
		t.Errorf("status %+v", got)
	}
	if got["a"].Cloud != "aws" || got["a"].Region != "us-east-1" {
		t.Errorf("cluster a: %+v", got["a"])
	}
	ip, err := r.IP(ctx, "a")
	if err != nil || !strings.HasPrefix(ip, "3.91.") {
		t.Errorf("ip %q, %v", ip, err)
	}
	if _, err := r.IP(ctx, "nope"); !isKind(err, core.KindNotFound) {
		t.Errorf("ip of an unknown cluster: %v, want a not-found error", err)
	}
}

// statusProcesses counts the `sky status` processes the stub recorded in procLog.
func statusProcesses(t *testing.T, procLog string) int {
	t.Helper()
	data, err := os.ReadFile(procLog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Event string   `json:"event"`
			Argv  []string `json:"argv"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		if rec.Event == "start" && len(rec.Argv) > 1 && rec.Argv[1] == "status" {
			n++
		}
	}
	return n
}

func isKind(err error, kind core.ErrorKind) bool {
	de, ok := core.AsError(err)
	return ok && de.Kind == kind
}

func TestBadNamesRunNothing(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	log := filepath.Join(t.TempDir(), "argv.log")
	r := newTestRunner(t, Config{Env: append(os.Environ(), "FAKECHILD_LOG="+log)})
	for _, name := range []string{"-a", "--refresh", "train-*", "", "a b"} {
		if _, err := r.Status(ctx, []string{"ok", name}, false); !isKind(err, core.KindInvalid) {
			t.Errorf("status of %q: %v, want an invalid name", name, err)
		}
		if _, err := r.IP(ctx, name); !isKind(err, core.KindInvalid) {
			t.Errorf("ip of %q: %v, want an invalid name", name, err)
		}
	}
	if got, err := r.Status(ctx, nil, true); err != nil || len(got) != 0 {
		t.Errorf("status of no name: %v, %v", got, err)
	}
	if calls := argvLog(t, log); len(calls) != 0 {
		t.Errorf("sky ran: %q", calls)
	}
}

func TestSkyFailuresAreDomainErrors(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	home := t.TempDir()
	r := newTestRunner(t, Config{Bin: stubSky, Env: append(os.Environ(), "SKYSTUB_HOME="+home, "SKYSTUB_VERSION=0.10.3")})
	// The stub has a state file; a corrupt one makes every command fail.
	if err := os.WriteFile(filepath.Join(home, "state.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := r.Status(ctx, []string{"c1"}, false)
	if !isKind(err, core.KindUpstream) || !strings.Contains(err.Error(), "corrupt state file") {
		t.Errorf("status: %v, want an upstream error quoting sky", err)
	}
	if _, err := r.IP(ctx, "c1"); !isKind(err, core.KindUpstream) {
		t.Errorf("ip: %v, want an upstream error", err)
	}
}

func TestEachReadOnlyCallHasItsOwnTimeout(t *testing.T) {
	const short = 100 * time.Millisecond
	env := append(os.Environ(), "FAKECHILD_HANG=1")
	for _, tc := range readOnlyCases {
		t.Run(tc.name, func(t *testing.T) {
			timeouts := Timeouts{Status: time.Hour, IP: time.Hour, Check: time.Hour, Version: time.Hour}
			*tc.timeout(&timeouts) = short
			r := newTestRunner(t, Config{Env: env, Timeouts: timeouts})
			r.versionRead = true // no version probe before status and check
			ctx, _ := testContext(t, 20*time.Second)
			err := tc.call(ctx, r)
			if !isKind(err, core.KindUpstream) || !strings.Contains(err.Error(), "timed out after "+short.String()) {
				t.Fatalf("error %v, want an upstream error naming the timeout", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("a timeout of sky passes for the caller's context")
			}
		})
	}
}

func TestEndedContextIsReturned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := newTestRunner(t, Config{Env: append(os.Environ(), "FAKECHILD_HANG=1")})
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := r.Version(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("returned %s after the cancel", waited)
	}
	if _, err := r.Status(ctx, []string{"c1"}, false); !errors.Is(err, context.Canceled) {
		t.Errorf("status with an ended context: %v", err)
	}
}

func TestMissingBinaryIsErrSkyNotFound(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	missingPath := filepath.Join(t.TempDir(), "sky")
	for name, cfg := range map[string]Config{
		"path":           {Bin: missingPath},
		"name in PATH":   {Bin: "sky", Env: []string{"PATH=" + t.TempDir()}},
		"no PATH in Env": {Bin: "sky", Env: []string{"HOME=/nowhere"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newTestRunner(t, cfg)
			_, err := r.Version(ctx)
			if !errors.Is(err, ports.ErrSkyNotFound) || !strings.Contains(err.Error(), cfg.Bin) {
				t.Fatalf("version: %v, want ErrSkyNotFound naming %q", err, cfg.Bin)
			}
			calls := map[string]error{}
			_, calls["status"] = r.Status(ctx, []string{"c1"}, true)
			_, calls["ip"] = r.IP(ctx, "c1")
			_, calls["check"] = r.Check(ctx)
			_, calls["start"] = r.Start(ctx, ports.Operation{Key: "c1.1", Action: core.ActionStop, Cluster: "c1"}, nil)
			for call, err := range calls {
				if !errors.Is(err, ports.ErrSkyNotFound) {
					t.Errorf("%s: %v, want ErrSkyNotFound", call, err)
				}
			}
			if _, err := os.Stat(filepath.Join(r.opsDir, "c1.1")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a start without sky left a run behind: %v", err)
			}
		})
	}
}

func TestBinaryInstalledLaterIsFound(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	binDir := t.TempDir()
	r := newTestRunner(t, Config{Bin: "sky", Env: []string{"PATH=/nonexistent:" + binDir, "FAKECHILD_VERSION=0.10.3"}})
	if _, err := r.Version(ctx); !errors.Is(err, ports.ErrSkyNotFound) {
		t.Fatalf("before installing: error %v, want ErrSkyNotFound", err)
	}
	binary, err := os.ReadFile(fakeSky)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binDir, "sky"), binary, 0o755); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Version(ctx); err != nil || v.Raw != "0.10.3" {
		t.Errorf("after installing: %+v, %v", v, err)
	}
}

func TestHugeOutputOfAReadOnlyCallIsBounded(t *testing.T) {
	ctx, _ := testContext(t, 2*time.Minute)
	const size = 20 << 20
	r := newTestRunner(t, Config{})
	var res result
	var err error
	allocated := allocatedBy(func() {
		// All of stderr comes before any stdout: both pipes must be read at once.
		res, err = r.run(ctx, time.Minute, script("spam:err:"+fmt.Sprint(size), "spam:out:"+fmt.Sprint(size)))
	})
	if err != nil {
		t.Fatal(err)
	}
	// stdout is parsed, so it is kept whole up to maxParsedBytes; stderr only explains a
	// failure, and its tail is kept.
	whole := spamText(size)
	if res.stdout != whole || res.stderr != whole[len(whole)-maxOutputBytes:] {
		t.Errorf("stdout has %d bytes, stderr %d: want all %d, and the last %d", len(res.stdout), len(res.stderr), size, maxOutputBytes)
	}
	t.Logf("allocated %d KB", allocated>>10)
	// The kept stdout grows by doubling and is copied once into the result: a few times
	// what is kept, never what is written (stderr's 20 MB are a 1 MiB ring).
	if allocated > 5*size {
		t.Errorf("%d MB allocated for %d MB of output", allocated>>20, 2*size>>20)
	}
}

func TestStdoutOfAReadOnlyCallIsBoundedToo(t *testing.T) {
	var out tailBuffer
	out.max = 1000
	for range 50 {
		_, _ = out.Write([]byte(strings.Repeat("y", 99) + "\n"))
	}
	if got := out.String(); len(got) != 1000 || got[len(got)-1] != '\n' {
		t.Errorf("kept %d bytes, want the last 1000", len(got))
	}
}

// The status of a fleet of a thousand clusters is over a megabyte of JSON: it is read
// whole.
func TestStatusOfAThousandClustersInJSON(t *testing.T) {
	dir := t.TempDir()
	var doc strings.Builder
	doc.WriteString("[")
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("c-%04d", i)
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"name": %q, "status": "UP", "cloud": "AWS", "region": "us-east-1", "resources_str": "1x(cpus=2, mem=8, m6i.large, ...)", "padding": %q}`,
			names[i], strings.Repeat("p", 1100))
	}
	doc.WriteString("]\n")
	if doc.Len() <= maxOutputBytes {
		t.Fatalf("the document is %d bytes: the test needs more than %d", doc.Len(), maxOutputBytes)
	}
	answer := filepath.Join(dir, "status.json")
	if err := os.WriteFile(answer, []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sky := filepath.Join(dir, "sky")
	body := "#!/bin/sh\ncase \"$1\" in\n--version) echo 'skypilot, version 0.12.0' ;;\nstatus) cat " + answer + " ;;\nesac\n"
	if err := os.WriteFile(sky, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{Bin: sky})
	got, err := r.Status(ctx, names, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if got[name].Status != core.SkyUp {
			t.Fatalf("%s: %+v, want UP", name, got[name])
		}
	}
}

// A read-only sky that a signal killed is reported as killed: what it printed before
// says nothing about it.
func TestReadOnlyCallKilledByASignal(t *testing.T) {
	dir := t.TempDir()
	sky := filepath.Join(dir, "sky")
	body := "#!/bin/sh\ncase \"$1\" in\n--version) echo 'skypilot, version 0.10.3' ;;\n*) echo 'Refreshing status'; kill -9 $$ ;;\nesac\n"
	if err := os.WriteFile(sky, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{Bin: sky})
	_, err := r.Status(ctx, []string{"c1"}, true)
	if err == nil || !strings.Contains(err.Error(), "sky was killed by signal 9 (killed)") {
		t.Errorf("status: %v; want it to say sky was killed by signal 9", err)
	}
	if _, err := r.Check(ctx); err == nil || !strings.Contains(err.Error(), "killed by signal 9") {
		t.Errorf("check: %v; want it to say sky was killed by signal 9", err)
	}
}

// allocatedBy returns the bytes the Go heap allocated while run ran.
func allocatedBy(run func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// spamText is what the fake sky's spam step writes for size bytes.
func spamText(size int) string {
	var b strings.Builder
	filler := strings.Repeat("x", 91)
	for i := range size / 100 {
		fmt.Fprintf(&b, "%08d %s\n", i, filler)
	}
	return b.String()
}

func TestExitCodesOfReadOnlyCalls(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	for steps, want := range map[string]int{"exit:0": 0, "exit:1": 1, "exit:100": 100, "killself": 128 + 15} {
		res, err := r.run(ctx, time.Minute, script("out:working\n", steps))
		if err != nil || res.exitCode != want || res.stdout != "working\n" {
			t.Errorf("%s: %+v, %v; want exit code %d", steps, res, err, want)
		}
	}
}

func TestCancelledReadOnlyCallEndsTheWholeGroup(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, cancel := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	go func() {
		for {
			if _, err := os.Stat(ready); err == nil {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// The grandchild ignores SIGTERM and holds the pipes; "waitfile" of a file that never
	// comes keeps the child alive until it is ended.
	steps := script("grandchild", "pid", "err:go\n", "waitfile:"+filepath.Join(dir, "never"))
	var res result
	var err error
	done := make(chan struct{})
	go func() {
		res, err = r.run(ctx, time.Minute, steps)
		close(done)
	}()
	time.Sleep(300 * time.Millisecond)
	if werr := os.WriteFile(ready, nil, 0o600); werr != nil {
		t.Fatal(werr)
	}
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	for _, line := range strings.Split(res.stdout, "\n") {
		var pid int
		if _, serr := fmt.Sscanf(line, "grandchild %d", &pid); serr == nil {
			waitGone(t, pid)
		}
		if _, serr := fmt.Sscanf(line, "pid %d", &pid); serr == nil {
			waitGone(t, pid)
		}
	}
}
