package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/adapters/memstore"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
	"github.com/skygate/skygate/ports/porttest"
)

var start = time.Date(2026, 2, 14, 12, 0, 0, 0, time.UTC)

const def = "skygate"

type harness struct {
	t     *testing.T
	sky   *fakerunner.Runner
	store ports.Store
	bus   *membus.Bus
	clock *clock.Fake
	dir   string
	svc   *app.Service
}

func newHarness(t *testing.T, cfgs ...app.Config) *harness {
	t.Helper()
	h := &harness{t: t, sky: fakerunner.New(), store: memstore.New(memstore.Options{}), clock: clock.NewFake(start), dir: t.TempDir()}
	h.bus = membus.New(membus.Options{})
	var cfg app.Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	h.svc = h.service(cfg)
	return h
}

// service builds a service over the harness's sky, store and clock, as a restart does.
func (h *harness) service(cfg app.Config) *app.Service {
	cfg.DefaultCluster = def
	svc := app.New(cfg, h.sky, h.store, h.bus, h.clock, app.DirTaskFiles(h.dir), zerolog.Nop())
	h.t.Cleanup(func() { h.shutdown(svc) })
	return svc
}

func (h *harness) shutdown(svc *app.Service) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	svc.Shutdown(ctx)
}

func (h *harness) record(name string) core.Cluster {
	h.t.Helper()
	rec, err := h.store.Load(context.Background(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// waitFor polls name's record until cond holds; the timeout is only a safety net.
func (h *harness) waitFor(name, what string, cond func(core.Cluster) bool) core.Cluster {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := h.record(name)
		if cond(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s of %s; record %+v; events %v; sky calls %v", what, name, rec, h.eventTypes(name), h.sky.Calls())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) waitStatus(name string, want core.ClusterStatus) core.Cluster {
	h.t.Helper()
	return h.waitFor(name, "status "+string(want), func(c core.Cluster) bool { return c.Status == want && c.Operation == "" })
}

// eventually polls cond; the timeout is only a safety net.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; sky calls %v", what, h.sky.Calls())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) events(name string) []core.Event {
	h.t.Helper()
	evs, err := h.store.Events(context.Background(), ports.EventFilter{Cluster: name})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func (h *harness) eventTypes(name string) []string {
	var out []string
	for _, ev := range h.events(name) {
		s := string(ev.Type)
		if ev.Type == core.EventStatus {
			s += ":" + string(ev.Status)
		}
		out = append(out, s)
	}
	return out
}

// lastOf returns the last event of type t.
func (h *harness) lastOf(name string, t core.EventType) core.Event {
	evs := h.events(name)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == t {
			return evs[i]
		}
	}
	h.t.Fatalf("no %s event in %v", t, h.eventTypes(name))
	return core.Event{}
}

func (h *harness) launch(name string) {
	h.t.Helper()
	if _, err := h.svc.Launch(context.Background(), name, core.LaunchRequest{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitStatus(name, core.StatusRunning)
}

func wantKind(t *testing.T, err error, kind core.ErrorKind, key string) {
	t.Helper()
	de, ok := core.AsError(err)
	if !ok || de.Kind != kind || de.Key != key {
		t.Fatalf("err = %v, want %v on %q", err, kind, key)
	}
}

func TestLaunchHappyPath(t *testing.T) {
	h := newHarness(t)
	acc, err := h.svc.Launch(context.Background(), def, core.LaunchRequest{Cloud: "aws", Region: "us-east-1"})
	if err != nil || acc.ClusterName != def {
		t.Fatalf("launch: %+v %v", acc, err)
	}
	rec := h.waitStatus(def, core.StatusRunning)
	if rec.IP != "203.0.113.10" || rec.LaunchedAt.IsZero() || rec.Desired != core.DesiredUp || rec.Cloud != "aws" {
		t.Fatalf("record = %+v", rec)
	}
	got := h.eventTypes(def)
	want := []string{"status:provisioning", "progress", "progress", "status:running", "complete"}
	if !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for _, ev := range h.events(def) {
		if ev.Cluster != def {
			t.Fatalf("event without its cluster: %+v", ev)
		}
	}
	if h.lastOf(def, core.EventComplete).Message != "Cluster is UP" {
		t.Errorf("complete message = %q", h.lastOf(def, core.EventComplete).Message)
	}
}

func TestLaunchRefusals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, err := h.svc.Launch(ctx, "-bad", core.LaunchRequest{})
	wantKind(t, err, core.KindInvalid, "path.name")
	_, err = h.svc.Launch(ctx, def, core.LaunchRequest{Cloud: "nope"})
	wantKind(t, err, core.KindInvalid, "body.cloud")
	_, err = h.svc.Stop(ctx, def)
	wantKind(t, err, core.KindNotFound, core.KeyCluster)
	_, err = h.svc.Launch(ctx, def, core.LaunchRequest{Cloud: "azure"})
	wantKind(t, err, core.KindDependencyMissing, core.KeyCredentials)
	h.launch(def)
	_, err = h.svc.Launch(ctx, def, core.LaunchRequest{})
	wantKind(t, err, core.KindConflict, core.KeyCluster)
	_, err = h.svc.Start(ctx, def)
	wantKind(t, err, core.KindConflict, core.KeyCluster)

	missing := newHarness(t)
	missing.sky.Installed = false
	_, err = missing.svc.Launch(ctx, def, core.LaunchRequest{})
	wantKind(t, err, core.KindDependencyMissing, core.KeySky)

	none := newHarness(t)
	none.sky.CheckResult = core.CheckResult{Disabled: map[string]string{"aws": "AWS credentials are not set."}}
	_, err = none.svc.Launch(ctx, def, core.LaunchRequest{})
	wantKind(t, err, core.KindDependencyMissing, core.KeyCredentials)
	if none.sky.Count("launch") != 0 || missing.sky.Count("launch") != 0 {
		t.Fatal("a refused launch ran sky launch")
	}
}

func TestConcurrentLaunchesExactlyOneWins(t *testing.T) {
	h := newHarness(t)
	h.sky.Hold("launch")
	defer h.sky.Release("launch")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 50 {
		wg.Go(func() {
			_, err := h.svc.Launch(context.Background(), def, core.LaunchRequest{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if de, ok := core.AsError(err); ok && de.Kind == core.KindConflict {
				conflicts++
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 49 {
		t.Fatalf("wins %d conflicts %d", wins, conflicts)
	}
	h.sky.Release("launch")
	h.waitStatus(def, core.StatusRunning)
	if n := h.sky.Count("launch"); n != 1 {
		t.Fatalf("%d sky launch runs", n)
	}
}

func TestStopStartDestroy(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.launch(def)
	if _, err := h.svc.Stop(ctx, def); err != nil {
		t.Fatal(err)
	}
	rec := h.waitStatus(def, core.StatusStopped)
	if rec.IP != "" || !rec.LaunchedAt.IsZero() || rec.Desired != core.DesiredStopped {
		t.Fatalf("stopped record = %+v", rec)
	}
	if _, err := h.svc.Start(ctx, def); err != nil {
		t.Fatal(err)
	}
	rec = h.waitStatus(def, core.StatusRunning)
	if rec.IP != "203.0.113.11" || rec.LaunchedAt.IsZero() {
		t.Fatalf("started record = %+v", rec)
	}
	if _, err := h.svc.Destroy(ctx, def); err != nil {
		t.Fatal(err)
	}
	rec = h.waitStatus(def, core.StatusNoServer)
	if rec.IP != "" || rec.Cloud != "" || rec.Error != "" {
		t.Fatalf("destroyed record = %+v", rec)
	}
	if h.lastOf(def, core.EventComplete).Message != "Cluster "+def+" is destroyed" {
		t.Fatalf("events %v", h.eventTypes(def))
	}
}

func TestDestroyCancelsLaunch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.sky.Hold("launch")
	defer h.sky.Release("launch")
	if _, err := h.svc.Launch(ctx, def, core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("launch running", func() bool { return len(h.sky.Running()) == 1 })
	if _, err := h.svc.Destroy(ctx, def); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(def, core.StatusNoServer)
	if h.sky.Count("cancel "+def+".1") != 1 || h.sky.Count("destroy "+def) != 1 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
	if len(h.sky.Running()) != 0 {
		t.Fatalf("runs left: %v", h.sky.Running())
	}
}

func TestDestroyDequeuesQueuedLaunch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, app.Config{MaxSkyProcs: 1})
	h.sky.Hold("launch a")
	defer h.sky.Release("launch a")
	for _, name := range []string{"a", "b"} {
		if _, err := h.svc.Launch(ctx, name, core.LaunchRequest{}); err != nil {
			t.Fatal(err)
		}
		h.eventually("a running", func() bool { return len(h.sky.Running()) == 1 })
	}
	h.eventually("b queued", func() bool {
		for _, ev := range h.events("b") {
			if ev.Type == core.EventProgress && strings.Contains(ev.Message, "position 1") {
				return true
			}
		}
		return false
	})
	if _, err := h.svc.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	h.waitStatus("b", core.StatusNoServer)
	if h.sky.Count("launch b") != 0 || h.sky.Count("destroy b") != 0 {
		t.Fatalf("a queued launch ran sky: %v", h.sky.Calls())
	}
	h.sky.Release("launch a")
	h.waitStatus("a", core.StatusRunning)
}

func TestMaxSkyProcsBoundsRunsOverTheFleet(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, app.Config{MaxSkyProcs: 2})
	h.sky.Hold("launch")
	defer h.sky.Release("launch")
	for i := range 5 {
		if _, err := h.svc.Launch(ctx, fmt.Sprintf("c%d", i), core.LaunchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	h.eventually("two runs", func() bool { return len(h.sky.Running()) == 2 })
	time.Sleep(20 * time.Millisecond)
	if n := len(h.sky.Running()); n != 2 {
		t.Fatalf("%d runs at once, want 2", n)
	}
	h.sky.Release("launch")
	for i := range 5 {
		h.waitStatus(fmt.Sprintf("c%d", i), core.StatusRunning)
	}
}

func TestMaxClusters(t *testing.T) {
	h := newHarness(t, app.Config{MaxClusters: 2})
	h.launch("a")
	h.launch("b")
	_, err := h.svc.Launch(context.Background(), "c", core.LaunchRequest{})
	wantKind(t, err, core.KindConflict, core.KeyCluster)
	if !strings.Contains(err.Error(), "max-clusters") {
		t.Fatalf("message %q does not name the limit", err)
	}
}

// Concurrent launches of different names never pass the bound together.
func TestMaxClustersHoldsUnderConcurrentLaunches(t *testing.T) {
	h := newHarness(t, app.Config{MaxClusters: 3})
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			_, err := h.svc.Launch(context.Background(), fmt.Sprintf("c%d", i), core.LaunchRequest{})
			switch {
			case err == nil:
				accepted.Add(1)
			case !strings.Contains(err.Error(), "max-clusters"):
				t.Errorf("launch c%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d of 12 concurrent launches were accepted under --max-clusters 3", n)
	}
}

// A destroy whose confirming sky status fails once is confirmed again, not judged.
func TestFailedConfirmIsRetried(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.launch(def)
	var mu sync.Mutex
	failures := 1
	h.sky.OnStatus = func(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error) {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return nil, errors.New("sky status: connection reset")
		}
		out := map[string]core.SkyCluster{}
		for _, n := range names {
			if c, ok := h.sky.ClusterOf(n); ok {
				out[n] = core.SkyCluster{Found: true, Status: c.Status}
			} else {
				out[n] = core.SkyCluster{}
			}
		}
		return out, nil
	}
	if _, err := h.svc.Destroy(ctx, def); err != nil {
		t.Fatal(err)
	}
	h.eventually("a retry waiting", func() bool { return h.clock.Waiters() > 0 })
	h.clock.Advance(time.Minute)
	rec := h.waitStatus(def, core.StatusNoServer)
	if rec.Error != "" {
		t.Fatalf("record = %+v", rec)
	}
	for _, ev := range h.events(def) {
		if ev.Type == core.EventError {
			t.Fatalf("error event %q for a destroy that worked", ev.Message)
		}
	}
}

// A shutdown during the confirm settles nothing; the next start decides.
func TestShutdownDuringConfirmSettlesNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.launch(def)
	h.sky.Hold("status")
	if _, err := h.svc.Stop(ctx, def); err != nil {
		t.Fatal(err)
	}
	h.eventually("confirm under way", func() bool { return h.sky.Count("status") >= 1 && len(h.sky.Running()) == 0 })
	h.shutdown(h.svc)
	if rec := h.record(def); rec.Status != core.StatusStopping || rec.Error != "" {
		t.Fatalf("record after shutdown = %+v", rec)
	}
	h.sky.Release("status")
	h.svc = h.service(app.Config{})
	h.svc.Resume()
	h.waitStatus(def, core.StatusStopped)
}

// Shutdown ends a shared sky check and background work at once.
func TestShutdownDoesNotWaitForSharedCheck(t *testing.T) {
	h := newHarness(t)
	h.sky.Hold("check")
	defer h.sky.Release("check")
	h.svc.Resume()
	h.eventually("check running", func() bool { return h.sky.Count("check") == 1 })
	done := make(chan struct{})
	go func() {
		h.shutdown(h.svc)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(4 * time.Second):
		t.Fatal("shutdown waited for a held sky check")
	}
}

// A launch answers from a stale check while a new one runs in the background.
func TestLaunchDoesNotWaitForAStaleCheck(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, app.Config{CheckTTL: time.Minute})
	if _, err := h.svc.Check(ctx, false); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Minute)
	h.sky.Hold("check")
	defer h.sky.Release("check")
	done := make(chan error, 1)
	go func() {
		_, err := h.svc.Launch(ctx, def, core.LaunchRequest{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("launch waited for a sky check although one was cached")
	}
	h.eventually("background check", func() bool { return h.sky.Count("check") == 2 })
}

func TestEventsOfTheOperationInFlightAndResume(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.launch("a")
	h.sky.Hold("stop")
	defer h.sky.Release("stop")
	if _, err := h.svc.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	h.eventually("stop running", func() bool { return len(h.sky.Running()) == 1 })
	opID := h.record("a").OperationID
	replay, sub, err := h.svc.Events(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if len(replay.Events) == 0 || replay.More {
		t.Fatalf("replay of the operation in flight: %+v", replay)
	}
	for _, ev := range replay.Events {
		if ev.OperationID != opID {
			t.Fatalf("replay holds an event of another operation: %+v", ev)
		}
	}
	last, _ := h.store.LastEventID(ctx)
	ahead := last + 1000
	aheadReplay, aheadSub, err := h.svc.Events(ctx, "a", &ahead)
	if err != nil {
		t.Fatal(err)
	}
	defer aheadSub.Close()
	if len(aheadReplay.Events) != len(replay.Events) || aheadReplay.More {
		t.Fatalf("an id never issued replayed %d events (more: %v), want the %d of the operation in flight", len(aheadReplay.Events), aheadReplay.More, len(replay.Events))
	}
	zero := uint64(0)
	all, allSub, err := h.svc.Events(ctx, "a", &zero)
	if err != nil {
		t.Fatal(err)
	}
	defer allSub.Close()
	if len(all.Events) != len(h.events("a")) || all.More {
		t.Fatalf("after=0 replayed %d of %d events (more: %v)", len(all.Events), len(h.events("a")), all.More)
	}
	h.sky.Release("stop")
	got := map[core.EventType]bool{}
	timeout := time.After(5 * time.Second)
	for !got[core.EventComplete] {
		select {
		case ev := <-sub.Events():
			got[ev.Type] = true
		case <-timeout:
			t.Fatal("no live complete event")
		}
	}
}

func TestFleetStreamHasEveryCluster(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	_, sub, err := h.svc.Events(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	h.launch("a")
	h.launch("b")
	seen := map[string]bool{}
	var last uint64
	timeout := time.After(5 * time.Second)
	for !(seen["a"] && seen["b"]) {
		select {
		case ev := <-sub.Events():
			if ev.ID <= last {
				t.Fatalf("ids not increasing: %d after %d", ev.ID, last)
			}
			last = ev.ID
			seen[ev.Cluster] = true
		case <-timeout:
			t.Fatalf("saw %v", seen)
		}
	}
}

func TestRefreshAdoptsAClusterSkyHas(t *testing.T) {
	h := newHarness(t)
	h.sky.SetCluster(def, fakerunner.Cluster{Status: core.SkyUp, Cloud: "gcp", Region: "us-central1", IP: "198.51.100.4"})
	rec, err := h.svc.Status(context.Background(), def, false)
	if err != nil || rec.Status != core.StatusNoServer || h.sky.Count("status") != 0 {
		t.Fatalf("status without refresh: %+v %v, calls %v", rec, err, h.sky.Calls())
	}
	rec, err = h.svc.Status(context.Background(), def, true)
	if err != nil || rec.Status != core.StatusRunning || rec.IP != "198.51.100.4" || rec.Cloud != "gcp" {
		t.Fatalf("adopted record = %+v, %v", rec, err)
	}
}

func TestStartAdoptsAndResumes(t *testing.T) {
	h := newHarness(t)
	h.sky.SetCluster(def, fakerunner.Cluster{Status: core.SkyStopped, Cloud: "aws"})
	h.svc.Resume()
	h.waitStatus(def, core.StatusStopped)
}

func TestRestartMidLaunchReattaches(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	gate := make(chan struct{})
	h.sky.OnRun[core.ActionLaunch] = func(ctx context.Context, r *fakerunner.Runner, op ports.Operation, say func(string)) ports.RunOutcome {
		say("line 1")
		say("line 2")
		<-gate
		say("line 3")
		r.SetCluster(op.Cluster, fakerunner.Cluster{Status: core.SkyUp, Cloud: "aws", IP: "203.0.113.9"})
		return ports.RunOutcome{}
	}
	if _, err := h.svc.Launch(ctx, def, core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("two lines", func() bool { return len(h.events(def)) == 3 })
	h.shutdown(h.svc)
	close(gate)
	h.svc = h.service(app.Config{})
	h.svc.Resume()
	rec := h.waitStatus(def, core.StatusRunning)
	if rec.IP != "203.0.113.9" {
		t.Fatalf("record = %+v", rec)
	}
	var lines []string
	for _, ev := range h.events(def) {
		if ev.Type == core.EventProgress {
			lines = append(lines, ev.Message)
		}
	}
	if !slices.Equal(lines, []string{"line 1", "line 2", "line 3"}) {
		t.Fatalf("progress lines = %v", lines)
	}
	if h.sky.Count("launch") != 1 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
}

// A destroy cut off with its run lost is carried on, never undone.
func TestLostDestroyIsCarriedOn(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.launch(def)
	h.sky.Hold("destroy")
	if _, err := h.svc.Destroy(ctx, def); err != nil {
		t.Fatal(err)
	}
	h.eventually("destroy running", func() bool { return len(h.sky.Running()) == 1 })
	key := h.sky.Running()[0]
	h.shutdown(h.svc)
	h.sky.Lose(key) // the supervisor died with the machine; sky still has the cluster
	h.sky.Release("destroy")
	if _, ok := h.sky.ClusterOf(def); !ok {
		t.Fatal("the lost run removed the cluster")
	}
	h.svc = h.service(app.Config{})
	h.svc.Resume()
	h.waitStatus(def, core.StatusNoServer)
	if _, ok := h.sky.ClusterOf(def); ok {
		t.Fatal("sky still has the cluster")
	}
	if h.sky.Count("destroy") != 2 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
}

func TestLaunchFailureReachesErrorField(t *testing.T) {
	h := newHarness(t)
	h.sky.OnRun[core.ActionLaunch] = func(ctx context.Context, r *fakerunner.Runner, op ports.Operation, say func(string)) ports.RunOutcome {
		say("⚙︎ Launching on AWS us-east-1.")
		return ports.RunOutcome{Failed: true, Message: "Found no quota for p4d.24xlarge"}
	}
	if _, err := h.svc.Launch(context.Background(), def, core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	rec := h.waitStatus(def, core.StatusError)
	if !strings.Contains(rec.Error, "Found no quota") || rec.IP != "" {
		t.Fatalf("record = %+v", rec)
	}
	if !strings.Contains(h.lastOf(def, core.EventError).Message, "Found no quota") {
		t.Fatal("error event lacks the cause")
	}
}

func TestStopUnsupportedKeepsRunningAndSaysWhy(t *testing.T) {
	h := newHarness(t)
	h.launch(def)
	h.sky.OnRun[core.ActionStop] = func(ctx context.Context, r *fakerunner.Runner, op ports.Operation, say func(string)) ports.RunOutcome {
		say("Stopping cluster '" + op.Cluster + "'... skipped.")
		return ports.RunOutcome{Message: "Stopping is currently not supported for Kubernetes."}
	}
	if _, err := h.svc.Stop(context.Background(), def); err != nil {
		t.Fatal(err)
	}
	rec := h.waitStatus(def, core.StatusRunning)
	if !strings.Contains(rec.Error, "not supported") {
		t.Fatalf("record = %+v", rec)
	}
}

func TestBackgroundRefreshIsOneSkyRunForTheFleet(t *testing.T) {
	h := newHarness(t, app.Config{RefreshInterval: time.Minute})
	for i := range 5 {
		h.launch(fmt.Sprintf("c%d", i))
	}
	h.sky.SetCluster("c3", fakerunner.Cluster{}) // downed by hand
	before := h.sky.Count("status --refresh")
	h.svc.Resume()
	h.waitStatus("c3", core.StatusNoServer)
	h.eventually("refresh loop waiting", func() bool { return h.clock.Waiters() > 0 })
	h.clock.Advance(time.Minute)
	h.eventually("one refresh", func() bool { return h.sky.Count("status --refresh c0 c1 c2 c4") >= 1 })
	if got := h.sky.Count("status --refresh") - before; got != 2 {
		t.Fatalf("%d sky status runs (start-up and one refresh), want 2: %v", got, h.sky.Calls())
	}
	views, err := h.svc.Clusters(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"c0", "c1", "c2", "c4", def}) {
		t.Fatalf("fleet = %v", names)
	}
}

func TestClustersListsTheDefaultAlways(t *testing.T) {
	h := newHarness(t)
	views, err := h.svc.Clusters(context.Background(), false)
	if err != nil || len(views) != 1 || views[0].Name != def || !views[0].Default || views[0].Status != core.StatusNoServer {
		t.Fatalf("views = %+v, %v", views, err)
	}
}

func TestStatusOfAnUnmanagedName(t *testing.T) {
	h := newHarness(t)
	rec, err := h.svc.Status(context.Background(), "other", false)
	if err != nil || rec.Status != core.StatusNoServer {
		t.Fatalf("%+v %v", rec, err)
	}
	_, err = h.svc.Destroy(context.Background(), "other")
	wantKind(t, err, core.KindNotFound, core.KeyCluster)
}

// A resumed stream of a long history replays it a page at a time.
func TestLongReplayComesInPages(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	for _, cluster := range []string{"a", "b"} {
		var batch []core.Event
		for i := range 700 {
			batch = append(batch, core.Event{Cluster: cluster, Type: core.EventProgress, Message: fmt.Sprintf("line %d", i)})
		}
		if _, err := h.store.Append(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	zero := uint64(0)
	replay, sub, err := h.svc.Events(ctx, "", &zero)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if len(replay.Events) != app.ReplayPage || !replay.More {
		t.Fatalf("first page: %d events, more %v; want %d and more", len(replay.Events), replay.More, app.ReplayPage)
	}
	ids := porttest.IDs(replay.Events)
	for last := ids[len(ids)-1]; ; {
		page, err := h.svc.Backlog(ctx, "", last)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, porttest.IDs(page)...)
		if len(page) < app.ReplayPage {
			break
		}
		last = page[len(page)-1].ID
	}
	if len(ids) != 1400 || ids[0] != 1 || ids[len(ids)-1] != 1400 {
		t.Fatalf("the pages held %d events, %d to %d; want 1 to 1400", len(ids), ids[0], ids[len(ids)-1])
	}
	if _, err := h.svc.Backlog(ctx, "no/such", 0); err == nil {
		t.Error("Backlog took an invalid cluster name")
	}
}
