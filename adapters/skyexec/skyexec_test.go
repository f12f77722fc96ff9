package skyexec

import (
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

	"github.com/skygate/skygate/ports"
)

// fakeSky is the path of testdata/fakechild, built as "sky" in a temporary directory.
var fakeSky string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skyexec-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fakeSky = filepath.Join(dir, "sky")
	build := exec.Command("go", "build", "-o", fakeSky, "./testdata/fakechild")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the fake sky: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testGrace is the KillGrace of test runners: short, so that cancellation tests are quick.
const testGrace = 200 * time.Millisecond

// newTestRunner returns a Runner for cfg that runs the fake sky unless cfg names
// another binary.
func newTestRunner(cfg Config) *Runner {
	if cfg.Bin == "" {
		cfg.Bin = fakeSky
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = testGrace
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

// lineRecorder is an onLine that records lines and notices overlapping calls.
type lineRecorder struct {
	mu      sync.Mutex
	lines   []string
	calling atomic.Int32
	overlap atomic.Bool
	then    func(line string) // called after a line is recorded, when set
}

func (r *lineRecorder) onLine(line string) {
	if r.calling.Add(1) != 1 {
		r.overlap.Store(true)
	}
	defer r.calling.Add(-1)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if r.then != nil {
		r.then(line)
	}
}

func (r *lineRecorder) recorded(t *testing.T) []string {
	t.Helper()
	if r.overlap.Load() {
		t.Error("onLine was called concurrently")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
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

func TestNewFillsDefaults(t *testing.T) {
	r := New(Config{Timeouts: Timeouts{Launch: time.Minute}})
	if r.bin != "sky" || r.killGrace != 10*time.Second || r.env != nil {
		t.Errorf("bin %q, killGrace %s, env %v", r.bin, r.killGrace, r.env)
	}
	want := Timeouts{
		Status: 2 * time.Minute, IP: 2 * time.Minute, Check: 5 * time.Minute, Version: 2 * time.Minute,
		Stop: 30 * time.Minute, Start: 30 * time.Minute, Down: 30 * time.Minute, Launch: time.Minute,
	}
	if r.timeouts != want {
		t.Errorf("timeouts %+v, want %+v", r.timeouts, want)
	}
}

// methodCase calls one Runner method for cluster "c1"; onLine is ignored by the methods
// that do not stream.
type methodCase struct {
	name    string
	call    func(context.Context, *Runner, ports.LineFunc) (ports.RunResult, error)
	argv    []string
	timeout func(*Timeouts) *time.Duration // the method's field of Timeouts
}

var methodCases = []methodCase{
	{"launch", func(ctx context.Context, r *Runner, f ports.LineFunc) (ports.RunResult, error) {
		return r.Launch(ctx, ports.LaunchSpec{YAMLPath: "/state/task.yaml", ClusterName: "c1"}, f)
	}, []string{"launch", "-y", "-c", "c1", "/state/task.yaml"}, func(t *Timeouts) *time.Duration { return &t.Launch }},
	{"launch detached with autostop", func(ctx context.Context, r *Runner, f ports.LineFunc) (ports.RunResult, error) {
		spec := ports.LaunchSpec{YAMLPath: "/state/task.yaml", ClusterName: "c1", DetachRun: true, IdleMinutesToAutostop: 30}
		return r.Launch(ctx, spec, f)
	}, []string{"launch", "-y", "-c", "c1", "-d", "-i", "30", "/state/task.yaml"}, func(t *Timeouts) *time.Duration { return &t.Launch }},
	{"stop", func(ctx context.Context, r *Runner, f ports.LineFunc) (ports.RunResult, error) {
		return r.Stop(ctx, "c1", f)
	}, []string{"stop", "-y", "c1"}, func(t *Timeouts) *time.Duration { return &t.Stop }},
	{"start", func(ctx context.Context, r *Runner, f ports.LineFunc) (ports.RunResult, error) {
		return r.Start(ctx, "c1", f)
	}, []string{"start", "-y", "c1"}, func(t *Timeouts) *time.Duration { return &t.Start }},
	{"down", func(ctx context.Context, r *Runner, f ports.LineFunc) (ports.RunResult, error) {
		return r.Down(ctx, "c1", f)
	}, []string{"down", "-y", "c1"}, func(t *Timeouts) *time.Duration { return &t.Down }},
	{"status", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Status(ctx, "c1", ports.StatusOptions{})
	}, []string{"status", "c1"}, func(t *Timeouts) *time.Duration { return &t.Status }},
	{"status refresh json", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Status(ctx, "c1", ports.StatusOptions{Refresh: true, JSON: true})
	}, []string{"status", "--refresh", "-o", "json", "c1"}, func(t *Timeouts) *time.Duration { return &t.Status }},
	{"status json", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Status(ctx, "c1", ports.StatusOptions{JSON: true})
	}, []string{"status", "-o", "json", "c1"}, func(t *Timeouts) *time.Duration { return &t.Status }},
	{"ip", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.IP(ctx, "c1")
	}, []string{"status", "--ip", "c1"}, func(t *Timeouts) *time.Duration { return &t.IP }},
	{"check", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Check(ctx, false)
	}, []string{"check"}, func(t *Timeouts) *time.Duration { return &t.Check }},
	{"check json", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Check(ctx, true)
	}, []string{"check", "-o", "json"}, func(t *Timeouts) *time.Duration { return &t.Check }},
	{"version", func(ctx context.Context, r *Runner, _ ports.LineFunc) (ports.RunResult, error) {
		return r.Version(ctx)
	}, []string{"--version"}, func(t *Timeouts) *time.Duration { return &t.Version }},
}

func TestMethodsRunExactArgv(t *testing.T) {
	r := newTestRunner(Config{})
	for _, tc := range methodCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, _ := testContext(t, time.Minute)
			var rec lineRecorder
			res, err := tc.call(ctx, r, rec.onLine)
			if err != nil {
				t.Fatal(err)
			}
			var argv []string
			if err := json.Unmarshal([]byte(res.Stdout), &argv); err != nil {
				t.Fatalf("stdout %q: %v", res.Stdout, err)
			}
			if !reflect.DeepEqual(argv, tc.argv) {
				t.Errorf("argv %q, want %q", argv, tc.argv)
			}
			if res.ExitCode != 0 || res.Stderr != "" {
				t.Errorf("exit code %d, stderr %q", res.ExitCode, res.Stderr)
			}
		})
	}
}

func TestStreamingMethodsPassLinesToOnLine(t *testing.T) {
	r := newTestRunner(Config{})
	ctx, _ := testContext(t, time.Minute)
	var rec lineRecorder
	if _, err := r.Stop(ctx, "c1", rec.onLine); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.recorded(t), []string{`["stop","-y","c1"]`}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestEachMethodHasItsOwnTimeout(t *testing.T) {
	const short = 100 * time.Millisecond
	env := append(os.Environ(), "FAKECHILD_HANG=1")
	for _, tc := range methodCases {
		t.Run(tc.name, func(t *testing.T) {
			timeouts := Timeouts{
				Status: time.Hour, IP: time.Hour, Check: time.Hour, Version: time.Hour,
				Stop: time.Hour, Start: time.Hour, Down: time.Hour, Launch: time.Hour,
			}
			*tc.timeout(&timeouts) = short
			r := newTestRunner(Config{Env: env, Timeouts: timeouts})
			ctx, _ := testContext(t, 20*time.Second)
			_, err := tc.call(ctx, r, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want a deadline exceeded", err)
			}
			if !strings.Contains(err.Error(), "timed out after "+short.String()) {
				t.Errorf("error %q does not name the timeout", err)
			}
		})
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
			_, err := newTestRunner(cfg).Version(ctx)
			if !errors.Is(err, ports.ErrSkyNotFound) {
				t.Fatalf("error %v, want ErrSkyNotFound", err)
			}
			if !strings.Contains(err.Error(), cfg.Bin) {
				t.Errorf("error %q does not name %q", err, cfg.Bin)
			}
		})
	}
}

func TestBinaryInstalledLaterIsFound(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	binDir := t.TempDir()
	r := newTestRunner(Config{Bin: "sky", Env: []string{"PATH=/nonexistent:" + binDir}})
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
	res, err := r.Version(ctx)
	if err != nil {
		t.Fatalf("after installing: %v", err)
	}
	if res.Stdout != "[\"--version\"]\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}

func TestEnvIsTheChildsWholeEnvironment(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	t.Setenv("SKYEXEC_TEST_PARENT", "from-parent")
	steps := script("env:HOME", "env:AWS_PROFILE", "env:SKYEXEC_TEST_PARENT")

	r := newTestRunner(Config{Env: []string{"HOME=/home/sky", "AWS_PROFILE=skygate"}})
	res, err := r.run(ctx, time.Minute, steps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "HOME=/home/sky\nAWS_PROFILE=skygate\nSKYEXEC_TEST_PARENT=\n"; res.Stdout != want {
		t.Errorf("with Env: stdout %q, want %q", res.Stdout, want)
	}

	res, err = newTestRunner(Config{}).run(ctx, time.Minute, script("env:SKYEXEC_TEST_PARENT"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SKYEXEC_TEST_PARENT=from-parent\n"; res.Stdout != want {
		t.Errorf("with nil Env: stdout %q, want %q", res.Stdout, want)
	}
}
