package skyexec

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// childModeEnv makes the test binary run runChild instead of the tests.
const childModeEnv = "SKYEXEC_TEST_CHILD"

// runChild starts a run as a skygate would, prints the offset of its first line and
// exits at once, leaving the run to its supervisor.
func runChild() int {
	r := New(Config{
		Bin: os.Getenv("SKYEXEC_TEST_SKY"), OpsDir: os.Getenv("SKYEXEC_TEST_OPS"),
		SupervisorPath: os.Getenv("SKYEXEC_TEST_SUPERVISOR"), PollInterval: 10 * time.Millisecond,
	})
	steps := script("out:one\n", "waitfile:"+os.Getenv("SKYEXEC_TEST_PROCEED"), "out:two\n", "sleep:50ms",
		"err:sky.exceptions.ResourcesUnavailableError: no capacity\n", "sleep:50ms", "out:three\n", "exit:1")
	_, err := r.startRun(context.Background(), "c1.1", steps, time.Minute, func(l ports.Line) {
		fmt.Println(l.Offset)
		os.Exit(0)
	})
	fmt.Fprintln(os.Stderr, "the run ended before its first line:", err)
	return 1
}

func TestSupervisorSurvivesItsParent(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	ops := filepath.Join(t.TempDir(), "ops")
	proceed := filepath.Join(t.TempDir(), "proceed")
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), childModeEnv+"=1", "SKYEXEC_TEST_SKY="+fakeSky, "SKYEXEC_TEST_OPS="+ops,
		"SKYEXEC_TEST_SUPERVISOR="+supervisorBin, "SKYEXEC_TEST_PROCEED="+proceed)
	out, err := child.Output()
	if err != nil {
		t.Fatalf("the child: %v\n%s", err, out)
	}
	offset, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || offset != int64(len("one\n")) {
		t.Fatalf("the child printed %q, want the offset after the first line", out)
	}
	// The child is gone; its supervisor is not.
	id, ok := readIdentity(filepath.Join(ops, "c1.1"))
	if !ok || !id.supervisorLive() || !id.skyLive() {
		t.Fatalf("identity %+v (recorded %v): want a live supervisor and sky after their starter exited", id, ok)
	}

	// A new Runner, as a restarted skygate, attaches and gets the rest, once.
	r := newTestRunner(t, Config{OpsDir: ops})
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var rec lineRecorder
	outcome, err := r.Attach(ctx, "c1.1", offset, rec.onLine)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.texts(t), []string{"two", "sky.exceptions.ResourcesUnavailableError: no capacity", "three"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if want := (ports.RunOutcome{Failed: true, Message: "no capacity"}); outcome != want {
		t.Errorf("outcome %+v, want %+v", outcome, want)
	}
	waitGone(t, id.PID)
	waitGone(t, id.SkyPID)
}

func TestProcessIdentity(t *testing.T) {
	start, ok := processStart(os.Getpid())
	if !ok || !processLive(os.Getpid(), start) {
		t.Fatalf("this process: start %d, %v", start, ok)
	}
	// The same pid with another start time is another process: a reused pid.
	if processLive(os.Getpid(), start+1) || processLive(os.Getpid(), start-1) {
		t.Error("a pid with another start time counts as the same process")
	}
	// A child that has exited but is not reaped yet (a zombie) is not live.
	cmd := exec.Command(fakeSky, "script", "exit:0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childStart, ok := processStart(cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ok && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		_, ok = processStart(cmd.Process.Pid)
	}
	if ok {
		t.Error("an exited child still counts as live")
	}
	_ = cmd.Wait()
	if processLive(cmd.Process.Pid, childStart) {
		t.Error("a reaped child counts as live")
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if _, ok := processStart(pid); ok {
			t.Errorf("pid %d has a start time", pid)
		}
	}
}

// logLines reads the log of a run as lines with offsets, independently of logTail.
func logLines(t *testing.T, log []byte) []ports.Line {
	t.Helper()
	var c core.LineCleaner
	var lines []ports.Line
	start := 0
	for i, b := range log {
		if b == '\n' || b == '\r' {
			if text, ok := c.Clean(string(log[start:i])); ok {
				lines = append(lines, ports.Line{Text: text, Offset: int64(i + 1)})
			}
			start = i + 1
		}
	}
	if text, ok := c.Clean(string(log[start:])); ok {
		lines = append(lines, ports.Line{Text: text, Offset: int64(len(log))})
	}
	return lines
}

func readLog(t *testing.T, r *Runner, key ports.OperationKey) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.opsDir, string(key), outputFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLinesCarryExactOffsets(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	stdout := []string{
		"⠋ Launching\r⠙ Launching\r\x1b[32m✓ Cluster launched: c1.\x1b[0m\r\n",
		"\n   \n\t\r\n",
		"Job submitted\nJob submitted\n",
		"  part", "ial line  \n",
		"last line without a break",
	}
	steps := []string{"out:" + stdout[0], "out:" + stdout[1], "out:" + stdout[2], "out:" + stdout[3], "sleep:50ms", "out:" + stdout[4],
		"err:sky.exceptions.ResourcesUnavailableError: no capacity\r\n", "sleep:50ms", "out:" + stdout[5]}
	var rec lineRecorder
	outcome, err := r.startRun(ctx, "c1.1", script(steps...), time.Minute, rec.onLine)
	if err != nil {
		t.Fatal(err)
	}
	if outcome.Failed || outcome.Message != "no capacity" {
		t.Errorf("outcome %+v: want success (exit 0) with the exception as its message", outcome)
	}
	log := readLog(t, r, "c1.1")
	// Each stream's lines stay whole in the log: without the stderr line, it is stdout.
	errLine := "sky.exceptions.ResourcesUnavailableError: no capacity\r\n"
	if got := strings.Replace(string(log), errLine, "", 1); got != strings.Join(stdout, "") {
		t.Errorf("log without the stderr line %q\nwant stdout %q", got, strings.Join(stdout, ""))
	}
	lines := rec.recorded(t)
	if want := logLines(t, log); !slices.Equal(lines, want) {
		t.Errorf("lines %v\nwant  %v", lines, want)
	}
	texts := rec.texts(t)
	for _, want := range []string{"⠋ Launching", "✓ Cluster launched: c1.", "Job submitted", "partial line", "last line without a break"} {
		if !slices.Contains(texts, want) {
			t.Errorf("no line %q in %q", want, texts)
		}
	}
	if n := len(lines); n == 0 || lines[n-1].Offset != int64(len(log)) {
		t.Errorf("the last line ends at %v, the log at %d", lines[len(lines)-1], len(log))
	}
	// From every offset a line carried (and from 0), Attach gives exactly the rest.
	for i := -1; i < len(lines); i++ {
		offset := int64(0)
		if i >= 0 {
			offset = lines[i].Offset
		}
		var again lineRecorder
		out, err := r.Attach(ctx, "c1.1", offset, again.onLine)
		if err != nil || out != outcome {
			t.Fatalf("attach from %d: %+v, %v", offset, out, err)
		}
		if got := again.recorded(t); !slices.Equal(got, lines[i+1:]) {
			t.Errorf("attach from %d: %v\nwant %v", offset, got, lines[i+1:])
		}
	}
}

func TestLogTailHoldsBackAPartialLine(t *testing.T) {
	log := []byte("first\n⠋ spin\r⠙ spin\rsecond line\r\nsame\nsame\n\x1b[1mpart")
	whole := logLines(t, log)
	// However the log grows, byte by byte or in any two pieces, the lines are the same,
	// and none is emitted before its terminator (or the end of the run).
	for cut := 0; cut <= len(log); cut++ {
		path := filepath.Join(t.TempDir(), "output")
		if err := os.WriteFile(path, log[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []ports.Line
		tail := newLogTail(0, func(l ports.Line) { got = append(got, l) }, nil)
		if _, err := tail.readAll(f); err != nil {
			t.Fatal(err)
		}
		for _, l := range got {
			if l.Offset > int64(cut) || (log[l.Offset-1] != '\n' && log[l.Offset-1] != '\r') {
				t.Fatalf("cut %d: line %q emitted at %d before its terminator", cut, l.Text, l.Offset)
			}
		}
		if err := os.WriteFile(path, log, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := tail.readAll(f); err != nil {
			t.Fatal(err)
		}
		tail.finish()
		f.Close()
		if !slices.Equal(got, whole) {
			t.Fatalf("cut %d: %v\nwant %v", cut, got, whole)
		}
	}
	if last := whole[len(whole)-1]; last.Text != "part" || last.Offset != int64(len(log)) {
		t.Errorf("the unfinished last line is %+v", last)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
		want  ports.RunOutcome
	}{
		{"success", []string{"out:Stopping cluster c1...done.\n", "exit:0"}, ports.RunOutcome{}},
		{"a failure sky reports with exit 0", []string{"out:Cluster(s) not found (tip: see `sky status`).\n", "exit:0"},
			ports.RunOutcome{Message: "Cluster(s) not found."}},
		{"an exception", []string{"out:⚙︎ Launching on AWS us-east-1.\n", "err:sky.exceptions.NoCloudAccessError: Cloud access is not set up. Run: sky check\n", "exit:1"},
			ports.RunOutcome{Failed: true, Message: "Cloud access is not set up. Run: sky check"}},
		{"a failed job", []string{"out:ERROR: Job 1 failed with return code list: [1]\n", "exit:100"},
			ports.RunOutcome{Failed: true, Message: "Job 1 failed with return code list: [1]"}},
		{"a failure that says nothing", []string{"exit:3"}, ports.RunOutcome{Failed: true}},
		// What sky printed last is not why it ended: an out of memory kill prints nothing.
		{"a signal", []string{"out:working\n", "killself"}, ports.RunOutcome{Failed: true, Message: "sky script was killed by signal 15 (terminated)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _ := testContext(t, time.Minute)
			r := newTestRunner(t, Config{})
			got, err := r.startRun(ctx, "c1.1", script(tt.steps...), time.Minute, nil)
			if err != nil || got != tt.want {
				t.Errorf("outcome %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// pidsOf waits for the lines "pid N" and "grandchild N" and returns their numbers.
func pidsOf(ctx context.Context, t *testing.T, lines <-chan ports.Line) (pid, grandchild int) {
	t.Helper()
	for pid == 0 || grandchild == 0 {
		select {
		case l := <-lines:
			if n, ok := strings.CutPrefix(l.Text, "pid "); ok {
				pid, _ = strconv.Atoi(n)
			}
			if n, ok := strings.CutPrefix(l.Text, "grandchild "); ok && n != "ready" {
				grandchild, _ = strconv.Atoi(n)
			}
		case <-ctx.Done():
			t.Fatal("no pids printed")
		}
	}
	return pid, grandchild
}

// startInBackground starts steps as run key and returns its lines and its end.
func startInBackground(ctx context.Context, r *Runner, key ports.OperationKey, timeout time.Duration, steps ...string) (<-chan ports.Line, <-chan runEnd) {
	lines := make(chan ports.Line, 1000)
	end := make(chan runEnd, 1)
	go func() {
		out, err := r.startRun(ctx, key, script(steps...), timeout, func(l ports.Line) { lines <- l })
		end <- runEnd{out, err}
	}()
	return lines, end
}

type runEnd struct {
	out ports.RunOutcome
	err error
}

func TestCancelEndsTheWholeProcessGroup(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	// The grandchild ignores SIGTERM: it goes only with the SIGKILL after the grace.
	lines, end := startInBackground(ctx, r, "c1.1", time.Minute, "pid", "grandchild", "hang")
	pid, grandchild := pidsOf(ctx, t, lines)
	cancelled := time.Now()
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Fatal(err)
	}
	// Once Cancel returns, nothing of the run is left.
	if !processGone(pid) || !processGone(grandchild) {
		t.Errorf("after Cancel: sky gone %v, its grandchild gone %v", processGone(pid), processGone(grandchild))
	}
	if waited := time.Since(cancelled); waited < testGrace {
		t.Errorf("Cancel returned after %s, before the grace period for the grandchild", waited)
	}
	res := <-end
	if res.err != nil || !res.out.Failed {
		t.Errorf("a cancelled run ended with %+v, %v", res.out, res.err)
	}
	rec, _, _ := readExit(filepath.Join(r.opsDir, "c1.1"))
	if !rec.Cancelled || rec.Signal != int(syscall.SIGTERM) {
		t.Errorf("exit record %+v: want a cancel, sky ended by SIGTERM", rec)
	}
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Errorf("cancel of an ended run: %v", err)
	}
}

func TestCancelKillsASkyThatIgnoresTerm(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	lines, end := startInBackground(ctx, r, "c1.1", time.Minute, "ignoreterm", "out:ready\n", "hang")
	<-lines
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Fatal(err)
	}
	res := <-end
	rec, _, _ := readExit(filepath.Join(r.opsDir, "c1.1"))
	if !res.out.Failed || rec.Signal != int(syscall.SIGKILL) {
		t.Errorf("outcome %+v, exit record %+v: want sky killed", res.out, rec)
	}
}

func TestTimeoutEndsTheRun(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	// A failover prints the error of the region it leaves, then goes on: the run ends
	// because of the timeout, not that error.
	lines, end := startInBackground(ctx, r, "c1.1", 500*time.Millisecond, "pid", "grandchild",
		"out:sky.exceptions.ResourcesUnavailableError: Failed to acquire resources in all zones in eastus\n", "out:waiting\n", "hang")
	pid, grandchild := pidsOf(ctx, t, lines)
	res := <-end
	if res.err != nil || !res.out.Failed || res.out.Message != "sky script timed out after 500ms" {
		t.Errorf("outcome %+v, %v; want a failure naming the timeout", res.out, res.err)
	}
	if !processGone(pid) || !processGone(grandchild) {
		t.Errorf("after the timeout: sky gone %v, its grandchild gone %v", processGone(pid), processGone(grandchild))
	}
}

func TestAStoppedFollowerLeavesTheRunGoing(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	proceed := filepath.Join(t.TempDir(), "proceed")
	following, stop := context.WithCancel(ctx)
	var first lineRecorder
	first.then = func(ports.Line) { stop() }
	_, err := r.startRun(following, "c1.1", script("pid", "waitfile:"+proceed, "out:after\n"), time.Minute, first.onLine)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a follower whose context ends: %v, want context.Canceled", err)
	}
	id, _ := readIdentity(filepath.Join(r.opsDir, "c1.1"))
	if !id.supervisorLive() || !id.skyLive() {
		t.Fatalf("the run stopped with its follower: %+v", id)
	}
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var rest lineRecorder
	out, err := r.Attach(ctx, "c1.1", first.recorded(t)[0].Offset, rest.onLine)
	if err != nil || out.Failed || !reflect.DeepEqual(rest.texts(t), []string{"after"}) {
		t.Errorf("attach: %+v, %v, lines %q", out, err, rest.texts(t))
	}
}

func TestLargeOutputOnBothStreamsDoesNotBlock(t *testing.T) {
	ctx, _ := testContext(t, 2*time.Minute)
	r := newTestRunner(t, Config{})
	const size = 8 << 20
	// All of stderr comes before any stdout: the supervisor must read both at once.
	count := 0
	out, err := r.startRun(ctx, "c1.1", script("spam:err:"+strconv.Itoa(size), "spam:out:"+strconv.Itoa(size)), time.Minute,
		func(ports.Line) { count++ })
	if err != nil || out.Failed {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if log, want := readLog(t, r, "c1.1"), 2*len(spamText(size)); len(log) != want {
		t.Errorf("log of %d bytes, want %d", len(log), want)
	}
	if count != 2*(size/100) {
		t.Errorf("%d lines, want %d", count, 2*(size/100))
	}
}

func TestLogIsBounded(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{MaxLogBytes: 1000})
	var rec lineRecorder
	out, err := r.startRun(ctx, "c1.1", script("spam:out:100000", "err:sky.exceptions.ResourcesUnavailableError: the end\n", "exit:1"), time.Minute, rec.onLine)
	if err != nil || !out.Failed || out.Message != "the end" {
		t.Errorf("outcome %+v, %v; want the message from past the cap", out, err)
	}
	if log := readLog(t, r, "c1.1"); len(log) > 1100 {
		t.Errorf("log of %d bytes, over its 1000", len(log))
	}
	texts := rec.texts(t)
	if len(texts) == 0 || texts[len(texts)-1] != "skygate: the output beyond 1000 bytes is not kept" {
		t.Errorf("lines %q: want the last to say the rest is not kept", texts)
	}
}

func TestStartRunsExactArgv(t *testing.T) {
	yaml := filepath.Join(t.TempDir(), "task.yaml")
	tests := []struct {
		op   ports.Operation
		argv []string
	}{
		{ports.Operation{Action: core.ActionLaunch, Cluster: "c1", Launch: ports.LaunchSpec{YAMLPath: yaml}},
			[]string{"launch", "-y", "-c", "c1", yaml}},
		{ports.Operation{Action: core.ActionLaunch, Cluster: "c1", Launch: ports.LaunchSpec{YAMLPath: yaml, DetachRun: true, IdleMinutesToAutostop: 30}},
			[]string{"launch", "-y", "-c", "c1", "-d", "-i", "30", yaml}},
		{ports.Operation{Action: core.ActionStop, Cluster: "c1"}, []string{"stop", "-y", "c1"}},
		{ports.Operation{Action: core.ActionStart, Cluster: "c1"}, []string{"start", "-y", "c1"}},
		{ports.Operation{Action: core.ActionDestroy, Cluster: "c1"}, []string{"down", "-y", "c1"}},
	}
	r := newTestRunner(t, Config{})
	for i, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			ctx, _ := testContext(t, time.Minute)
			tt.op.Key = ports.OperationKey("c1." + strconv.Itoa(i+1))
			var rec lineRecorder
			if out, err := r.Start(ctx, tt.op, rec.onLine); err != nil || out.Failed {
				t.Fatalf("%+v, %v", out, err)
			}
			var argv []string
			texts := rec.texts(t)
			if len(texts) != 1 || json.Unmarshal([]byte(texts[0]), &argv) != nil || !reflect.DeepEqual(argv, tt.argv) {
				t.Errorf("sky ran with %q, want %q", texts, tt.argv)
			}
		})
	}
}

func TestStartRefusals(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	stop := ports.Operation{Key: "c1.1", Action: core.ActionStop, Cluster: "c1"}
	if out, err := r.Start(ctx, stop, nil); err != nil || out.Failed {
		t.Fatalf("first start: %+v, %v", out, err)
	}
	refusals := map[string]struct {
		r    *Runner
		op   ports.Operation
		kind core.ErrorKind
	}{
		"a key that has a run":  {r, stop, core.KindConflict},
		"a key that is no name": {r, ports.Operation{Key: "../c1.2", Action: core.ActionStop, Cluster: "c1"}, core.KindInvalid},
		"a bad cluster name":    {r, ports.Operation{Key: "c1.2", Action: core.ActionStop, Cluster: "-a"}, core.KindInvalid},
		"an unknown action":     {r, ports.Operation{Key: "c1.2", Action: "reboot", Cluster: "c1"}, core.KindInvalid},
		"a launch without task": {r, ports.Operation{Key: "c1.2", Action: core.ActionLaunch, Cluster: "c1"}, core.KindInvalid},
		"no ops dir":            {New(Config{Bin: fakeSky, SupervisorPath: supervisorBin}), ports.Operation{Key: "c1.2", Action: core.ActionStop, Cluster: "c1"}, core.KindUpstream},
		"no supervisor": {newTestRunner(t, Config{SupervisorPath: filepath.Join(t.TempDir(), "nothing")}),
			ports.Operation{Key: "c1.2", Action: core.ActionStop, Cluster: "c1"}, core.KindUpstream},
	}
	for name, tc := range refusals {
		if _, err := tc.r.Start(ctx, tc.op, nil); !isKind(err, tc.kind) {
			t.Errorf("%s: %v, want a %s error", name, err, tc.kind)
		}
		if tc.r.opsDir != "" {
			if _, err := os.Stat(filepath.Join(tc.r.opsDir, "c1.2")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left a run behind", name)
			}
		}
	}
	// A supervisor that never gets ready (here: a binary that is none) is given up.
	silent := newTestRunner(t, Config{SupervisorPath: fakeSky, Env: append(os.Environ(), "FAKECHILD_HANG=1")})
	silent.supervisorStart = 200 * time.Millisecond
	if _, err := silent.Start(ctx, ports.Operation{Key: "c1.2", Action: core.ActionStop, Cluster: "c1"}, nil); !isKind(err, core.KindUpstream) ||
		!strings.Contains(err.Error(), "did not get ready") {
		t.Errorf("a supervisor that never gets ready: %v", err)
	}
	if _, err := os.Stat(filepath.Join(silent.opsDir, "c1.2")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a supervisor that never got ready left a run behind")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Start(cancelled, ports.Operation{Key: "c1.2", Action: core.ActionStop, Cluster: "c1"}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("start with an ended context: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.opsDir, "c1.2")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a start with an ended context left a run behind")
	}
}

// handshake runs the test supervisor on dir as Start would, but with the go-ahead in the
// test's hands. It returns the supervisor, the write end of its go-ahead pipe, and its
// first answer.
func handshake(t *testing.T, dir string, env ...string) (*exec.Cmd, *os.File, string) {
	t.Helper()
	cmd, goW, readyR := startSupervisor(t, dir, env...)
	answer, _ := bufio.NewReader(readyR).ReadString('\n')
	readyR.Close()
	return cmd, goW, answer
}

// startSupervisor starts the test supervisor on dir in its own session and returns it
// with the test's ends of its handshake pipes.
func startSupervisor(t *testing.T, dir string, env ...string) (cmd *exec.Cmd, goW, readyR *os.File) {
	t.Helper()
	goR, goW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(supervisorBin, "supervise", dir)
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = []*os.File{goR, readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	goR.Close()
	readyW.Close()
	return cmd, goW, readyR
}

func newRunDir(t *testing.T, r *Runner, key string, argv ...string) string {
	t.Helper()
	dir := filepath.Join(r.opsDir, key)
	spec := runSpec{Key: key, Argv: append([]string{fakeSky}, argv...), Timeout: time.Minute, KillGrace: testGrace, Created: time.Now()}
	if err := r.createRun(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSupervisorRunsNothingWithoutTheGoAhead(t *testing.T) {
	for _, dies := range []string{"after the supervisor was ready", "before it heard from the supervisor"} {
		t.Run("Start gives up "+dies, func(t *testing.T) {
			r := newTestRunner(t, Config{})
			skyLog := filepath.Join(t.TempDir(), "argv.log")
			dir := newRunDir(t, r, "c1.1", "stop", "-y", "c1")
			var cmd *exec.Cmd
			if dies == "after the supervisor was ready" {
				var goW *os.File
				var answer string
				cmd, goW, answer = handshake(t, dir, "FAKECHILD_LOG="+skyLog)
				if answer != "ok\n" {
					t.Fatalf("answer %q", answer)
				}
				goW.Close()
			} else {
				cmd = startSupervisorAndLeave(t, dir, "FAKECHILD_LOG="+skyLog)
			}
			if err := cmd.Wait(); err == nil {
				t.Error("the supervisor exited 0 without running sky")
			}
			if calls := argvLog(t, skyLog); len(calls) != 0 {
				t.Errorf("sky ran: %q", calls)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the directory of a run that never started is still there: %v", err)
			}
			if _, err := r.Attach(context.Background(), "c1.1", 0, nil); !errors.Is(err, ports.ErrNoOperation) {
				t.Errorf("attach: %v, want ErrNoOperation", err)
			}
		})
	}
}

// startSupervisorAndLeave starts the test supervisor on dir and closes both ends of the
// handshake at once, as a Start that dies right after starting it.
func startSupervisorAndLeave(t *testing.T, dir string, env ...string) *exec.Cmd {
	t.Helper()
	cmd, goW, readyR := startSupervisor(t, dir, env...)
	readyR.Close()
	goW.Close()
	return cmd
}

func TestSupervisorCancelledBeforeSkyStarts(t *testing.T) {
	r := newTestRunner(t, Config{})
	dir := newRunDir(t, r, "c1.1", "script", "out:ran\n")
	cmd, goW, answer := handshake(t, dir)
	defer goW.Close()
	if answer != "ok\n" {
		t.Fatalf("answer %q", answer)
	}
	if err := r.Cancel(context.Background(), "c1.1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("supervisor: %v", err)
	}
	out, err := r.Attach(context.Background(), "c1.1", 0, nil)
	if err != nil || !out.Failed {
		t.Errorf("attach: %+v, %v; want a cancelled run", out, err)
	}
	if log := readLog(t, r, "c1.1"); len(log) != 0 {
		t.Errorf("sky ran: %q", log)
	}
}

func TestSupervisorRefusesABadRunDir(t *testing.T) {
	dir := t.TempDir()
	cmd, goW, answer := handshake(t, dir)
	defer goW.Close()
	if !strings.HasPrefix(answer, "error: ") {
		t.Errorf("answer %q, want an error", answer)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the supervisor of nothing exited 0")
	}
	if Supervise([]string{"relative/dir"}) != 2 || Supervise(nil) != 2 {
		t.Error("bad arguments are not a usage error")
	}
}

func TestDeadSupervisorLeavesNoOperation(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	lines, end := startInBackground(ctx, r, "c1.1", time.Minute, "pid", "hang")
	<-lines
	dir := filepath.Join(r.opsDir, "c1.1")
	id, ok := readIdentity(dir)
	if !ok || !id.skyLive() {
		t.Fatalf("identity %+v", id)
	}
	if err := syscall.Kill(id.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if res := <-end; !errors.Is(res.err, ports.ErrNoOperation) {
		t.Errorf("the follower of a run whose supervisor died: %+v, %v; want ErrNoOperation", res.out, res.err)
	}
	if _, err := r.Attach(ctx, "c1.1", 0, nil); !errors.Is(err, ports.ErrNoOperation) {
		t.Errorf("attach: %v, want ErrNoOperation", err)
	}
	// sky itself still runs, without its supervisor: Cancel ends it.
	if !id.skyLive() {
		t.Fatal("sky died with its supervisor")
	}
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Fatal(err)
	}
	if !processGone(id.SkyPID) {
		t.Error("sky outlived Cancel")
	}
}

// TestSupervisorHoldsNoFileOfTheService: the supervisor and sky outlive the service, so
// they must not keep what it holds open, such as its state dir's lock.
func TestSupervisorHoldsNoFileOfTheService(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	held, err := os.OpenFile(filepath.Join(t.TempDir(), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	lines, end := startInBackground(ctx, r, "c1.1", time.Minute, "pid", "hang")
	<-lines
	id, ok := readIdentity(filepath.Join(r.opsDir, "c1.1"))
	if !ok || !id.supervisorLive() || !id.skyLive() {
		t.Fatalf("identity %+v (recorded %v): want a live supervisor and sky", id, ok)
	}
	for name, pid := range map[string]int{"the supervisor": id.PID, "sky": id.SkyPID} {
		fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		if err != nil || len(fds) == 0 {
			t.Fatalf("the files of %s: %v", name, err)
		}
		for _, fd := range fds {
			if target, _ := os.Readlink(fd); target == held.Name() {
				t.Errorf("%s holds the service's file %s open (%s)", name, target, fd)
			}
		}
	}
	if err := r.Cancel(ctx, "c1.1"); err != nil {
		t.Fatal(err)
	}
	<-end
}

func TestForget(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	for i := 1; i <= 3; i++ {
		if _, err := r.startRun(ctx, ports.OperationKey("done."+strconv.Itoa(i)), script("exit:0"), time.Minute, nil); err != nil {
			t.Fatal(err)
		}
	}
	lines, end := startInBackground(ctx, r, "live.1", time.Minute, "out:up\n", "hang")
	<-lines
	// A start that failed long ago left a directory without a supervisor; a young one may
	// still be starting.
	for _, key := range []string{"stale.1", "young.1"} {
		if err := os.MkdirAll(filepath.Join(r.opsDir, key), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleRunAge)
	if err := os.Chtimes(filepath.Join(r.opsDir, "stale.1"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(1); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(r.opsDir)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range entries {
		kept = append(kept, e.Name())
	}
	if want := []string{"done.3", "live.1", "young.1"}; !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if err := r.Cancel(ctx, "live.1"); err != nil {
		t.Fatal(err)
	}
	<-end
	if err := r.Forget(0); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(r.opsDir); len(entries) != 1 || entries[0].Name() != "young.1" {
		t.Errorf("after forgetting all: %v", entries)
	}
	if err := New(Config{}).Forget(3); err != nil {
		t.Errorf("forget without an ops dir: %v", err)
	}
}

func TestCancelAndAttachOfUnknownRuns(t *testing.T) {
	ctx, _ := testContext(t, time.Minute)
	r := newTestRunner(t, Config{})
	for _, key := range []ports.OperationKey{"nothing.1", "../etc", ""} {
		if err := r.Cancel(ctx, key); err != nil {
			t.Errorf("cancel %q: %v", key, err)
		}
		if _, err := r.Attach(ctx, key, 0, nil); !errors.Is(err, ports.ErrNoOperation) {
			t.Errorf("attach %q: %v, want ErrNoOperation", key, err)
		}
	}
}

// A followed run is woken by its files changing: with a poll period far longer than the
// test, lines and the end still arrive, and the watch is gone with the follower.
func TestFollowerIsWokenByTheRunsFiles(t *testing.T) {
	checkNoGoroutineLeak(t)
	ctx, _ := testContext(t, 20*time.Second)
	r := newTestRunner(t, Config{PollInterval: time.Hour})
	var rec lineRecorder
	start := time.Now()
	out, err := r.startRun(ctx, "c1.1", script("out:one\n", "sleep:100ms", "out:two\n", "sleep:100ms", "exit:0"), time.Minute, rec.onLine)
	if err != nil || out != (ports.RunOutcome{}) {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if got := rec.texts(t); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("lines %q", got)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v to follow", took)
	}
	r.runs.mu.Lock()
	defer r.runs.mu.Unlock()
	if r.runs.watcher != nil || len(r.runs.byDir) != 0 {
		t.Errorf("a watch outlived its follower: %v", r.runs.byDir)
	}
}

// A supervised run yields the CPU: its sky has the configured nice value, and its
// session's autogroup, where the kernel has them (the scheduler shares the CPU between
// those first), the value that makes the runs together weigh as much as one at it.
func TestSupervisedRunHasTheConfiguredNiceValue(t *testing.T) {
	script := filepath.Join(t.TempDir(), "sky")
	// Field 19 of /proc/PID/stat is the nice value; the command name before it has no
	// spaces here.
	body := "#!/bin/sh\nset -- $(cat /proc/$$/stat)\necho \"nice ${19}\"\ncat /proc/$$/autogroup 2>/dev/null || echo 'no autogroup'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ nice, runs, sessionNice int }{{0, 4, 0}, {7, 1, 7}, {7, 4, 14}} {
		nice := c.nice
		t.Run(fmt.Sprintf("%d-%d", c.nice, c.runs), func(t *testing.T) {
			r := newTestRunner(t, Config{Bin: script, Nice: nice, Runs: c.runs})
			ctx, _ := testContext(t, time.Minute)
			var rec lineRecorder
			op := ports.Operation{Key: ports.OperationKey(fmt.Sprintf("c1.nice%d-%d", c.nice, c.runs)), Action: core.ActionStop, Cluster: "c1"}
			if out, err := r.Start(ctx, op, rec.onLine); err != nil || out.Failed {
				t.Fatalf("%+v, %v", out, err)
			}
			texts := rec.texts(t)
			if len(texts) != 2 {
				t.Fatalf("sky printed %q", texts)
			}
			// A run cannot have a lower nice value than the test's own.
			if want := fmt.Sprintf("nice %d", max(nice, ownNice(t))); texts[0] != want {
				t.Errorf("sky ran with %q, want %q", texts[0], want)
			}
			if _, err := os.Stat("/proc/self/autogroup"); err == nil {
				if want := fmt.Sprintf(" nice %d", c.sessionNice); !strings.HasSuffix(texts[1], want) {
					t.Errorf("sky's autogroup is %q, want one ending in %q", texts[1], want)
				}
			}
		})
	}
}

// ownNice is the nice value of this test process.
func ownNice(t *testing.T) int {
	t.Helper()
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest)
	nice, err := strconv.Atoi(fields[16]) // field 19 of the whole line
	if err != nil {
		t.Fatal(err)
	}
	return nice
}

// A read-only sky gets the nice value too, on its threads only: it shares skygate's
// session, whose autogroup must keep skygate's priority.
func TestReadOnlySkyHasTheNiceValueAndSkygateKeepsItsOwn(t *testing.T) {
	script := filepath.Join(t.TempDir(), "sky")
	// `sky status --ip` answers with an address that carries its nice value. The value is
	// given just after sky started: the script waits for it a while (0.5 s at most).
	body := "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10; do\n  set -- $(cat /proc/$$/stat)\n  [ \"${19}\" != 0 ] && break\n  sleep 0.05\ndone\necho \"10.0.0.${19}\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	autogroup := func() string {
		data, _ := os.ReadFile("/proc/self/autogroup")
		return string(data)
	}
	before, niceBefore := autogroup(), ownNice(t)
	r := newTestRunner(t, Config{Bin: script, Nice: 9})
	ctx, _ := testContext(t, time.Minute)
	ip, err := r.IP(ctx, "c1")
	if want := fmt.Sprintf("10.0.0.%d", max(9, niceBefore)); err != nil || ip != want {
		t.Fatalf("sky status --ip = %q, %v; want %q", ip, err, want)
	}
	if after := autogroup(); after != before || ownNice(t) != niceBefore {
		t.Fatalf("skygate's own priority changed: autogroup %q → %q, nice %d → %d", before, after, niceBefore, ownNice(t))
	}
}

// Supervisors start a few at a time: the launches of a fleet that come together must not
// start a hundred processes in the same second beside the service's requests.
func TestSupervisorsStartAFewAtATime(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "starts")
	// A stand-in supervisor that notes when it starts and when it is ready, takes a
	// while in between, and then leaves: the runs fail, and only their starts matter.
	supervisor := filepath.Join(dir, "supervisor")
	body := "#!/bin/sh\necho \"start $(date +%s%N)\" >> " + log + "\nsleep 0.2\necho \"ready $(date +%s%N)\" >> " + log + "\necho ok >&4\n"
	if err := os.WriteFile(supervisor, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newTestRunner(t, Config{SupervisorPath: supervisor})
	ctx, _ := testContext(t, time.Minute)
	const runs = 6
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			op := ports.Operation{Key: ports.OperationKey(fmt.Sprintf("c%d.1", i)), Action: core.ActionStop, Cluster: fmt.Sprintf("c%d", i)}
			_, _ = r.Start(ctx, op, nil)
		})
	}
	wg.Wait()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	type mark struct {
		at    int64
		delta int // +1 as one starts, -1 as one is ready
	}
	var marks []mark
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		what, stamp, _ := strings.Cut(line, " ")
		at, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil || (what != "start" && what != "ready") {
			t.Fatalf("unreadable log line %q", line)
		}
		delta := 1
		if what == "ready" {
			delta = -1
		}
		marks = append(marks, mark{at, delta})
	}
	if len(marks) != 2*runs {
		t.Fatalf("%d supervisors noted their start and readiness, want %d:\n%s", len(marks)/2, runs, data)
	}
	slices.SortFunc(marks, func(a, b mark) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	starting, most := 0, 0
	for _, m := range marks {
		starting += m.delta
		most = max(most, starting)
	}
	if most != maxStartingSupervisors {
		t.Errorf("at most %d supervisors were starting at once, want %d", most, maxStartingSupervisors)
	}
}
