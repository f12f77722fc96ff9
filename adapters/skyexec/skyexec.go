// Package skyexec runs the sky CLI as child processes: it implements ports.Runner with
// os/exec.
package skyexec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skygate/skygate/ports"
)

var _ ports.Runner = (*Runner)(nil)

// Config configures a Runner. Zero fields take the defaults noted on them.
type Config struct {
	// Bin is the sky executable: a name looked up in PATH, or a path when it contains a
	// slash. Default "sky".
	Bin string
	// Env is the whole environment of every sky child (HOME, PATH, cloud credentials).
	// nil passes this process's environment. A Bin without a slash is looked up in the
	// PATH of this environment, the one sky itself will see.
	Env []string
	// Timeouts bound each command; the caller's context can end it sooner.
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

// Runner runs sky commands. It keeps no state between calls and is safe for concurrent
// use.
//
// Each child runs with argv only, in its own process group, with stdin from the null
// device (so a prompt sky would show ends at once instead of hanging). A stream is not
// read while onLine runs for one of its lines, so onLine should return quickly.
//
// ExitCode is the child's exit status, or 128+N when signal N killed it (143 for
// SIGTERM, 137 for SIGKILL), as a shell reports it.
type Runner struct {
	bin       string
	env       []string
	timeouts  Timeouts
	killGrace time.Duration
}

// New returns a Runner for cfg, with defaults filled in.
func New(cfg Config) *Runner {
	t := cfg.Timeouts
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

// Launch runs `sky launch -y -c NAME [-d] [-i N] YAML`, streaming lines to onLine.
func (r *Runner) Launch(ctx context.Context, spec ports.LaunchSpec, onLine ports.LineFunc) (ports.RunResult, error) {
	args := []string{"launch", "-y", "-c", spec.ClusterName}
	if spec.DetachRun {
		args = append(args, "-d")
	}
	if spec.IdleMinutesToAutostop > 0 {
		args = append(args, "-i", strconv.Itoa(spec.IdleMinutesToAutostop))
	}
	args = append(args, spec.YAMLPath)
	return r.run(ctx, r.timeouts.Launch, args, onLine)
}

// Stop runs `sky stop -y NAME`, streaming lines to onLine.
func (r *Runner) Stop(ctx context.Context, clusterName string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.run(ctx, r.timeouts.Stop, []string{"stop", "-y", clusterName}, onLine)
}

// Start runs `sky start -y NAME`, streaming lines to onLine.
func (r *Runner) Start(ctx context.Context, clusterName string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.run(ctx, r.timeouts.Start, []string{"start", "-y", clusterName}, onLine)
}

// Down runs `sky down -y NAME`, streaming lines to onLine.
func (r *Runner) Down(ctx context.Context, clusterName string, onLine ports.LineFunc) (ports.RunResult, error) {
	return r.run(ctx, r.timeouts.Down, []string{"down", "-y", clusterName}, onLine)
}

// Status runs `sky status [--refresh] [-o json] NAME`.
func (r *Runner) Status(ctx context.Context, clusterName string, opts ports.StatusOptions) (ports.RunResult, error) {
	args := []string{"status"}
	if opts.Refresh {
		args = append(args, "--refresh")
	}
	if opts.JSON {
		args = append(args, "-o", "json")
	}
	args = append(args, clusterName)
	return r.run(ctx, r.timeouts.Status, args, nil)
}

// IP runs `sky status --ip NAME`.
func (r *Runner) IP(ctx context.Context, clusterName string) (ports.RunResult, error) {
	return r.run(ctx, r.timeouts.IP, []string{"status", "--ip", clusterName}, nil)
}

// Check runs `sky check [-o json]`.
func (r *Runner) Check(ctx context.Context, json bool) (ports.RunResult, error) {
	args := []string{"check"}
	if json {
		args = append(args, "-o", "json")
	}
	return r.run(ctx, r.timeouts.Check, args, nil)
}

// Version runs `sky --version`.
func (r *Runner) Version(ctx context.Context) (ports.RunResult, error) {
	return r.run(ctx, r.timeouts.Version, []string{"--version"}, nil)
}

// run runs sky with args until it exits, ctx is done or timeout passes. Output lines go
// to onLine (when not nil) as they are read. On cancellation the child's process group
// gets SIGTERM, then SIGKILL after the grace period; run returns once the child is reaped
// and its output is read, with the partial result and the context's error.
func (r *Runner) run(ctx context.Context, timeout time.Duration, args []string, onLine ports.LineFunc) (ports.RunResult, error) {
	name := "sky " + args[0]
	path, err := r.lookPath()
	if err != nil {
		return ports.RunResult{}, fmt.Errorf("%s: %w: %q: %v", name, ports.ErrSkyNotFound, r.bin, err)
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
		return ports.RunResult{}, fmt.Errorf("%s: %w", name, err)
	}
	waitErr := cmd.Wait()
	stdout.flush()
	stderr.flush()
	result := ports.RunResult{
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
