package skyexec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// result is how one read-only sky process ended: its exit status (128+N when signal N
// killed it, as a shell reports it) and the last maxOutputBytes of each stream.
type result struct {
	exitCode       int
	signal         int // the signal that killed it, 0 if it exited
	stdout, stderr string
}

// failure explains a read-only run that failed: the signal that killed it (an out of
// memory kill says nothing on its own), else the error sky printed.
func (res result) failure() string {
	if res.signal != 0 {
		return killedBy("sky", res.signal)
	}
	return core.ExtractError(res.stderr, res.stdout)
}

// killedBy says which signal ended command: "sky was killed by signal 9 (killed)".
func killedBy(command string, signal int) string {
	return fmt.Sprintf("%s was killed by signal %d (%v)", command, signal, syscall.Signal(signal))
}

// run runs sky with args directly (no supervisor) until it exits, ctx ends or timeout
// passes. The child has argv only, its own process group and stdin from the null device
// (a prompt ends at once instead of hanging); stdout and stderr are read concurrently by
// os/exec, each into a bounded tail. When ctx ends or the timeout passes, the group gets
// SIGTERM, then SIGKILL after the kill grace; run returns once the child is reaped.
//
// The error is ErrSkyNotFound (wrapped) when sky is missing, the caller's context error
// when ctx ended first, and a domain error (KindUpstream, KeySky) when sky could not be
// started or ran out of time. An exit status of any value is not an error.
func (r *Runner) run(ctx context.Context, timeout time.Duration, args []string) (result, error) {
	name := "sky " + args[0]
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	path, err := r.lookPath()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}

	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// stdout is what the caller parses, and must be whole: `sky status -o json` of a
	// thousand clusters is over a megabyte.
	stdout, stderr := tailBuffer{max: maxParsedBytes}, tailBuffer{}
	cmd := exec.CommandContext(runCtx, path, args...)
	cmd.Env = r.env
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
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
		switch {
		case runCtx.Err() != nil:
			return result{}, endedError(ctx, name, timeout)
		case errors.Is(err, fs.ErrNotExist):
			return result{}, fmt.Errorf("%s: %w: %q: %v", name, ports.ErrSkyNotFound, path, err)
		}
		return result{}, core.Errorf(core.KindUpstream, core.KeySky, "%s could not be started: %v", name, err)
	}
	// A read-only sky is in skygate's session: its threads get the runs' nice value,
	// not its autogroup, which is skygate's. It runs its first instructions at skygate's
	// priority: Go cannot start a process with another nice value, and a thread of
	// skygate's lowered for the start could not get its own back.
	niceThreads(cmd.Process.Pid, r.nice)
	waitErr := cmd.Wait()
	res := result{exitCode: exitCode(cmd.ProcessState), stdout: stdout.String(), stderr: stderr.String()}
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		res.signal = int(status.Signal())
	}
	if !termSentAt.IsZero() {
		killGroupAfter(cmd.Process.Pid, termSentAt.Add(r.killGrace))
		return res, endedError(ctx, name, timeout)
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, core.Errorf(core.KindUpstream, core.KeySky, "%s: %v", name, waitErr)
	}
	return res, nil
}

// endedError is the error of a run cut short: the caller's own context error, or a
// domain error that names the command's timeout.
func endedError(parent context.Context, name string, timeout time.Duration) error {
	if err := parent.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return core.Errorf(core.KindUpstream, core.KeySky, "%s timed out after %s", name, timeout)
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
// the work. The error wraps ErrSkyNotFound.
func (r *Runner) lookPath() (string, error) {
	if r.env == nil || strings.Contains(r.bin, "/") {
		path, err := exec.LookPath(r.bin)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ports.ErrSkyNotFound, r.bin, err)
		}
		return filepath.Abs(path)
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
	return "", fmt.Errorf("%w: %q: not in PATH %q of Config.Env", ports.ErrSkyNotFound, r.bin, pathList)
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
