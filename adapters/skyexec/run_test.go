package skyexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
)

func TestLinesArriveWhileTheChildRuns(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	proceed := filepath.Join(t.TempDir(), "proceed")
	// The child prints "second" only once onLine has seen "first": without streaming it
	// would wait until the safety net cancels it.
	rec := lineRecorder{then: func(line string) {
		if line == "first" {
			if err := os.WriteFile(proceed, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
	}}
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("out:first\n", "waitfile:"+proceed, "out:second\n"), rec.onLine)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.recorded(t), []string{"first", "second"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if res.Stdout != "first\nsecond\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}

func TestLinesAreCleanedAndOutputKeptRaw(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	steps := []string{
		"out:⠋ Launching\r⠙ Launching\r\x1b[32m✓ Cluster launched: c1.\x1b[0m\r\n",
		"out:\n   \n\t\r\n",
		"out:Job submitted\nJob submitted\n",
		"out:  part", "sleep:20ms", "out:ial line  \n",
		"err:sky.exceptions.ResourcesUnavailableError: no capacity\r\n",
		"out:last line without a break",
	}
	var rec lineRecorder
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script(steps...), rec.onLine)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.recorded(t)
	var stdoutLines []string
	for _, line := range got {
		if !strings.HasPrefix(line, "sky.exceptions") {
			stdoutLines = append(stdoutLines, line)
		}
	}
	wantStdout := []string{
		"⠋ Launching", "✓ Cluster launched: c1.", "Job submitted", "partial line", // one line per spinner message
		"last line without a break",
	}
	if !reflect.DeepEqual(stdoutLines, wantStdout) {
		t.Errorf("stdout lines %q, want %q", stdoutLines, wantStdout)
	}
	if len(got) != len(wantStdout)+1 {
		t.Errorf("lines %q: want the stderr line once", got)
	}
	var rawStdout string
	for _, step := range steps {
		if text, ok := strings.CutPrefix(step, "out:"); ok {
			rawStdout += text
		}
	}
	if res.Stdout != rawStdout {
		t.Errorf("stdout %q, want the raw %q", res.Stdout, rawStdout)
	}
	if want := "sky.exceptions.ResourcesUnavailableError: no capacity\r\n"; res.Stderr != want {
		t.Errorf("stderr %q, want %q", res.Stderr, want)
	}
}

func TestEachStreamKeepsItsOrder(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	const n = 200
	var steps, wantOut, wantErr []string
	for i := range n {
		steps = append(steps, fmt.Sprintf("out:out %d\n", i), fmt.Sprintf("err:err %d\n", i))
		wantOut = append(wantOut, fmt.Sprintf("out %d", i))
		wantErr = append(wantErr, fmt.Sprintf("err %d", i))
	}
	// Each stream has its own cleaner: a line is a repeat only of its own stream's last.
	steps = append(steps, "out:same\n", "err:same\n")
	var rec lineRecorder
	if _, err := newTestRunner(Config{}).run(ctx, time.Minute, script(steps...), rec.onLine); err != nil {
		t.Fatal(err)
	}
	var gotOut, gotErr []string
	same := 0
	for _, line := range rec.recorded(t) {
		switch {
		case strings.HasPrefix(line, "out "):
			gotOut = append(gotOut, line)
		case strings.HasPrefix(line, "err "):
			gotErr = append(gotErr, line)
		case line == "same":
			same++
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if !reflect.DeepEqual(gotOut, wantOut) || !reflect.DeepEqual(gotErr, wantErr) {
		t.Errorf("stdout lines %q\nstderr lines %q", gotOut, gotErr)
	}
	if same != 2 {
		t.Errorf("line %q seen %d times, want once per stream", "same", same)
	}
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

func TestHugeOutputOnBothStreamsIsBounded(t *testing.T) {
	ctx, _ := testContext(t, 2*time.Minute)
	const size = 20 << 20
	// All of stderr comes before any stdout: the reader must not block on stdout meanwhile.
	lines := map[string]int{}
	onLine := func(line string) { lines[line[:1]]++ }
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("spam:err:"+strconv.Itoa(size), "spam:out:"+strconv.Itoa(size)), onLine)
	if err != nil {
		t.Fatal(err)
	}
	want := spamText(size)
	want = want[len(want)-maxOutputBytes:]
	if res.Stdout != want || res.Stderr != want {
		t.Errorf("stdout has %d bytes, stderr %d: want each to be the last %d bytes written", len(res.Stdout), len(res.Stderr), maxOutputBytes)
	}
	// Every spam line starts with "0" (its number) and is distinct.
	if lines["0"] != 2*(size/100) || len(lines) != 1 {
		t.Errorf("lines by first byte %v, want %d", lines, 2*(size/100))
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

func TestMemoryStaysBoundedWhateverTheOutput(t *testing.T) {
	ctx, _ := testContext(t, 2*time.Minute)
	const size = 20 << 20
	r := newTestRunner(Config{})

	var res runResult
	var err error
	allocated := allocatedBy(func() {
		res, err = r.run(ctx, time.Minute, script("spam:out:"+strconv.Itoa(size), "spam:err:"+strconv.Itoa(size)), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keeping all the output would allocate at least its size.
	t.Logf("allocated %d KB", allocated>>10)
	if allocated > size/2 {
		t.Errorf("%d MB allocated for %d MB of output", allocated>>20, 2*size>>20)
	}
	if len(res.Stdout) != maxOutputBytes || len(res.Stderr) != maxOutputBytes {
		t.Errorf("kept %d bytes of stdout, %d of stderr", len(res.Stdout), len(res.Stderr))
	}

	var lines []string
	allocated = allocatedBy(func() {
		res, err = r.run(ctx, time.Minute, script("longline:"+strconv.Itoa(size)), func(line string) {
			lines = append(lines, line)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocated %d KB", allocated>>10)
	if allocated > size/2 {
		t.Errorf("%d MB allocated for a line of %d MB", allocated>>20, size>>20)
	}
	if len(lines) != 1 || lines[0] != strings.Repeat("y", core.MaxLineBytes) {
		t.Errorf("want one line of %d bytes, got %d lines", core.MaxLineBytes, len(lines))
	}
	if want := strings.Repeat("y", maxOutputBytes-1) + "\n"; res.Stdout != want {
		t.Errorf("stdout does not end with the long line (%d bytes)", len(res.Stdout))
	}
}

func TestExitCodesComeWithoutError(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(Config{})
	for steps, want := range map[string]int{
		"exit:0":   0,
		"exit:1":   1,
		"exit:100": 100,
		"killself": 128 + 15,
	} {
		res, err := r.run(ctx, time.Minute, script("out:working\n", steps), nil)
		if err != nil {
			t.Errorf("%s: %v", steps, err)
			continue
		}
		if res.ExitCode != want || res.Stdout != "working\n" {
			t.Errorf("%s: exit code %d, stdout %q; want %d", steps, res.ExitCode, res.Stdout, want)
		}
	}
}

func TestCancelSendsTermToTheChild(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, cancel := testContext(t, time.Minute)
	rec := lineRecorder{then: func(line string) {
		if line == "ready" {
			cancel()
		}
	}}
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("out:ready\n", "hang"), rec.onLine)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res.ExitCode != 128+15 || res.Stdout != "ready\n" {
		t.Errorf("exit code %d, stdout %q; want death by SIGTERM after ready", res.ExitCode, res.Stdout)
	}
}

func TestCancelKillsAChildThatIgnoresTerm(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, cancel := testContext(t, time.Minute)
	var cancelled time.Time
	rec := lineRecorder{then: func(line string) {
		if line == "ready" {
			cancelled = time.Now()
			cancel()
		}
	}}
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("ignoreterm", "out:ready\n", "hang"), rec.onLine)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res.ExitCode != 128+9 {
		t.Errorf("exit code %d, want death by SIGKILL", res.ExitCode)
	}
	if waited := time.Since(cancelled); waited < testGrace {
		t.Errorf("killed %s after cancel, before the %s grace period", waited, testGrace)
	}
}

func TestTimeoutEndsAHangingChild(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, _ := testContext(t, time.Minute)
	_, err := newTestRunner(Config{}).run(ctx, 300*time.Millisecond, script("hang"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the safety net ended the run, not the timeout")
	}
}

func TestCancelledContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("exit:3"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res != (runResult{}) {
		t.Errorf("result %+v: a child ran", res)
	}
}

// pidAfter returns N when line is prefix + N.
func pidAfter(line, prefix string) (int, bool) {
	n, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(n)
	return pid, err == nil
}

func TestCancelEndsTheWholeProcessGroup(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, cancel := testContext(t, time.Minute)
	var pid, grandchild int
	var grandchildReady, aliveAtCancel bool
	onLine := func(line string) {
		if n, ok := pidAfter(line, "pid "); ok {
			pid = n
		}
		if n, ok := pidAfter(line, "grandchild "); ok {
			grandchild = n
		}
		grandchildReady = grandchildReady || line == "grandchild ready"
		// Cancel once the grandchild ignores SIGTERM and both processes are known.
		if pid != 0 && grandchild != 0 && grandchildReady && ctx.Err() == nil {
			aliveAtCancel = !processGone(pid) && !processGone(grandchild)
			cancel()
		}
	}
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("pid", "grandchild", "hang"), onLine)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if !aliveAtCancel {
		t.Fatalf("the child and grandchild were not both running when cancelled; stdout %q", res.Stdout)
	}
	waitGone(t, pid)
	waitGone(t, grandchild)
}

func TestGrandchildHoldingThePipesDoesNotHangTheRun(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, _ := testContext(t, time.Minute)
	res, err := newTestRunner(Config{}).run(ctx, time.Minute, script("grandchild", "out:done\n", "exit:0"), nil)
	var grandchild int
	for _, line := range strings.Split(res.Stdout, "\n") {
		if n, ok := pidAfter(line, "grandchild "); ok {
			grandchild = n
		}
	}
	if grandchild != 0 {
		t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "done\n") {
		t.Errorf("exit code %d, stdout %q", res.ExitCode, res.Stdout)
	}
	if grandchild == 0 || processGone(grandchild) {
		t.Errorf("the grandchild was not holding the pipes; stdout %q", res.Stdout)
	}
}
