// Package skyexec drives the sky CLI as child processes: it implements ports.Runner. It is
// the only package that knows sky's command lines, exit codes, output texts and `-o json`.
//
// Read-only calls (Status, IP, Check, Version) run sky directly. Mutating runs (Start) go
// through a supervisor, the skygate binary itself run as `skygate supervise OPDIR` (see
// Supervise), which outlives the process that started it; Start and Attach follow the
// run's log and exit file in its directory under Config.OpsDir.
package skyexec

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

var _ ports.Runner = (*Runner)(nil)

// Config configures a Runner. Zero fields take the defaults noted on them.
type Config struct {
	// Bin is the sky executable: a name looked up in PATH, or a path when it contains a
	// slash. Default "sky".
	Bin string
	// Env is the whole environment of every sky child and of the supervisors, which pass
	// it on to sky (HOME, PATH, cloud credentials). nil passes this process's
	// environment. A Bin without a slash is looked up in the PATH of this environment,
	// the one sky itself will see.
	Env []string
	// Timeouts bound each command; the caller's context can end a read-only call sooner.
	Timeouts Timeouts
	// KillGrace is how long a cancelled or timed-out sky's process group has between
	// SIGTERM and SIGKILL. It also bounds how long output is drained after sky exited
	// while a leftover process still holds its pipes. Default 10s.
	KillGrace time.Duration
	// OpsDir holds one directory per supervised run (the state dir's ops/). Start needs
	// it; a relative path is taken from the working directory of New's caller.
	OpsDir string
	// SupervisorPath is the skygate binary that supervises runs. Default os.Executable().
	SupervisorPath string
	// PollInterval is how often a followed run's log is looked at for new output, and its
	// supervisor for life. Default 50ms.
	PollInterval time.Duration
	// MaxLogBytes bounds one run's log; later output is dropped, with a line saying so.
	// Default 256 MiB.
	MaxLogBytes int64
	// Nice is the nice value, 0 to 19, of every sky process (and every supervisor). With a
	// high one, the runs of a fleet starting or ending at once take only the CPU that
	// skygate's requests and streams leave. 0 leaves them at skygate's priority.
	Nice int
	// Runs is how many supervised runs may be under way at once (--max-sky-procs);
	// default 1. With autogroups every run's session is a scheduling group of its own,
	// weighed against skygate's whole session: the runs' sessions get a higher nice value,
	// so that all of them together weigh about as much as one process at Nice.
	Runs int
}

// maxStartingSupervisors bounds the supervisors that start at once. A start is a few ms
// of CPU (exec, page faults, the runtime's and packages' start), and a fleet's launches
// that come together would otherwise start a hundred of them in the same second, each in
// a scheduling group of its own, beside the service's requests and streams; in line, they
// are all started a moment later, and sky runs are minutes long.
const maxStartingSupervisors = 2

// Timeouts bound each sky command. A zero field takes the default noted on it.
type Timeouts struct {
	Status  time.Duration // sky status; default 2m
	IP      time.Duration // sky status --ip; default 2m
	Check   time.Duration // sky check; default 5m
	Version time.Duration // sky --version; default 2m
	Stop    time.Duration // sky stop; default 30m
	Start   time.Duration // sky start; default 30m
	Down    time.Duration // sky down; default 30m
	Launch  time.Duration // sky launch; default 60m
}

// Runner drives sky. It is safe for concurrent use.
//
// Each read-only sky process runs with argv only, in its own process group, with stdin
// from the null device (so a prompt sky would show ends at once instead of hanging), and
// with a bounded tail of each output stream kept. A read-only call whose own timeout
// passes fails with a domain error (KindUpstream, KeySky) that names the timeout; one
// whose context ends returns the context's error.
//
// The version sky reports is cached (Version refreshes it) to choose `-o json` for status
// and check on sky 0.12 or newer; a build that refuses it (a click usage error) is
// remembered and asked for the table and text forms instead.
type Runner struct {
	bin            string
	env            []string
	timeouts       Timeouts
	killGrace      time.Duration
	opsDir         string
	supervisorPath string
	poll           time.Duration
	runs           runWatch // wakes followers when their run's files change
	maxLogBytes    int64
	nice           int
	sessionNice    int // the nice value of a supervisor's autogroup; see Config.Runs
	// startGate holds a token for each supervisor starting, up to maxStartingSupervisors.
	startGate chan struct{}
	// supervisorStart bounds how long a supervisor may take to record its identity.
	supervisorStart time.Duration

	versionOnce singleflight.Group
	mu          sync.Mutex
	version     core.Version
	versionRead bool // version holds what sky said (the zero Version when unreadable)
	jsonRefused bool // this version refused -o json
	// starting holds the keys whose supervisor is being started by this Runner; the
	// channel closes when the start-up is over.
	starting map[ports.OperationKey]chan struct{}
}

// New returns a Runner for cfg, with defaults filled in.
func New(cfg Config) *Runner {
	t := cfg.Timeouts
	opsDir := cfg.OpsDir
	if opsDir != "" {
		if abs, err := filepath.Abs(opsDir); err == nil {
			opsDir = abs
		}
	}
	supervisor := cfg.SupervisorPath
	if supervisor == "" {
		supervisor, _ = os.Executable()
	}
	return &Runner{
		bin: orDefault(cfg.Bin, "sky"),
		env: cfg.Env,
		timeouts: Timeouts{
			Status:  orDefault(t.Status, 2*time.Minute),
			IP:      orDefault(t.IP, 2*time.Minute),
			Check:   orDefault(t.Check, 5*time.Minute),
			Version: orDefault(t.Version, 2*time.Minute),
			Stop:    orDefault(t.Stop, 30*time.Minute),
			Start:   orDefault(t.Start, 30*time.Minute),
			Down:    orDefault(t.Down, 30*time.Minute),
			Launch:  orDefault(t.Launch, 60*time.Minute),
		},
		killGrace:       orDefault(cfg.KillGrace, 10*time.Second),
		opsDir:          opsDir,
		supervisorPath:  supervisor,
		poll:            orDefault(cfg.PollInterval, 10*time.Millisecond),
		maxLogBytes:     orDefault(cfg.MaxLogBytes, 256<<20),
		nice:            min(max(cfg.Nice, 0), 19),
		sessionNice:     sessionNice(min(max(cfg.Nice, 0), 19), cfg.Runs),
		supervisorStart: 30 * time.Second,
		startGate:       make(chan struct{}, maxStartingSupervisors),
		starting:        map[ports.OperationKey]chan struct{}{},
	}
}

// orDefault returns def when v is unset (empty, zero or negative).
func orDefault[T string | time.Duration | int64](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}

// usageErrorExit is click's exit code for a usage error, such as an unknown option.
const usageErrorExit = 2

// Status runs one `sky status [--refresh] [-o json] NAME...` for all names.
func (r *Runner) Status(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error) {
	answer := make(map[string]core.SkyCluster, len(names))
	var unique []string
	for _, name := range names {
		if err := core.ValidateClusterName(core.KeyCluster, name); err != nil {
			return nil, err
		}
		if !slices.Contains(unique, name) {
			unique = append(unique, name)
		}
	}
	if len(unique) == 0 {
		return answer, nil
	}
	args := []string{"status"}
	if refresh {
		args = append(args, "--refresh")
	}
	res, err := r.runWithJSON(ctx, r.timeouts.Status, args, unique)
	if err != nil {
		return nil, err
	}
	if res.exitCode != 0 {
		return nil, core.Errorf(core.KindUpstream, core.KeySky, "sky status failed: %s", res.failure())
	}
	clusters, err := core.ParseStatusAll(res.stdout)
	if err != nil {
		return nil, core.Errorf(core.KindUpstream, core.KeySky, "reading sky status: %v", err)
	}
	for _, name := range unique {
		answer[name] = clusters[name]
	}
	return answer, nil
}

// IP runs `sky status --ip NAME` and returns the address it prints.
func (r *Runner) IP(ctx context.Context, name string) (string, error) {
	if err := core.ValidateClusterName(core.KeyCluster, name); err != nil {
		return "", err
	}
	res, err := r.run(ctx, r.timeouts.IP, []string{"status", "--ip", name})
	if err != nil {
		return "", err
	}
	if res.exitCode != 0 {
		// ValueError: 'NAME' cluster not found. / RuntimeError: Cluster 'NAME' is not in
		// UP status. (stderr, exit 1)
		msg := res.failure()
		switch {
		case strings.Contains(msg, "cluster not found"):
			return "", core.Errorf(core.KindNotFound, core.KeyCluster, "sky does not know cluster %s: %s", name, msg)
		case strings.Contains(msg, "is not in UP status"):
			return "", core.Errorf(core.KindConflict, core.KeyCluster, "cluster %s is not up: %s", name, msg)
		}
		return "", core.Errorf(core.KindUpstream, core.KeySky, "sky status --ip failed: %s", msg)
	}
	for _, line := range core.CleanLines(res.stdout) {
		if addr, err := netip.ParseAddr(line); err == nil {
			return addr.String(), nil
		}
	}
	return "", core.Errorf(core.KindUpstream, core.KeySky, "sky status --ip printed no address: %q", firstLines(res.stdout))
}

// Check runs `sky check [-o json]`.
func (r *Runner) Check(ctx context.Context) (core.CheckResult, error) {
	res, err := r.runWithJSON(ctx, r.timeouts.Check, []string{"check"}, nil)
	if err != nil {
		return core.CheckResult{}, err
	}
	if res.exitCode != 0 {
		return core.CheckResult{}, core.Errorf(core.KindUpstream, core.KeySky, "sky check failed: %s", res.failure())
	}
	check, err := core.ParseCheck(res.stdout)
	if err != nil {
		return core.CheckResult{}, core.Errorf(core.KindUpstream, core.KeySky, "reading sky check: %v", err)
	}
	return check, nil
}

// Version runs `sky --version` and caches what it says.
func (r *Runner) Version(ctx context.Context) (core.Version, error) {
	res, err := r.run(ctx, r.timeouts.Version, []string{"--version"})
	if err != nil {
		return core.Version{}, err
	}
	v, perr := core.ParseVersion(res.stdout + "\n" + res.stderr)
	if res.exitCode != 0 || perr != nil {
		v = core.Version{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.versionRead || r.version != v {
		r.jsonRefused = false
	}
	r.version, r.versionRead = v, true
	return v, nil
}

// runWithJSON runs sky with args, then `-o json` where sky has it, then the extra
// arguments; when the build refuses `-o json`, it runs again without and remembers.
func (r *Runner) runWithJSON(ctx context.Context, timeout time.Duration, args, extra []string) (result, error) {
	plain := append(slices.Clone(args), extra...)
	if !r.jsonOutput(ctx) {
		return r.run(ctx, timeout, plain)
	}
	res, err := r.run(ctx, timeout, append(append(slices.Clone(args), "-o", "json"), extra...))
	if err != nil || res.exitCode != usageErrorExit {
		return res, err
	}
	r.mu.Lock()
	r.jsonRefused = true
	r.mu.Unlock()
	return r.run(ctx, timeout, plain)
}

// jsonOutput reports whether sky is known to take `-o json`, asking its version once.
func (r *Runner) jsonOutput(ctx context.Context) bool {
	r.mu.Lock()
	read := r.versionRead
	r.mu.Unlock()
	if !read {
		_, err, _ := r.versionOnce.Do("version", func() (any, error) { return r.Version(ctx) })
		if err != nil {
			return false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version.HasJSONOutput() && !r.jsonRefused
}

// firstLines quotes the start of an output in an error message.
func firstLines(s string) string {
	lines := core.CleanLines(s)
	s = strings.Join(lines[:min(len(lines), 3)], " | ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
