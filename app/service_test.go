package app_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
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
)

var start = time.Date(2026, 2, 14, 12, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	sky   *fakerunner.Runner
	store ports.Store
	bus   *membus.Bus
	clock *clock.Fake
	dir   string
	svc   *app.Service
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, sky: fakerunner.New(), store: memstore.New(memstore.Options{}), clock: clock.NewFake(start), dir: t.TempDir()}
	h.bus = membus.New(membus.Options{})
	h.svc = h.service(app.Config{})
	return h
}

// service builds a service over the harness's sky, store and clock.
func (h *harness) service(cfg app.Config) *app.Service {
	cfg.ClusterName = "skygate"
	svc := app.New(cfg, h.sky, h.store, h.bus, h.clock, app.DirTaskFiles(h.dir), zerolog.Nop())
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Shutdown(ctx)
	})
	return svc
}

func (h *harness) record() core.Cluster {
	h.t.Helper()
	rec, err := h.store.Load(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// waitFor polls the record until cond holds; the timeout is only a safety net.
func (h *harness) waitFor(what string, cond func(core.Cluster) bool) core.Cluster {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := h.record()
		if cond(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; record %+v; events %v", what, rec, h.eventTypes())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) waitStatus(want core.ClusterStatus) core.Cluster {
	h.t.Helper()
	return h.waitFor("status "+string(want), func(c core.Cluster) bool { return c.Status == want && c.Operation == "" })
}

func (h *harness) events() []core.Event {
	h.t.Helper()
	evs, err := h.store.Events(context.Background(), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func (h *harness) eventTypes() []string {
	var out []string
	for _, ev := range h.events() {
		s := string(ev.Type)
		if ev.Type == core.EventStatus {
			s += ":" + string(ev.Status)
		}
		out = append(out, s)
	}
	return out
}

// lastOf returns the last event of type t.
func (h *harness) lastOf(t core.EventType) core.Event {
	evs := h.events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == t {
			return evs[i]
		}
	}
	h.t.Fatalf("no %s event in %v", t, h.eventTypes())
	return core.Event{}
}

func (h *harness) launch() {
	h.t.Helper()
	if _, err := h.svc.Launch(context.Background(), core.LaunchRequest{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitStatus(core.StatusRunning)
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
	acc, err := h.svc.Launch(context.Background(), core.LaunchRequest{Cloud: "aws", Region: "us-east-1", InstanceType: "m5.xlarge"})
	if err != nil {
		t.Fatal(err)
	}
	if acc.ClusterName != "skygate" || acc.Message == "" {
		t.Fatalf("accepted = %+v", acc)
	}
	rec := h.waitStatus(core.StatusRunning)
	if rec.IP != "3.91.7.12" || rec.LaunchedAt.IsZero() || rec.Cloud != "aws" || rec.Region != "us-east-1" || rec.InstanceType != "m5.xlarge" || rec.Error != "" {
		t.Fatalf("record = %+v", rec)
	}
	got := strings.Join(h.eventTypes(), ",")
	want := "status:provisioning,progress,progress,progress,progress,status:running,complete"
	if got != want {
		t.Fatalf("events = %s, want %s", got, want)
	}
	evs := h.events()
	for i, ev := range evs {
		if ev.ID != uint64(i+1) || ev.OperationID != rec.OperationID {
			t.Fatalf("event %d = %+v", i, ev)
		}
	}
	if h.lastOf(core.EventComplete).Message != "Cluster is UP" {
		t.Errorf("complete message = %q", h.lastOf(core.EventComplete).Message)
	}
	// The task YAML: written 0600 under the task dir, with the request in it.
	files, _ := os.ReadDir(h.dir)
	if len(files) != 1 {
		t.Fatalf("task files = %v", files)
	}
	info, _ := files[0].Info()
	data, _ := os.ReadFile(h.dir + "/" + files[0].Name())
	if info.Mode().Perm() != 0o600 || !strings.Contains(string(data), `infra: "aws/us-east-1"`) || !strings.Contains(string(data), `instance_type: "m5.xlarge"`) {
		t.Fatalf("task file %s mode %v:\n%s", files[0].Name(), info.Mode(), data)
	}
}

func TestLaunchRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fakerunner.Runner)
		req   core.LaunchRequest
		kind  core.ErrorKind
		key   string
		text  string
	}{
		{"sky missing", func(r *fakerunner.Runner) { r.Installed = false }, core.LaunchRequest{}, core.KindDependencyMissing, core.KeySky, "not installed"},
		{"no cloud", func(r *fakerunner.Runner) { r.CheckOutput = fakerunner.NoCloudCheck }, core.LaunchRequest{}, core.KindDependencyMissing, core.KeyCredentials, "no cloud"},
		{"cloud not enabled", nil, core.LaunchRequest{Cloud: "azure"}, core.KindDependencyMissing, core.KeyCredentials, "azure is not enabled"},
		{"unknown cloud", nil, core.LaunchRequest{Cloud: "mars"}, core.KindInvalid, "body.cloud", "unknown cloud"},
		{"bad region", nil, core.LaunchRequest{Region: "us east"}, core.KindInvalid, "body.region", "region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h.sky)
			}
			_, err := h.svc.Launch(context.Background(), tc.req)
			wantKind(t, err, tc.kind, tc.key)
			if de, _ := core.AsError(err); !strings.Contains(de.Message, tc.text) {
				t.Errorf("message %q lacks %q", de.Message, tc.text)
			}
			if rec := h.record(); rec.Status != core.StatusNoServer || len(h.events()) != 0 || h.sky.Count("launch") != 0 {
				t.Fatalf("a refused launch changed something: %+v %v %v", rec, h.eventTypes(), h.sky.Calls())
			}
		})
	}
}

func TestConcurrentLaunchesExactlyOneWins(t *testing.T) {
	h := newHarness(t)
	h.sky.Hold("launch")
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.svc.Launch(context.Background(), core.LaunchRequest{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if de, ok := core.AsError(err); ok && de.Kind == core.KindConflict {
				conflicts++
			}
		}()
	}
	wg.Wait()
	h.sky.Release("launch")
	h.waitStatus(core.StatusRunning)
	if wins != 1 || conflicts != n-1 || h.sky.Count("launch") != 1 {
		t.Fatalf("wins=%d conflicts=%d launches=%d", wins, conflicts, h.sky.Count("launch"))
	}
	if h.sky.Count("check") != 1 {
		t.Errorf("sky check ran %d times; concurrent launches must share it", h.sky.Count("check"))
	}
}

func TestStopStartDestroy(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.svc.Stop(ctx)
	wantKind(t, err, core.KindNotFound, core.KeyCluster)
	_, err = h.svc.Destroy(ctx)
	wantKind(t, err, core.KindNotFound, core.KeyCluster)
	h.launch()
	_, err = h.svc.Start(ctx)
	wantKind(t, err, core.KindConflict, core.KeyCluster)

	if _, err := h.svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := h.waitStatus(core.StatusStopped); rec.IP != "" || rec.Name != "skygate" {
		t.Fatalf("stopped record = %+v", rec)
	}
	if h.lastOf(core.EventComplete).Message != "Cluster is STOPPED" {
		t.Errorf("complete = %q", h.lastOf(core.EventComplete).Message)
	}
	if _, err := h.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := h.waitStatus(core.StatusRunning); rec.IP != "3.91.7.13" {
		t.Fatalf("started record = %+v", rec)
	}
	if _, err := h.svc.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := h.waitStatus(core.StatusNoServer); rec.Name != "" || rec.IP != "" || rec.Cloud != "" {
		t.Fatalf("destroyed record = %+v", rec)
	}
	if _, ok := h.sky.ClusterOf("skygate"); ok {
		t.Fatal("sky still has the cluster")
	}
}

func TestDestroyCancelsLaunch(t *testing.T) {
	h := newHarness(t)
	h.sky.Hold("launch")
	launchCancelled := make(chan struct{})
	h.sky.OnLaunch = func(ctx context.Context, spec ports.LaunchSpec, onLine ports.LineFunc) (ports.RunResult, error) {
		onLine("⚙︎ Launching on AWS us-east-1 (us-east-1a).")
		h.sky.SetCluster(spec.ClusterName, fakerunner.Cluster{Status: "INIT", Infra: "AWS (us-east-1)"})
		<-ctx.Done()
		close(launchCancelled)
		return ports.RunResult{ExitCode: -1}, ctx.Err()
	}
	if _, err := h.svc.Launch(context.Background(), core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("launch output", func(core.Cluster) bool { return len(h.events()) >= 2 })
	if _, err := h.svc.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-launchCancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the launch was not cancelled")
	}
	h.waitStatus(core.StatusNoServer)
	_, err := h.svc.Destroy(context.Background())
	wantKind(t, err, core.KindNotFound, core.KeyCluster)
	calls := strings.Join(h.sky.Calls(), ",")
	if !strings.Contains(calls, "launch skygate") || !strings.Contains(calls, "down skygate") ||
		strings.Index(calls, "down skygate") < strings.Index(calls, "launch skygate") {
		t.Fatalf("calls = %s", calls)
	}
	got := strings.Join(h.eventTypes(), ",")
	want := "status:provisioning,progress,status:destroying,progress,status:no_server,complete"
	if got != want {
		t.Fatalf("events = %s, want %s", got, want)
	}
}

func TestDestroyWhileDestroyingConflicts(t *testing.T) {
	h := newHarness(t)
	h.launch()
	h.sky.Hold("down")
	if _, err := h.svc.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.Destroy(context.Background())
	wantKind(t, err, core.KindConflict, core.KeyCluster)
	if de, _ := core.AsError(err); !strings.Contains(de.Message, "destroying") {
		t.Errorf("conflict %q does not say destroying", de.Message)
	}
	h.sky.Release("down")
	h.waitStatus(core.StatusNoServer)
}

const quotaStdout = "⚙︎ Launching on AWS us-east-1 (us-east-1a, us-east-1b).\n" +
	"Found no quota for p4d.24xlarge on-demand instances in region us-east-1 in AWS. To request quotas, check the instruction: https://docs.skypilot.co/en/latest/cloud-setup/quota.html.\n" +
	"⨯ Failed to provision resources. View logs: sky logs --provision skygate\n"

const quotaStderr = "sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources. Relax the task's resource requirements: 1x AWS(p4d.24xlarge, {'A100': 8})\n" +
	"To keep retrying until the cluster is up, use the `--retry-until-up` flag.\n"

func TestLaunchFailureReachesErrorField(t *testing.T) {
	h := newHarness(t)
	h.sky.OnLaunch = func(ctx context.Context, spec ports.LaunchSpec, onLine ports.LineFunc) (ports.RunResult, error) {
		for _, l := range core.CleanLines(quotaStdout) {
			onLine(l)
		}
		return ports.RunResult{ExitCode: 1, Stdout: quotaStdout, Stderr: quotaStderr}, nil
	}
	if _, err := h.svc.Launch(context.Background(), core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	rec := h.waitStatus(core.StatusError)
	want := core.ExtractError(quotaStderr, quotaStdout)
	if want == "" || !strings.Contains(rec.Error, want) || strings.Contains(rec.Error, "sky.exceptions") {
		t.Fatalf("error = %q, want it to contain %q", rec.Error, want)
	}
	if ev := h.lastOf(core.EventError); ev.Message != rec.Error {
		t.Errorf("error event %q != record error %q", ev.Message, rec.Error)
	}
	// error → launch is a retry.
	h.sky.OnLaunch = nil
	h.launch()
	if rec := h.record(); rec.Error != "" {
		t.Fatalf("retry kept the old error: %+v", rec)
	}
}

func TestStopUnsupportedKeepsRunning(t *testing.T) {
	h := newHarness(t)
	h.launch()
	out := "Stopping cluster 'skygate'... skipped.\n  Stopping is currently not supported for Kubernetes.\n  To terminate the cluster instead, run: sky down skygate\nCluster(s) failed. See details above.\n"
	h.sky.OnStop = func(ctx context.Context, name string, onLine ports.LineFunc) (ports.RunResult, error) {
		return ports.RunResult{Stdout: out}, nil // exit 0, as sky does
	}
	if _, err := h.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("stop to settle", func(c core.Cluster) bool { return c.Operation == "" && c.Status != core.StatusStopping })
	rec := h.record()
	if rec.Status != core.StatusRunning || rec.IP == "" {
		t.Fatalf("record = %+v", rec)
	}
	if ev := h.lastOf(core.EventError); !strings.Contains(ev.Message, "not supported for Kubernetes") {
		t.Fatalf("error event = %q", ev.Message)
	}
}

func TestSkyMissingDuringStop(t *testing.T) {
	h := newHarness(t)
	h.launch()
	h.sky.Installed = false
	if _, err := h.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := h.waitStatus(core.StatusError)
	if !strings.Contains(rec.Error, "not installed") {
		t.Fatalf("error = %q", rec.Error)
	}
}

// restart builds a new service over the same store, as after a crash.
func (h *harness) restart(cfg app.Config) {
	h.bus = membus.New(membus.Options{})
	history, _ := h.store.Events(context.Background(), 0)
	h.bus.Seed(history)
	h.svc = h.service(cfg)
	h.svc.Resume()
}

func (h *harness) seed(rec core.Cluster) {
	h.t.Helper()
	_, _, err := h.store.Update(context.Background(), func(core.Cluster) (core.Cluster, []core.Event, error) {
		return rec, []core.Event{core.StatusEvent(start, rec.OperationID, rec.Status, "seeded")}, nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestRecoveryAfterRestart(t *testing.T) {
	cases := []struct {
		name    string
		status  core.ClusterStatus
		action  core.Action
		sky     string // the model's cluster status after the restart ("" = absent)
		want    core.ClusterStatus
		verdict core.EventType
	}{
		{"provisioning, launch finished", core.StatusProvisioning, core.ActionLaunch, "UP", core.StatusRunning, core.EventComplete},
		{"provisioning, launch vanished", core.StatusProvisioning, core.ActionLaunch, "", core.StatusError, core.EventError},
		{"stopping, stopped", core.StatusStopping, core.ActionStop, "STOPPED", core.StatusStopped, core.EventComplete},
		{"stopping, still up", core.StatusStopping, core.ActionStop, "UP", core.StatusRunning, core.EventError},
		{"starting, up", core.StatusStarting, core.ActionStart, "UP", core.StatusRunning, core.EventComplete},
		{"destroying, gone", core.StatusDestroying, core.ActionDestroy, "", core.StatusNoServer, core.EventComplete},
		{"destroying, still there", core.StatusDestroying, core.ActionDestroy, "STOPPED", core.StatusStopped, core.EventError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.seed(core.Cluster{Name: "skygate", Status: tc.status, Operation: tc.action, OperationID: 4, Cloud: "aws"})
			if tc.sky != "" {
				h.sky.SetCluster("skygate", fakerunner.Cluster{Status: tc.sky, Infra: "AWS (us-east-1)", IP: "5.5.5.5"})
			}
			h.restart(app.Config{})
			rec := h.waitStatus(tc.want)
			if rec.Operation != "" {
				t.Fatalf("operation still in flight: %+v", rec)
			}
			if ev := h.events(); ev[len(ev)-1].Type != tc.verdict || ev[len(ev)-1].OperationID != 4 {
				t.Fatalf("events = %v", h.eventTypes())
			}
			if h.sky.Count("status --refresh") == 0 {
				t.Fatalf("recovery did not ask sky status --refresh: %v", h.sky.Calls())
			}
		})
	}
}

func TestRecoveryPollsWhileSkyReportsInit(t *testing.T) {
	h := newHarness(t)
	h.seed(core.Cluster{Name: "skygate", Status: core.StatusProvisioning, Operation: core.ActionLaunch, OperationID: 1})
	h.sky.SetCluster("skygate", fakerunner.Cluster{Status: "INIT", Infra: "AWS (us-east-1)"})
	h.restart(app.Config{PollInterval: 5 * time.Second, RefreshInterval: time.Hour})
	h.waitFor("a poll timer", func(core.Cluster) bool { return h.clock.Waiters() > 0 && h.sky.Count("status --refresh") == 1 })
	if rec := h.record(); rec.Status != core.StatusProvisioning {
		t.Fatalf("INIT must keep provisioning, got %+v", rec)
	}
	h.sky.SetCluster("skygate", fakerunner.Cluster{Status: "UP", Infra: "AWS (us-east-1)", IP: "6.6.6.6"})
	h.clock.Advance(5 * time.Second)
	rec := h.waitStatus(core.StatusRunning)
	if rec.IP != "6.6.6.6" || h.sky.Count("status --refresh") != 2 {
		t.Fatalf("record %+v, calls %v", rec, h.sky.Calls())
	}
}

func TestDestroyCancelsRecoveryPolling(t *testing.T) {
	h := newHarness(t)
	h.seed(core.Cluster{Name: "skygate", Status: core.StatusProvisioning, Operation: core.ActionLaunch, OperationID: 1})
	h.sky.SetCluster("skygate", fakerunner.Cluster{Status: "INIT", Infra: "AWS (us-east-1)"})
	h.restart(app.Config{RefreshInterval: time.Hour})
	h.waitFor("a poll timer", func(core.Cluster) bool { return h.clock.Waiters() > 0 })
	if _, err := h.svc.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(core.StatusNoServer)
	if h.sky.Count("down") != 1 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
}

func TestBackgroundRefreshNoticesExternalDown(t *testing.T) {
	h := newHarness(t)
	h.svc = h.service(app.Config{RefreshInterval: time.Minute})
	h.svc.Resume()
	h.launch()
	h.sky.SetCluster("skygate", fakerunner.Cluster{}) // `sky down` by hand
	h.waitFor("the refresh timer", func(core.Cluster) bool { return h.clock.Waiters() > 0 })
	h.clock.Advance(time.Minute)
	rec := h.waitStatus(core.StatusNoServer)
	if rec.Name != "" {
		t.Fatalf("record = %+v", rec)
	}
	if ev := h.lastOf(core.EventStatus); ev.Status != core.StatusNoServer || !strings.Contains(ev.Message, "no longer exists") {
		t.Fatalf("status event = %+v", ev)
	}
}

func TestStatusRefreshSharesOneSkyRun(t *testing.T) {
	h := newHarness(t)
	h.launch()
	h.sky.Hold("status")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := h.svc.Status(context.Background(), true)
			if err == nil && rec.Status != core.StatusStopped {
				err = errors.New("refresh did not see the stop: " + string(rec.Status))
			}
			errs <- err
		}()
	}
	h.waitFor("the refresh to start", func(core.Cluster) bool { return h.sky.Count("status --refresh") == 1 })
	h.sky.SetCluster("skygate", fakerunner.Cluster{Status: "STOPPED", Infra: "AWS (us-east-1)"})
	time.Sleep(20 * time.Millisecond) // let the other callers join the run in flight
	h.sky.Release("status")
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := h.sky.Count("status --refresh"); c != 1 {
		t.Fatalf("status --refresh ran %d times", c)
	}
}

func TestStatusWithoutRefreshRunsNoSky(t *testing.T) {
	h := newHarness(t)
	h.launch()
	before := len(h.sky.Calls())
	for range 10 {
		if _, err := h.svc.Status(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.sky.Calls()) != before {
		t.Fatalf("status ran sky: %v", h.sky.Calls()[before:])
	}
}

func TestCheckIsCached(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	info, err := h.svc.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !info.SkyInstalled || info.Version.String() != "0.10.3" || strings.Join(info.Enabled, ",") != "aws,gcp" || info.Disabled["azure"] == "" {
		t.Fatalf("info = %+v", info)
	}
	h.svc.Check(ctx, false)
	if c := h.sky.Count("check"); c != 1 {
		t.Fatalf("cached check ran sky %d times", c)
	}
	h.clock.Advance(5 * time.Minute)
	h.svc.Check(ctx, false)
	h.svc.Check(ctx, true)
	if c := h.sky.Count("check"); c != 3 {
		t.Fatalf("check ran %d times, want 3 (expiry and refresh)", c)
	}
	h.sky.Installed = false
	info, err = h.svc.Check(ctx, true)
	if err != nil || info.SkyInstalled || info.Enabled == nil || len(info.Enabled) != 0 {
		t.Fatalf("sky missing: %+v %v", info, err)
	}
}

func TestEventsReplay(t *testing.T) {
	h := newHarness(t)
	h.launch()
	// At rest, a new connection gets nothing old.
	replay, sub, err := h.svc.Events(context.Background(), nil)
	if err != nil || len(replay) != 0 {
		t.Fatalf("replay at rest = %v, %v", replay, err)
	}
	sub.Close()
	// During an operation, a new connection gets that operation's events.
	h.sky.Hold("stop")
	h.svc.Stop(context.Background())
	replay, sub, _ = h.svc.Events(context.Background(), nil)
	defer sub.Close()
	rec := h.record()
	if len(replay) == 0 || replay[0].Type != core.EventStatus || replay[0].Status != core.StatusStopping {
		t.Fatalf("replay during stop = %+v", replay)
	}
	for _, ev := range replay {
		if ev.OperationID != rec.OperationID {
			t.Fatalf("replay holds an event of another operation: %+v", ev)
		}
	}
	// With Last-Event-ID, every kept event after it.
	after := uint64(2)
	replay2, sub2, _ := h.svc.Events(context.Background(), &after)
	defer sub2.Close()
	if len(replay2) != len(h.events())-2 || replay2[0].ID != 3 {
		t.Fatalf("resume replay = %+v", replay2)
	}
	h.sky.Release("stop")
	// The live subscription sees the rest, ending with complete.
	for {
		select {
		case ev := <-sub.Events():
			if ev.Type == core.EventComplete {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no complete event on the live subscription")
		}
	}
}

func TestShutdownLeavesOperationForRecovery(t *testing.T) {
	h := newHarness(t)
	h.sky.Hold("launch")
	if _, err := h.svc.Launch(context.Background(), core.LaunchRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h.svc.Shutdown(ctx)
	rec := h.record()
	if rec.Status != core.StatusProvisioning || rec.Operation != core.ActionLaunch {
		t.Fatalf("record after shutdown = %+v", rec)
	}
	_, err := h.svc.Destroy(context.Background())
	wantKind(t, err, core.KindConflict, core.KeyCluster)
}

func TestLaunchFindsSkyInstalledAfterTheCheck(t *testing.T) {
	h := newHarness(t)
	h.sky.Installed = false
	if info, _ := h.svc.Check(context.Background(), false); info.SkyInstalled {
		t.Fatal("check found a missing sky")
	}
	h.sky.Installed = true
	h.launch()
}

func TestTaskFilesKeepOnlyTheNewest(t *testing.T) {
	dir := t.TempDir()
	files := app.DirTaskFiles(dir)
	first, err := files.Write("launch-1.yaml", "a: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	second, err := files.Write("launch-2.yaml", "a: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("the older task file is still there: %v", err)
	}
	data, err := os.ReadFile(second)
	info, _ := os.Stat(second)
	if err != nil || string(data) != "a: 2\n" || info.Mode().Perm() != 0o600 {
		t.Fatalf("newest file: %q %v %v", data, info.Mode(), err)
	}
}

func TestLaunchGoesAheadWhenTheCheckIsUnreadable(t *testing.T) {
	h := newHarness(t)
	h.sky.CheckOutput = "something sky never printed\n"
	if _, err := h.svc.Check(context.Background(), false); err == nil {
		t.Fatal("an unreadable check was accepted")
	}
	if _, err := h.svc.Launch(context.Background(), core.LaunchRequest{Cloud: "aws"}); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(core.StatusRunning)
	files, _ := os.ReadDir(h.dir)
	data, _ := os.ReadFile(h.dir + "/" + files[0].Name())
	if strings.Contains(string(data), "infra") || !strings.Contains(string(data), `cloud: "aws"`) {
		t.Fatalf("a launch with an unknown version must use the keys every version reads:\n%s", data)
	}
}

func TestRecoveryGivesUpWhenSkyNeverSettles(t *testing.T) {
	h := newHarness(t)
	h.seed(core.Cluster{Name: "skygate", Status: core.StatusProvisioning, Operation: core.ActionLaunch, OperationID: 2, UpdatedAt: start})
	h.sky.SetCluster("skygate", fakerunner.Cluster{Status: "INIT", Infra: "AWS (us-east-1)"})
	h.restart(app.Config{PollInterval: time.Minute, RecoveryTimeout: 10 * time.Minute, RefreshInterval: time.Hour})
	for i := 1; i <= 10; i++ {
		h.waitFor("a poll timer", func(core.Cluster) bool { return h.clock.Waiters() > 0 && h.sky.Count("status --refresh") == i })
		if rec := h.record(); rec.Status != core.StatusProvisioning {
			t.Fatalf("gave up after %d polls: %+v", i, rec)
		}
		h.clock.Advance(time.Minute)
	}
	rec := h.waitStatus(core.StatusError)
	if !strings.Contains(rec.Error, "INIT") || h.lastOf(core.EventError).OperationID != 2 {
		t.Fatalf("record = %+v", rec)
	}
}

func TestStatusFallsBackToTheTableWithoutJSONOutput(t *testing.T) {
	h := newHarness(t)
	h.sky.VersionOutput = "skypilot, version 0.12.0\n"
	h.sky.RejectJSON = true
	h.launch()
	if _, err := h.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(core.StatusStopped)
	if h.sky.Count("status -o json") == 0 || h.sky.Count("status skygate") == 0 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
}

func TestStatusReadsJSONOutput(t *testing.T) {
	h := newHarness(t)
	h.sky.VersionOutput = "skypilot, version 0.12.0\n"
	h.launch()
	if _, err := h.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(core.StatusStopped)
	if h.sky.Count("status -o json") == 0 || h.sky.Count("status skygate") != 0 {
		t.Fatalf("calls = %v", h.sky.Calls())
	}
}
