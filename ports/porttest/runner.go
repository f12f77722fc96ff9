package porttest

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// runnerTimeout bounds each Runner suite case, so a run that never ends fails the test
// instead of hanging it.
const runnerTimeout = 2 * time.Minute

// Runner checks a ports.Runner against a healthy sky with AWS enabled that knows neither
// clusterName nor clusterName+"-b" and keeps no runs. It launches, stops, starts and downs
// those clusters through supervised runs (two of them at once), follows finished runs
// again from every offset, and checks the read-only calls and the handling of runs that
// do not exist. RunnerRuns checks what needs sky to be steered.
func Runner(t *testing.T, r ports.Runner, clusterName string) {
	ctx, cancel := context.WithTimeout(context.Background(), runnerTimeout)
	defer cancel()
	a, b, never := clusterName, clusterName+"-b", clusterName+"-never-launched"
	yaml := taskFile(t)
	op := func(key string, action core.Action, cluster string) ports.Operation {
		return ports.Operation{Key: ports.OperationKey(key), Action: action, Cluster: cluster, Launch: ports.LaunchSpec{YAMLPath: yaml}}
	}
	status := func(want map[string]core.SkyStatus, refresh bool) {
		t.Helper()
		names := append(slices.Sorted(maps.Keys(want)), never)
		got, err := r.Status(ctx, names, refresh)
		if err != nil {
			t.Fatalf("status of %v: %v", names, err)
		}
		if len(got) != len(names) {
			t.Errorf("status of %v answered %d names: %+v", names, len(got), got)
		}
		for name, status := range want {
			sc, ok := got[name]
			if !ok || (status == "") == sc.Found || sc.Status != status {
				t.Fatalf("status of %s = %+v (in the answer: %v), want %q", name, sc, ok, status)
			}
		}
		if sc, ok := got[never]; !ok || sc.Found {
			t.Fatalf("status of a cluster never launched = %+v (in the answer: %v)", sc, ok)
		}
	}
	run := func(o ports.Operation, onLine ports.LineFunc) ports.RunOutcome {
		t.Helper()
		out, err := r.Start(ctx, o, onLine)
		if err != nil {
			t.Fatalf("%s of %s (%s): %v", o.Action, o.Cluster, o.Key, err)
		}
		return out
	}
	succeed := func(o ports.Operation) {
		t.Helper()
		if out := run(o, nil); out.Failed {
			t.Fatalf("%s of %s (%s) failed: %q", o.Action, o.Cluster, o.Key, out.Message)
		}
	}

	t.Run("read-only calls", func(t *testing.T) {
		if v, err := r.Version(ctx); err != nil || !v.Known() {
			t.Errorf("version = %+v, %v", v, err)
		}
		check, err := r.Check(ctx)
		if err != nil || !slices.Contains(check.Enabled, "aws") {
			t.Errorf("check = %+v, %v; want aws enabled", check, err)
		}
		if got, err := r.Status(ctx, nil, false); err != nil || len(got) != 0 {
			t.Errorf("status of no cluster = %v, %v; want an empty answer", got, err)
		}
		status(map[string]core.SkyStatus{a: "", b: ""}, false)
		status(map[string]core.SkyStatus{a: ""}, true)
		if ip, err := r.IP(ctx, a); err == nil || isSetupError(err) {
			t.Errorf("ip of an unknown cluster = %q, %v; want a failure of sky", ip, err)
		}
	})

	t.Run("runs that do not exist", func(t *testing.T) {
		if _, err := r.Attach(ctx, ports.OperationKey(a+".0"), 0, nil); !errors.Is(err, ports.ErrNoOperation) {
			t.Errorf("attach to a run that never was: %v, want ErrNoOperation", err)
		}
		if err := r.Cancel(ctx, ports.OperationKey(a+".0")); err != nil {
			t.Errorf("cancel of a run that never was: %v", err)
		}
		cancelled, stop := context.WithCancel(ctx)
		stop()
		if _, err := r.Start(cancelled, op(a+".0", core.ActionLaunch, a), nil); !errors.Is(err, context.Canceled) {
			t.Errorf("start with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := r.Attach(ctx, ports.OperationKey(a+".0"), 0, nil); !errors.Is(err, ports.ErrNoOperation) {
			t.Errorf("attach after a start with a cancelled context: %v, want ErrNoOperation (nothing started)", err)
		}
	})

	// Two launches at once; their lines and outcomes are kept for the cases below.
	var launchA []ports.Line
	var outcomeA ports.RunOutcome
	t.Run("launch two clusters at once", func(t *testing.T) {
		var wg sync.WaitGroup
		recorders := []*lineRecorder{{t: t}, {t: t}}
		outcomes := make([]ports.RunOutcome, 2)
		errs := make([]error, 2)
		for i, o := range []ports.Operation{op(a+".1", core.ActionLaunch, a), op(b+".1", core.ActionLaunch, b)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outcomes[i], errs[i] = r.Start(ctx, o, recorders[i].onLine)
			}()
		}
		wg.Wait()
		for i, name := range []string{a, b} {
			if errs[i] != nil || outcomes[i].Failed {
				t.Fatalf("launch of %s: %+v, %v", name, outcomes[i], errs[i])
			}
			if len(recorders[i].get()) == 0 {
				t.Errorf("launch of %s streamed no line", name)
			}
		}
		launchA, outcomeA = recorders[0].get(), outcomes[0]
		status(map[string]core.SkyStatus{a: core.SkyUp, b: core.SkyUp}, true)
		status(map[string]core.SkyStatus{a: core.SkyUp}, false)
		ip, err := r.IP(ctx, a)
		if _, perr := netip.ParseAddr(ip); err != nil || perr != nil {
			t.Errorf("ip of a cluster that is up = %q, %v", ip, err)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("a finished run is followed again from any offset", func(t *testing.T) {
		key := ports.OperationKey(a + ".1")
		offsets := []int64{0}
		for _, l := range launchA {
			offsets = append(offsets, l.Offset)
		}
		for i, offset := range offsets {
			rec := &lineRecorder{t: t}
			out, err := r.Attach(ctx, key, offset, rec.onLine)
			if err != nil || out != outcomeA {
				t.Fatalf("attach from %d: %+v, %v; want %+v", offset, out, err, outcomeA)
			}
			if got, want := rec.get(), launchA[i:]; !slices.Equal(got, want) {
				t.Fatalf("attach from %d delivered %v\nwant the lines after it: %v", offset, got, want)
			}
		}
		if err := r.Cancel(ctx, key); err != nil {
			t.Errorf("cancel of a finished run: %v", err)
		}
	})

	t.Run("a key that has a run cannot start another", func(t *testing.T) {
		if _, err := r.Start(ctx, op(a+".1", core.ActionStop, a), nil); err == nil {
			t.Fatal("a second run under a key that has one was started")
		}
		status(map[string]core.SkyStatus{a: core.SkyUp}, true)
	})

	t.Run("stop, start and down", func(t *testing.T) {
		succeed(op(a+".2", core.ActionStop, a))
		status(map[string]core.SkyStatus{a: core.SkyStopped, b: core.SkyUp}, true)
		if ip, err := r.IP(ctx, a); err == nil || isSetupError(err) {
			t.Errorf("ip of a stopped cluster = %q, %v; want a failure of sky", ip, err)
		}
		succeed(op(a+".3", core.ActionStart, a))
		status(map[string]core.SkyStatus{a: core.SkyUp}, true)
		succeed(op(a+".4", core.ActionDestroy, a))
		succeed(op(b+".2", core.ActionDestroy, b))
		status(map[string]core.SkyStatus{a: "", b: ""}, true)
		// sky down of a cluster sky does not know runs to its end (its outcome is for
		// the caller to judge with Status).
		run(op(a+".5", core.ActionDestroy, a), nil)
	})

	t.Run("forget keeps the newest finished runs", func(t *testing.T) {
		if err := r.Forget(2); err != nil {
			t.Fatalf("forget: %v", err)
		}
		for _, key := range []string{a + ".5", b + ".2"} {
			if _, err := r.Attach(ctx, ports.OperationKey(key), 0, nil); err != nil {
				t.Errorf("attach to %s, one of the two newest runs: %v", key, err)
			}
		}
		for _, key := range []string{a + ".1", b + ".1", a + ".2", a + ".3", a + ".4"} {
			if _, err := r.Attach(ctx, ports.OperationKey(key), 0, nil); !errors.Is(err, ports.ErrNoOperation) {
				t.Errorf("attach to forgotten run %s: %v, want ErrNoOperation", key, err)
			}
		}
		if err := r.Forget(0); err != nil {
			t.Fatalf("forget all: %v", err)
		}
		if _, err := r.Attach(ctx, ports.OperationKey(a+".5"), 0, nil); !errors.Is(err, ports.ErrNoOperation) {
			t.Errorf("attach after forgetting every run: %v, want ErrNoOperation", err)
		}
	})
}

// RunnerScenario is a behaviour of sky a RunnerSky can be steered to, per cluster.
type RunnerScenario string

const (
	// ScenarioSuccess: every command succeeds.
	ScenarioSuccess RunnerScenario = "success"
	// ScenarioSlow: commands succeed, printing their lines over at least 200 ms.
	ScenarioSlow RunnerScenario = "slow"
	// ScenarioHang: a launch prints some lines, then runs until it is cancelled.
	ScenarioHang RunnerScenario = "hang"
	// ScenarioQuota: a launch fails for want of quota, and says so ("quota").
	ScenarioQuota RunnerScenario = "quota"
)

// RunnerSky is one Runner over a fresh, healthy sky with AWS enabled that knows no
// cluster and keeps no runs, with the hook that steers that sky.
type RunnerSky struct {
	Runner ports.Runner
	// SetScenario makes the runs on cluster that start from now on behave as s.
	SetScenario func(cluster string, s RunnerScenario)
}

// RunnerRuns checks how a ports.Runner follows and ends runs that take time: a follower
// that stops leaves the run going, a second follower of a live run gets the rest, Cancel
// ends a run that would never end, and a failed launch explains itself. newSky is called
// once per case.
func RunnerRuns(t *testing.T, newSky func(t *testing.T) RunnerSky) {
	t.Run("a follower that stops leaves the run going", func(t *testing.T) {
		ctx, sky, key := runnerCase(t, newSky, "slow", ScenarioSlow)
		following, stop := context.WithCancel(ctx)
		first := &lineRecorder{t: t, then: func(ports.Line) { stop() }}
		if _, err := sky.Runner.Start(following, launchOp(t, key, "slow"), first.onLine); !errors.Is(err, context.Canceled) {
			t.Fatalf("start whose follower stops: %v, want context.Canceled", err)
		}
		seen := first.get()
		if len(seen) == 0 {
			t.Fatal("no line before the follower stopped")
		}
		rest := &lineRecorder{t: t}
		out, err := sky.Runner.Attach(ctx, key, seen[len(seen)-1].Offset, rest.onLine)
		if err != nil || out.Failed {
			t.Fatalf("attach after the follower stopped: %+v, %v; want the run to go on and succeed", out, err)
		}
		if len(rest.get()) == 0 {
			t.Error("the run printed nothing after the follower stopped")
		}
		all := &lineRecorder{t: t}
		if _, err := sky.Runner.Attach(ctx, key, 0, all.onLine); err != nil {
			t.Fatal(err)
		}
		if got, want := all.get(), append(seen, rest.get()...); !slices.Equal(got, want) {
			t.Errorf("the whole run %v\nis not the lines seen before and after the follower stopped %v", got, want)
		}
		if got, err := sky.Runner.Status(ctx, []string{"slow"}, true); err != nil || got["slow"].Status != core.SkyUp {
			t.Errorf("status after the launch = %+v, %v; want UP", got, err)
		}
	})

	t.Run("a second follower of a live run gets the rest", func(t *testing.T) {
		ctx, sky, key := runnerCase(t, newSky, "slow", ScenarioSlow)
		whole, firstLine, started := startFollowed(ctx, t, sky.Runner, launchOp(t, key, "slow"))
		var first ports.Line
		select {
		case first = <-firstLine:
		case res := <-started:
			t.Fatalf("the run ended before its first line was followed: %+v", res)
		}
		second := &lineRecorder{t: t}
		out, err := sky.Runner.Attach(ctx, key, first.Offset, second.onLine)
		res := <-started
		if err != nil || res.err != nil || out != res.out || out.Failed {
			t.Fatalf("attach: %+v, %v; start: %+v, %v; want the same success", out, err, res.out, res.err)
		}
		lines := whole.get()
		if got, want := second.get(), lines[slices.Index(lines, first)+1:]; !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("the second follower got %v\nwant the lines after the first: %v", got, want)
		}
	})

	t.Run("cancel ends a run that would never end", func(t *testing.T) {
		ctx, sky, key := runnerCase(t, newSky, "hang", ScenarioHang)
		_, firstLine, started := startFollowed(ctx, t, sky.Runner, launchOp(t, key, "hang"))
		select {
		case <-firstLine:
		case res := <-started:
			t.Fatalf("a hanging launch ended by itself: %+v", res)
		}
		if err := sky.Runner.Cancel(ctx, key); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		var res runResult
		select {
		case res = <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the follower of a cancelled run did not end")
		}
		if res.err != nil || !res.out.Failed {
			t.Errorf("a cancelled launch ended with %+v, %v; want a failure", res.out, res.err)
		}
		if out, err := sky.Runner.Attach(ctx, key, 0, nil); err != nil || out != res.out {
			t.Errorf("attach to the cancelled run: %+v, %v; want %+v", out, err, res.out)
		}
		if err := sky.Runner.Cancel(ctx, key); err != nil {
			t.Errorf("cancel of a cancelled run: %v", err)
		}
		sky.SetScenario("hang", ScenarioSuccess)
		if _, err := sky.Runner.Start(ctx, ports.Operation{Key: "hang.2", Action: core.ActionDestroy, Cluster: "hang"}, nil); err != nil {
			t.Errorf("down after the cancelled launch: %v", err)
		}
	})

	t.Run("a failed launch explains itself", func(t *testing.T) {
		ctx, sky, key := runnerCase(t, newSky, "quota", ScenarioQuota)
		out, err := sky.Runner.Start(ctx, launchOp(t, key, "quota"), nil)
		if err != nil || !out.Failed || !strings.Contains(strings.ToLower(out.Message), "quota") {
			t.Errorf("launch without quota: %+v, %v; want a failure whose message names the quota", out, err)
		}
	})
}

// runnerCase begins a RunnerRuns case: a fresh sky whose cluster behaves as scenario, a
// context bounded by runnerTimeout, and the key of the cluster's first run.
func runnerCase(t *testing.T, newSky func(t *testing.T) RunnerSky, cluster string, scenario RunnerScenario) (context.Context, RunnerSky, ports.OperationKey) {
	ctx, cancel := context.WithTimeout(context.Background(), runnerTimeout)
	t.Cleanup(cancel)
	sky := newSky(t)
	sky.SetScenario(cluster, scenario)
	return ctx, sky, ports.OperationKey(cluster + ".1")
}

// runResult is how Start returned.
type runResult struct {
	out ports.RunOutcome
	err error
}

// startFollowed starts op in the background, following it with a lineRecorder. The
// first line also goes to firstLine; Start's result to started.
func startFollowed(ctx context.Context, t *testing.T, r ports.Runner, op ports.Operation) (rec *lineRecorder, firstLine <-chan ports.Line, started <-chan runResult) {
	first := make(chan ports.Line, 1)
	rec = &lineRecorder{t: t, then: func(l ports.Line) {
		select {
		case first <- l:
		default:
		}
	}}
	result := make(chan runResult, 1)
	go func() {
		out, err := r.Start(ctx, op, rec.onLine)
		result <- runResult{out, err}
	}()
	return rec, first, result
}

// lineRecorder is a LineFunc that checks each line as the contract says and keeps it.
type lineRecorder struct {
	t     *testing.T
	then  func(ports.Line) // called after each line, when set
	mu    sync.Mutex
	lines []ports.Line
}

func (r *lineRecorder) onLine(l ports.Line) {
	r.mu.Lock()
	if l.Text == "" || strings.ContainsAny(l.Text, "\r\n\x1b") || strings.TrimSpace(l.Text) != l.Text {
		r.t.Errorf("an uncleaned line %q", l.Text)
	}
	if n := len(r.lines); (n > 0 && l.Offset <= r.lines[n-1].Offset) || l.Offset <= 0 {
		r.t.Errorf("line %q at offset %d: offsets must grow from 1 (previous %v)", l.Text, l.Offset, r.lines[max(n-1, 0):])
	}
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	if r.then != nil {
		r.then(l)
	}
}

func (r *lineRecorder) get() []ports.Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// taskFile writes a task YAML for launches.
func taskFile(t *testing.T) string {
	t.Helper()
	yaml := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(yaml, []byte("resources:\n  cloud: \"aws\"\n  region: \"us-east-1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return yaml
}

func launchOp(t *testing.T, key ports.OperationKey, cluster string) ports.Operation {
	return ports.Operation{Key: key, Action: core.ActionLaunch, Cluster: cluster, Launch: ports.LaunchSpec{YAMLPath: taskFile(t)}}
}

// isSetupError reports whether err says sky could not be asked at all, rather than that
// sky answered with a failure.
func isSetupError(err error) bool {
	return errors.Is(err, ports.ErrSkyNotFound) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
