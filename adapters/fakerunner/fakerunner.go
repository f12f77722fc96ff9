// Package fakerunner is a scripted ports.Runner for tests: a small in-memory model of sky
// (clusters and their statuses) that prints real sky output forms, with hooks to replace
// any command's behaviour and a gate to hold a command until the test releases it.
package fakerunner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/skygate/skygate/ports"
)

// Cluster is the model's view of one sky cluster.
type Cluster struct {
	Status string // INIT, UP, STOPPED
	Infra  string // e.g. "AWS (us-east-1)"
	IP     string
}

// NamedFunc replaces stop, start or down.
type NamedFunc func(ctx context.Context, name string, onLine ports.LineFunc) (ports.RunResult, error)

// Runner is the fake. The zero value is not ready: use New.
type Runner struct {
	mu       sync.Mutex
	clusters map[string]Cluster
	calls    []string
	gates    map[string]chan struct{}

	// Installed false makes every command fail with ports.ErrSkyNotFound.
	Installed bool
	// VersionOutput is what `sky --version` prints.
	VersionOutput string
	// CheckOutput is what `sky check` prints.
	CheckOutput string
	// RejectJSON makes `-o json` a click usage error, as on sky before 0.12.
	RejectJSON bool

	// Hooks replace the model's behaviour for one command when set.
	OnLaunch func(ctx context.Context, spec ports.LaunchSpec, onLine ports.LineFunc) (ports.RunResult, error)
	OnStop   NamedFunc
	OnStart  NamedFunc
	OnDown   NamedFunc
	OnStatus func(ctx context.Context, name string, opts ports.StatusOptions) (ports.RunResult, error)
}

var _ ports.Runner = (*Runner)(nil)

// EnabledCheck is era-D `sky check` output with AWS and GCP enabled.
const EnabledCheck = "Checking credentials to enable infra for SkyPilot.\n" +
	"  AWS: enabled [compute, storage]\n" +
	"  Azure: disabled \n" +
	"    Reason [compute]: Azure CLI returned error. Run the following commands:\n" +
	"  GCP: enabled [compute, storage]\n\n" +
	"\U0001F389 Enabled infra \U0001F389\n  AWS [compute, storage]\n  GCP [compute, storage]\n"

// NoCloudCheck is era-D `sky check` output with nothing enabled.
const NoCloudCheck = "Checking credentials to enable infra for SkyPilot.\n" +
	"  AWS: disabled \n" +
	"    Reason [compute, storage]: AWS credentials are not set. Run the following commands:\n" +
	"      $ aws configure\n\n" +
	"\U0001F389 Enabled infra \U0001F389\n  No infra to check/enabled.\n"

// New returns a fake of sky 0.10.3 with AWS and GCP enabled and no clusters.
func New() *Runner {
	return &Runner{
		clusters:      map[string]Cluster{},
		gates:         map[string]chan struct{}{},
		Installed:     true,
		VersionOutput: "skypilot, version 0.10.3\n",
		CheckOutput:   EnabledCheck,
	}
}

// SetCluster puts a cluster into the model (as if changed outside skygate); an empty
// status removes it.
func (r *Runner) SetCluster(name string, c Cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Status == "" {
		delete(r.clusters, name)
		return
	}
	r.clusters[name] = c
}

// ClusterOf returns the model's cluster and whether it exists.
func (r *Runner) ClusterOf(name string) (Cluster, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clusters[name]
	return c, ok
}

// Calls returns the commands run so far, e.g. "launch skygate", "status --refresh skygate".
func (r *Runner) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// Count returns how many calls started with prefix.
func (r *Runner) Count(prefix string) int {
	n := 0
	for _, c := range r.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// Hold makes the next runs of command ("launch", "stop", "start", "down", "status")
// wait, after their first output line, until Release(command) or their context ends.
func (r *Runner) Hold(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gates[command] = make(chan struct{})
}

// Release lets held runs of command go on.
func (r *Runner) Release(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g, ok := r.gates[command]; ok {
		close(g)
		delete(r.gates, command)
	}
}

func (r *Runner) begin(ctx context.Context, call string) (gate chan struct{}, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	if !r.Installed {
		return nil, ports.ErrSkyNotFound
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	command, _, _ := strings.Cut(call, " ")
	return r.gates[command], nil
}

func wait(ctx context.Context, gate chan struct{}) error {
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func say(onLine ports.LineFunc, lines ...string) {
	if onLine == nil {
		return
	}
	for _, l := range lines {
		onLine(l)
	}
}

// Launch models `sky launch`: INIT, then UP.
func (r *Runner) Launch(ctx context.Context, spec ports.LaunchSpec, onLine ports.LineFunc) (ports.RunResult, error) {
	gate, err := r.begin(ctx, "launch "+spec.ClusterName)
	if err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	if r.OnLaunch != nil {
		return r.OnLaunch(ctx, spec, onLine)
	}
	say(onLine, "YAML to run: "+spec.YAMLPath)
	r.SetCluster(spec.ClusterName, Cluster{Status: "INIT", Infra: "AWS (us-east-1)"})
	say(onLine, "⚙︎ Launching on AWS us-east-1 (us-east-1a, us-east-1b).")
	if err := wait(ctx, gate); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	r.SetCluster(spec.ClusterName, Cluster{Status: "UP", Infra: "AWS (us-east-1)", IP: "3.91.7.12"})
	out := "✓ Cluster launched: " + spec.ClusterName + ".  View logs: sky logs --provision " + spec.ClusterName
	say(onLine, "└── Instance is up.", out)
	return ports.RunResult{Stdout: out + "\n"}, nil
}

func (r *Runner) named(ctx context.Context, command, name string, hook NamedFunc, onLine ports.LineFunc, model func(c Cluster, ok bool) (string, Cluster)) (ports.RunResult, error) {
	gate, err := r.begin(ctx, command+" "+name)
	if err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	if hook != nil {
		return hook(ctx, name, onLine)
	}
	if err := wait(ctx, gate); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	c, ok := r.ClusterOf(name)
	if !ok {
		out := "Cluster(s) not found (tip: see `sky status`)."
		say(onLine, out)
		return ports.RunResult{Stdout: out + "\n"}, nil
	}
	out, next := model(c, ok)
	r.SetCluster(name, next)
	say(onLine, out)
	return ports.RunResult{Stdout: out + "\n"}, nil
}

// Stop models `sky stop -y`.
func (r *Runner) Stop(ctx context.Context, name string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.named(ctx, "stop", name, r.OnStop, onLine, func(c Cluster, _ bool) (string, Cluster) {
		c.Status, c.IP = "STOPPED", ""
		return "Stopping cluster " + name + "...done.", c
	})
}

// Start models `sky start -y`.
func (r *Runner) Start(ctx context.Context, name string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.named(ctx, "start", name, r.OnStart, onLine, func(c Cluster, _ bool) (string, Cluster) {
		c.Status, c.IP = "UP", "3.91.7.13"
		return "Cluster " + name + " started.", c
	})
}

// Down models `sky down -y`.
func (r *Runner) Down(ctx context.Context, name string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.named(ctx, "down", name, r.OnDown, onLine, func(Cluster, bool) (string, Cluster) {
		return "Terminating cluster " + name + "...done.", Cluster{}
	})
}

// Status models `sky status NAME` in the v0.10 table form.
func (r *Runner) Status(ctx context.Context, name string, opts ports.StatusOptions) (ports.RunResult, error) {
	call := "status "
	if opts.Refresh {
		call += "--refresh "
	}
	if opts.JSON {
		call += "-o json "
	}
	gate, err := r.begin(ctx, call+name)
	if err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	if r.OnStatus != nil {
		return r.OnStatus(ctx, name, opts)
	}
	if err := wait(ctx, gate); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	if opts.JSON {
		if r.RejectJSON {
			return ports.RunResult{ExitCode: 2, Stderr: "Usage: sky status [OPTIONS] [CLUSTERS]...\nTry 'sky status -h' for help.\n\nError: No such option: -o\n"}, nil
		}
		return ports.RunResult{Stdout: r.statusJSON(name)}, nil
	}
	return ports.RunResult{Stdout: r.statusTable(name)}, nil
}

// statusJSON is the v0.12 `-o json` form: an array of cluster records.
func (r *Runner) statusJSON(name string) string {
	c, ok := r.ClusterOf(name)
	if !ok {
		return "[]\n"
	}
	cloud, region, _ := strings.Cut(strings.TrimSuffix(c.Infra, ")"), " (")
	record, _ := json.Marshal([]map[string]any{{"name": name, "status": c.Status, "cloud": cloud, "region": region}})
	return string(record) + "\n"
}

func (r *Runner) statusTable(name string) string {
	c, ok := r.ClusterOf(name)
	var b strings.Builder
	b.WriteString("Enabled Infra: aws, gcp\n\nClusters\n")
	if !ok {
		fmt.Fprintf(&b, "Cluster '%s' not found.\n", name)
		return b.String()
	}
	rows := [][]string{
		{"NAME", "INFRA", "RESOURCES", "STATUS", "AUTOSTOP", "LAUNCHED"},
		{name, c.Infra, "1x(cpus=2, mem=8, m6i.large, ...)", c.Status, "-", "1 min ago"},
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for _, row := range rows {
		for i, cell := range row {
			fmt.Fprintf(&b, "%-*s", widths[i]+2, cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// IP models `sky status --ip NAME`.
func (r *Runner) IP(ctx context.Context, name string) (ports.RunResult, error) {
	if _, err := r.begin(ctx, "ip "+name); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	c, ok := r.ClusterOf(name)
	switch {
	case !ok:
		return ports.RunResult{ExitCode: 1, Stderr: fmt.Sprintf("ValueError: '%s' cluster not found. Please specify a single cluster to show its IP address.\n", name)}, nil
	case c.Status != "UP":
		return ports.RunResult{ExitCode: 1, Stderr: fmt.Sprintf("RuntimeError: Cluster '%s' is not in UP status.\n", name)}, nil
	}
	return ports.RunResult{Stdout: c.IP + "\n"}, nil
}

// Check prints CheckOutput.
func (r *Runner) Check(ctx context.Context, json bool) (ports.RunResult, error) {
	if _, err := r.begin(ctx, "check"); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	return ports.RunResult{Stdout: r.CheckOutput}, nil
}

// Version prints VersionOutput.
func (r *Runner) Version(ctx context.Context) (ports.RunResult, error) {
	if _, err := r.begin(ctx, "version"); err != nil {
		return ports.RunResult{ExitCode: -1}, err
	}
	return ports.RunResult{Stdout: r.VersionOutput}, nil
}
