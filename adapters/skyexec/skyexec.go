// Package skyexec runs the sky CLI as child processes: it implements ports.Runner with
// os/exec, read-only commands directly and mutating ones through a supervisor process
// that outlives skygate.
package skyexec

import (
	"context"
	"net/netip"
	"slices"

	"errors"
	"fmt"
	"github.com/skygate/skygate/core"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skygate/skygate/ports"
)

var _ ports.Runner = (*Runner)(nil)

// maxOutputBytes bounds what is kept of each output stream of a run.
const maxOutputBytes = 1 << 20

// Config configures a Runner. Zero fields take the defaults noted on them.
type Config struct {
	// Bin is the sky executable: a name looked up in PATH, or a path when it contains a
	// slash. Default "sky".
	Bin string
	// Env is the whole environment of every sky child and supervisor (HOME, PATH, cloud
	// credentials). nil passes this process's environment. A Bin without a slash is looked
	// up in the PATH of this environment, the one sky itself will see.
	Env []string
	// OpsDir holds one folder per supervised run (its output, identity and exit status).
	// Default "./ops".
	OpsDir string
	// SupervisorPath is the program started as `SupervisorPath supervise DIR` for each
	// mutating run: the skygate binary. Default: this executable.
	SupervisorPath string
	// Timeouts bound each command; the caller's context can end a read-only one sooner.
	Timeouts Timeouts
	// KillGrace is how long a cancelled child's process group has between SIGTERM and
	// SIGKILL. It also bounds how long output pipes are drained after sky exited while a
	// leftover process still holds them. Default 10s.
	KillGrace time.Duration
}

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

// Runner runs sky commands; it implements ports.Runner and is safe for concurrent use.
// It is the one place that knows sky's command lines, texts, exit codes and `-o json`.
//
// Each read-only child runs with argv only, in its own process group, with stdin from the
// null device (so a prompt sky would show ends at once instead of hanging). Mutating runs
// go through a supervisor (see Supervise) that outlives this process.
type Runner struct {
	bin        string
	env        []string
	opsDir     string
	supervisor string
	timeouts   Timeouts
	killGrace  time.Duration

	versionMu sync.Mutex
	version   core.Version
	hasVer    bool
}

// New returns a Runner for cfg, with defaults filled in.
func New(cfg Config) *Runner {
	t := cfg.Timeouts
	supervisor := cfg.SupervisorPath
	if supervisor == "" {
		supervisor, _ = os.Executable()
	}
	return &Runner{
		bin:        orDefault(cfg.Bin, "sky"),
		env:        cfg.Env,
		opsDir:     orDefault(cfg.OpsDir, "ops"),
		supervisor: supervisor,
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
		killGrace: orDefault(cfg.KillGrace, 10*time.Second),
	}
}

// orDefault returns def when v is unset (empty, zero or a negative duration).
func orDefault[T string | time.Duration](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}

// usageErrorExit is click's exit code for an unknown option.
const usageErrorExit = 2

// runResult is how one read-only sky child ended.
type runResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Version runs `sky --version`; the answer also decides the output forms asked for later.
func (r *Runner) Version(ctx context.Context) (core.Version, error) {
	res, err := r.run(ctx, r.timeouts.Version, []string{"--version"}, nil)
	if err != nil {
		return core.Version{}, err
	}
	v, perr := core.ParseVersion(res.Stdout + "\n" + res.Stderr)
	if perr != nil {
		// An unreadable version is the zero Version: the oldest forms every sky reads.
		v = core.Version{}
	}
	r.versionMu.Lock()
	r.version, r.hasVer = v, true
	r.versionMu.Unlock()
	return v, nil
}

// knownVersion is the version sky reported, asking it once when nothing is known yet.
func (r *Runner) knownVersion(ctx context.Context) core.Version {
	r.versionMu.Lock()
	v, ok := r.version, r.hasVer
	r.versionMu.Unlock()
	if !ok {
		v, _ = r.Version(ctx)
	}
	return v
}

// withJSON runs args with `-o json` inserted before the names where sky has it (0.12),
// falling back to the text form when a build refuses the option.
func (r *Runner) withJSON(ctx context.Context, timeout time.Duration, args []string, names []string) (runResult, error) {
	if r.knownVersion(ctx).HasJSONOutput() {
		argv := append(append(slices.Clone(args), "-o", "json"), names...)
		res, err := r.run(ctx, timeout, argv, nil)
		if err != nil || res.ExitCode != usageErrorExit {
			return res, err
		}
	}
	return r.run(ctx, timeout, append(slices.Clone(args), names...), nil)
}

// Status runs one `sky status [--refresh] [-o json] NAME...` for every name.
func (r *Runner) Status(ctx context.Context, names []string, refresh bool) (map[string]core.SkyCluster, error) {
	args := []string{"status"}
	if refresh {
		args = append(args, "--refresh")
	}
	res, err := r.withJSON(ctx, r.timeouts.Status, args, names)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, core.Errorf(core.KindUpstream, core.KeySky, "sky status failed: %s", core.ExtractError(res.Stderr, res.Stdout))
	}
	clusters, err := core.ParseStatusOf(res.Stdout, names)
	if err != nil {
		return nil, core.Errorf(core.KindUpstream, core.KeySky, "reading sky status: %v", err)
	}
	return clusters, nil
}

// IP runs `sky status --ip NAME` and returns the address it prints.
func (r *Runner) IP(ctx context.Context, name string) (string, error) {
	res, err := r.run(ctx, r.timeouts.IP, []string{"status", "--ip", name}, nil)
	if err != nil {
		return "", err
	}
	if res.ExitCode == 0 {
		for _, line := range core.CleanLines(res.Stdout) {
			if addr, err := netip.ParseAddr(strings.TrimSpace(line)); err == nil {
				return addr.String(), nil
			}
		}
	}
	return "", core.Errorf(core.KindUpstream, core.KeySky, "sky status --ip %s: %s", name, core.ExtractError(res.Stderr, res.Stdout))
}

// Check runs `sky check [-o json]`.
func (r *Runner) Check(ctx context.Context) (core.CheckResult, error) {
	res, err := r.withJSON(ctx, r.timeouts.Check, []string{"check"}, nil)
	if err != nil {
		return core.CheckResult{}, err
	}
	result, perr := core.ParseCheck(res.Stdout)
	if res.ExitCode != 0 || perr != nil {
		return core.CheckResult{}, core.Errorf(core.KindUpstream, core.KeySky, "sky check failed: %s", core.ExtractError(res.Stderr, res.Stdout))
	}
	return result, nil
}

// run runs sky with args until it exits, ctx is done or timeout passes. Output lines go
// to onLine (when not nil) as they are read. On cancellation the child's process group
// gets SIGTERM, then SIGKILL after the grace period; run returns once the child is reaped
// and its output is read, with the partial result and the context's error.
func (r *Runner) run(ctx context.Context, timeout time.Duration, args []string, onLine func(string)) (runResult, error) {
	name := "sky " + args[0]
	path, err := r.lookPath()
	if err != nil {
		return runResult{}, fmt.Errorf("%s: %w: %q: %v", name, ports.ErrSkyNotFound, r.bin, err)
	}

	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var emit func(string)
	if onLine != nil {
		// The two streams are read by two goroutines; onLine sees one line at a time.
		var mu sync.Mutex
		emit = func(line string) {
			mu.Lock()
			defer mu.Unlock()
			onLine(line)
		}
	}
	stdout, stderr := newStream(emit), newStream(emit)

	cmd := exec.CommandContext(runCtx, path, args...)
	cmd.Env = r.env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// termSentAt is written by Cancel before Wait returns, and read only after.
	var termSentAt time.Time
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		if errors.Is(err, syscall.ESRCH) {
			// The whole group exited before the context ended: the run is complete.
			return os.ErrProcessDone
		}
		if err == nil {
			termSentAt = time.Now()
		}
		return err
	}
	// Past the grace period exec SIGKILLs the child and closes the pipes, which a
	// leftover grandchild may hold open forever.
	cmd.WaitDelay = r.killGrace

	if err := cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %q: %v", ports.ErrSkyNotFound, path, err)
		}
		if runCtx.Err() != nil {
			err = contextError(ctx, timeout)
		}
		return runResult{}, fmt.Errorf("%s: %w", name, err)
	}
	waitErr := cmd.Wait()
	stdout.flush()
	stderr.flush()
	result := runResult{
		ExitCode: exitCode(cmd.ProcessState),
		Stdout:   stdout.tail.String(),
		Stderr:   stderr.tail.String(),
	}

	if !termSentAt.IsZero() {
		killGroupAfter(cmd.Process.Pid, termSentAt.Add(r.killGrace))
		return result, fmt.Errorf("%s: %w", name, contextError(ctx, timeout))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return result, fmt.Errorf("%s: %w", name, waitErr)
	}
	return result, nil
}

// contextError is the error of a run whose context ended: the caller's own error, or
// one that names the command's timeout.
func contextError(parent context.Context, timeout time.Duration) error {
	if err := parent.Err(); err != nil {
		return err
	}
	return fmt.Errorf("timed out after %s: %w", timeout, context.DeadlineExceeded)
}

// killGroupAfter SIGKILLs what is left of the process group pgid at killAt, so that a
// grandchild which ignored SIGTERM does not outlive a cancelled run.
func killGroupAfter(pgid int, killAt time.Time) {
	if syscall.Kill(-pgid, 0) != nil {
		// Nothing is left, and an empty group's ID may be reused: leave it alone.
		return
	}
	time.Sleep(time.Until(killAt))
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// exitCode is the child's exit status, or 128+N when signal N killed it.
func exitCode(state *os.ProcessState) int {
	if status, ok := state.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return 128 + int(status.Signal())
	}
	return state.ExitCode()
}

// lookPath resolves the executable as the child's own environment would. With Env set,
// a bare name is searched in Env's PATH (its absolute directories only: like
// exec.LookPath, never relative to the working directory); otherwise exec.LookPath does
// the work.
func (r *Runner) lookPath() (string, error) {
	if r.env == nil || strings.Contains(r.bin, "/") {
		return exec.LookPath(r.bin)
	}
	pathList := envValue(r.env, "PATH")
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		if path, err := exec.LookPath(filepath.Join(dir, r.bin)); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("not in PATH %q of Config.Env", pathList)
}

// envValue returns the value of key in env; the last entry wins, as for exec.Cmd.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
