// Package fakerunner is a scripted ports.Runner for tests: a small in-memory model of sky
// (clusters and their statuses) whose supervised runs, like real ones, go on when the
// caller stops following them and can be attached to again, with scenarios that steer
// the model per cluster (slow, hanging, out of quota), hooks to replace any command's
// behaviour and gates to hold a command until the test releases it. It satisfies the
// Runner contract suites of ports/porttest.
package fakerunner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Cluster is the model's view of one sky cluster.
type Cluster struct {
	Status core.SkyStatus
	Cloud  string
	Region string
	IP     string
}

// Scenario is how the model's sky behaves on one cluster, as the stub sky's scenario
// files steer it.
type Scenario string

const (
	// ScenarioSuccess: every command succeeds (as with no scenario).
	ScenarioSuccess Scenario = "success"
	// ScenarioSlow: commands succeed, waiting slowPause before each line and before they
	// end, so that they take at least 200 ms.
	ScenarioSlow Scenario = "slow"
	// ScenarioHang: a launch prints its first line, then runs until it is cancelled.
	ScenarioHang Scenario = "hang"
	// ScenarioQuota: a launch fails for want of quota, and the cluster is not made (one
	// that existed is left as it was).
	ScenarioQuota Scenario = "quota"
)

// slowPause is what a slow command waits before each of its lines and before it ends.
const slowPause = 100 * time.Millisecond

// RunFunc replaces a mutating command. It may print lines with say and change the model
// through r; it should return once ctx is cancelled (the run was cancelled).
type RunFunc func(ctx context.Context, r *Runner, op ports.Operation, say func(string)) ports.RunOutcome

// StatusFunc replaces `sky status`.
type StatusFunc func(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error)

// Runner is the fake. The zero value is not ready: use New.
type Runner struct {
	mu       sync.Mutex
	clusters map[string]Cluster
	calls    []string
	gates    map[string]chan struct{}
	runs     map[ports.OperationKey]*run
	order    []ports.OperationKey
	// scenarios steer the model's runs per cluster (SetScenario).
	scenarios map[string]Scenario

	// Installed false makes every command fail with ports.ErrSkyNotFound.
	Installed bool
	// SkyVersion is what `sky --version` reports.
	SkyVersion core.Version
	// CheckResult is what `sky check` reports; CheckErr, when set, is its failure.
	CheckResult core.CheckResult
	CheckErr    error

	// Hooks replace the model's behaviour (and the cluster's scenario) for one command
	// when set.
	OnRun    map[core.Action]RunFunc
	OnStatus StatusFunc
}

// run is one supervised run: it goes on whether or not anybody follows it.
type run struct {
	op     ports.Operation
	lines  []ports.Line
	more   chan struct{} // closed and replaced when a line is added or the run ends
	done   bool
	out    ports.RunOutcome
	cancel context.CancelFunc
	ended  chan struct{}
}

var _ ports.Runner = (*Runner)(nil)

// EnabledCheck is a check with AWS and GCP enabled and Azure disabled.
func EnabledCheck() core.CheckResult {
	return core.CheckResult{Enabled: []string{"aws", "gcp"}, Disabled: map[string]string{"azure": "Azure CLI returned error."}}
}

// New returns a fake with sky 0.10.3 installed, AWS and GCP enabled, and no cluster.
func New() *Runner {
	return &Runner{
		clusters: map[string]Cluster{}, gates: map[string]chan struct{}{}, runs: map[ports.OperationKey]*run{},
		scenarios: map[string]Scenario{},
		Installed: true, SkyVersion: core.Version{Major: 0, Minor: 10, Patch: 3, Raw: "0.10.3"},
		CheckResult: EnabledCheck(), OnRun: map[core.Action]RunFunc{},
	}
}

// SetCluster puts a cluster into the model (a change made outside skygate); a zero
// Status removes it.
func (r *Runner) SetCluster(name string, c Cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Status == "" {
		delete(r.clusters, name)
		return
	}
	r.clusters[name] = c
}

// SetScenario makes the model's runs on cluster that start from now on behave as s. It
// panics on a scenario the model does not know.
func (r *Runner) SetScenario(cluster string, s Scenario) {
	switch s {
	case ScenarioSuccess, ScenarioSlow, ScenarioHang, ScenarioQuota:
	default:
		panic(fmt.Sprintf("fakerunner: unknown scenario %q", s))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scenarios[cluster] = s
}

// SetCheck sets what `sky check` reports from now on.
func (r *Runner) SetCheck(result core.CheckResult, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.CheckResult, r.CheckErr = result, err
}

// ClusterOf returns the model's cluster.
func (r *Runner) ClusterOf(name string) (Cluster, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clusters[name]
	return c, ok
}

// Calls lists the commands run so far, e.g. "launch c1", "status --refresh a b".
func (r *Runner) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Count is how many calls start with prefix.
func (r *Runner) Count(prefix string) int {
	n := 0
	for _, c := range r.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// Hold makes the next calls whose text starts with command wait until Release.
func (r *Runner) Hold(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gates[command] = make(chan struct{})
}

// Release lets the held calls of command go on.
func (r *Runner) Release(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g, ok := r.gates[command]; ok {
		close(g)
		delete(r.gates, command)
	}
}

// Lose ends a run and forgets it, as if its supervisor and sky had died with the machine
// without recording how sky ended.
func (r *Runner) Lose(key ports.OperationKey) {
	r.mu.Lock()
	rn := r.runs[key]
	delete(r.runs, key)
	r.mu.Unlock()
	if rn != nil {
		rn.cancel()
		<-rn.ended
	}
}

// Running lists the keys of runs that have not ended.
func (r *Runner) Running() []ports.OperationKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []ports.OperationKey
	for _, k := range r.order {
		if run := r.runs[k]; run != nil && !run.done {
			keys = append(keys, k)
		}
	}
	return keys
}

// begin records a call and returns the gate it must pass.
func (r *Runner) begin(call string) (chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	if !r.Installed {
		return nil, ports.ErrSkyNotFound
	}
	for prefix, g := range r.gates {
		if strings.HasPrefix(call, prefix) {
			return g, nil
		}
	}
	return nil, nil
}

func wait(ctx context.Context, gate chan struct{}) error {
	if gate == nil {
		return ctx.Err()
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start begins op's run in the background and follows it.
func (r *Runner) Start(ctx context.Context, op ports.Operation, onLine ports.LineFunc) (ports.RunOutcome, error) {
	if err := ctx.Err(); err != nil {
		return ports.RunOutcome{}, err
	}
	gate, err := r.begin(string(op.Action) + " " + op.Cluster)
	if err != nil {
		return ports.RunOutcome{}, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	rn := &run{op: op, more: make(chan struct{}), cancel: cancel, ended: make(chan struct{})}
	r.mu.Lock()
	if _, dup := r.runs[op.Key]; dup {
		r.mu.Unlock()
		cancel()
		return ports.RunOutcome{}, fmt.Errorf("a run of %s exists already", op.Key)
	}
	r.runs[op.Key] = rn
	r.order = append(r.order, op.Key)
	hook, scenario := r.OnRun[op.Action], r.scenarios[op.Cluster]
	r.mu.Unlock()
	go func() {
		defer cancel()
		var out ports.RunOutcome
		if err := wait(runCtx, gate); err != nil {
			out = ports.RunOutcome{Failed: true, Message: "sky was terminated"}
		} else if hook != nil {
			out = hook(runCtx, r, op, func(line string) { r.say(rn, line) })
		} else {
			out = r.model(runCtx, op, scenario, func(line string) { r.say(rn, line) })
		}
		r.mu.Lock()
		rn.done, rn.out = true, out
		close(rn.more)
		r.mu.Unlock()
		close(rn.ended)
	}()
	return r.follow(ctx, rn, 0, onLine)
}

func (r *Runner) say(rn *run, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var offset int64
	if n := len(rn.lines); n > 0 {
		offset = rn.lines[n-1].Offset
	}
	rn.lines = append(rn.lines, ports.Line{Text: text, Offset: offset + int64(len(text)) + 1})
	close(rn.more)
	rn.more = make(chan struct{})
}

// follow delivers rn's lines after offset, then its outcome once it has ended. Once ctx
// has ended it delivers no more lines and returns ctx's error, even when the run has
// ended: the caller did not see all of it.
func (r *Runner) follow(ctx context.Context, rn *run, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	next := 0
	for {
		r.mu.Lock()
		lines := rn.lines[next:]
		next = len(rn.lines)
		done, out, more := rn.done, rn.out, rn.more
		r.mu.Unlock()
		for _, l := range lines {
			if ctx.Err() != nil {
				break
			}
			if l.Offset > offset && onLine != nil {
				onLine(l)
			}
		}
		if err := ctx.Err(); err != nil {
			return ports.RunOutcome{}, err
		}
		if done {
			return out, nil
		}
		select {
		case <-more:
		case <-ctx.Done():
			return ports.RunOutcome{}, ctx.Err()
		}
	}
}

// Attach follows the run of key.
func (r *Runner) Attach(ctx context.Context, key ports.OperationKey, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	if err := ctx.Err(); err != nil {
		return ports.RunOutcome{}, err
	}
	r.mu.Lock()
	r.calls = append(r.calls, "attach "+string(key))
	rn := r.runs[key]
	r.mu.Unlock()
	if rn == nil {
		return ports.RunOutcome{}, ports.ErrNoOperation
	}
	return r.follow(ctx, rn, offset, onLine)
}

// Cancel ends the run of key and waits for it.
func (r *Runner) Cancel(ctx context.Context, key ports.OperationKey) error {
	r.mu.Lock()
	r.calls = append(r.calls, "cancel "+string(key))
	rn := r.runs[key]
	r.mu.Unlock()
	if rn == nil {
		return nil
	}
	rn.cancel()
	select {
	case <-rn.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Forget drops finished runs but the newest keep.
func (r *Runner) Forget(keep int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var finished []ports.OperationKey
	for _, k := range r.order {
		if rn := r.runs[k]; rn != nil && rn.done {
			finished = append(finished, k)
		}
	}
	for i := 0; i < len(finished)-keep; i++ {
		delete(r.runs, finished[i])
	}
	r.order = slices.DeleteFunc(r.order, func(k ports.OperationKey) bool { return r.runs[k] == nil })
	return nil
}

// model is the default behaviour of the mutating commands, with real sky's texts, as
// scenario steers it.
func (r *Runner) model(ctx context.Context, op ports.Operation, scenario Scenario, say func(string)) ports.RunOutcome {
	terminated := ports.RunOutcome{Failed: true, Message: "sky was terminated"}
	// slow waits as a slow command does; false when the run was cancelled meanwhile.
	slow := func() bool {
		if scenario != ScenarioSlow {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(slowPause):
			return true
		}
	}
	line := func(text string) bool {
		if !slow() {
			return false
		}
		say(text)
		return true
	}
	name := op.Cluster
	c, exists := r.ClusterOf(name)
	switch op.Action {
	case core.ActionLaunch:
		if !line("⚙︎ Launching on AWS us-east-1 (us-east-1a).") {
			return terminated
		}
		r.SetCluster(name, Cluster{Status: core.SkyInit, Cloud: "aws", Region: "us-east-1"})
		switch scenario {
		case ScenarioHang:
			<-ctx.Done()
			return terminated
		case ScenarioQuota:
			return r.failQuota(name, c, exists, say)
		}
		if ctx.Err() != nil || !line("✓ Cluster launched: "+name+".") {
			return terminated
		}
		r.SetCluster(name, Cluster{Status: core.SkyUp, Cloud: "aws", Region: "us-east-1", IP: "203.0.113.10"})
	case core.ActionStop:
		if !exists {
			line("Cluster(s) not found (tip: see `sky status`).")
			break
		}
		if !line("Stopping cluster " + name + "...done.") {
			return terminated
		}
		c.Status, c.IP = core.SkyStopped, ""
		r.SetCluster(name, c)
	case core.ActionStart:
		if !exists {
			line("Cluster(s) not found (tip: see `sky status`).")
			break
		}
		if !line("Cluster " + name + " started.") {
			return terminated
		}
		c.Status, c.IP = core.SkyUp, "203.0.113.11"
		r.SetCluster(name, c)
	case core.ActionDestroy:
		if !exists {
			line("Cluster(s) not found (tip: see `sky status`).")
			break
		}
		if !line("Terminating cluster " + name + "...done.") {
			return terminated
		}
		r.SetCluster(name, Cluster{})
	}
	if !slow() {
		return terminated
	}
	return ports.RunOutcome{}
}

// failQuota ends a launch that found no quota, as sky does: a cluster the launch was
// making is removed, and one that existed is left as it was before.
func (r *Runner) failQuota(name string, before Cluster, existed bool, say func(string)) ports.RunOutcome {
	quota := "Found no quota for m5.xlarge on-demand instances in region us-east-1 in AWS. " +
		"To request quotas, check the instruction: https://docs.skypilot.co/en/latest/cloud-setup/quota.html."
	output := []string{quota, "sky.exceptions.ResourcesUnavailableError: " + quota}
	for _, l := range output {
		say(l)
	}
	if !existed {
		before = Cluster{}
	}
	r.SetCluster(name, before)
	return ports.RunOutcome{Failed: true, Message: core.RunMessage("", strings.Join(output, "\n"), true)}
}

// Status reports the model's clusters.
func (r *Runner) Status(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error) {
	call := "status "
	if refresh {
		call += "--refresh "
	}
	gate, err := r.begin(call + strings.Join(names, " "))
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, gate); err != nil {
		return nil, err
	}
	if r.OnStatus != nil {
		return r.OnStatus(ctx, names, refresh)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]core.SkyCluster, len(names))
	for _, n := range names {
		if c, ok := r.clusters[n]; ok {
			out[n] = core.SkyCluster{Found: true, Status: c.Status, Cloud: c.Cloud, Region: c.Region}
		} else {
			out[n] = core.SkyCluster{}
		}
	}
	return out, nil
}

// IP reports the model's head address of a cluster that is up.
func (r *Runner) IP(ctx context.Context, name string) (string, error) {
	gate, err := r.begin("ip " + name)
	if err != nil {
		return "", err
	}
	if err := wait(ctx, gate); err != nil {
		return "", err
	}
	c, ok := r.ClusterOf(name)
	if !ok || c.Status != core.SkyUp || c.IP == "" {
		return "", core.Errorf(core.KindUpstream, core.KeySky, "cluster %s is not up", name)
	}
	return c.IP, nil
}

// Check reports CheckResult or CheckErr.
func (r *Runner) Check(ctx context.Context) (core.CheckResult, error) {
	gate, err := r.begin("check")
	if err != nil {
		return core.CheckResult{}, err
	}
	if err := wait(ctx, gate); err != nil {
		return core.CheckResult{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.CheckResult, r.CheckErr
}

// Version reports SkyVersion.
func (r *Runner) Version(ctx context.Context) (core.Version, error) {
	gate, err := r.begin("version")
	if err != nil {
		return core.Version{}, err
	}
	if err := wait(ctx, gate); err != nil {
		return core.Version{}, err
	}
	return r.SkyVersion, nil
}
