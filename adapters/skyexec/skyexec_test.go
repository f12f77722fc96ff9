package skyexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/ports"
)

// fakeSky is the path of testdata/fakechild, built as "sky" in a temporary directory;
// stubSky is the stub sky CLI of test/stubsky.
var fakeSky, stubSky string

func TestMain(m *testing.M) {
	// The test binary is also the supervisor of the runs the tests start.
	if len(os.Args) > 2 && os.Args[1] == "supervise" {
		os.Exit(Supervise(os.Args[2:]))
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
	fakeSky = filepath.Join(dir, "sky")
	stubSky = filepath.Join(dir, "stub", "sky")
	for out, pkg := range map[string]string{fakeSky: "./testdata/fakechild", stubSky: "../../test/stubsky"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, msg)
			return 1
		}
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
	if _, err := r.Version(ctx); err != nil {
		t.Fatalf("after installing: %v", err)
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
