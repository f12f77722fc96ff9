package skyexec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// Start begins the supervised run of op (`sky launch -y -c NAME [-d] [-i N] YAML`,
// `sky stop -y NAME`, `sky start -y NAME` or `sky down -y NAME`) and follows it. A
// context that has already ended starts nothing.
func (r *Runner) Start(ctx context.Context, op ports.Operation, onLine ports.LineFunc) (ports.RunOutcome, error) {
	if err := ctx.Err(); err != nil {
		return ports.RunOutcome{}, err
	}
	args, timeout, err := r.operationArgs(op)
	if err != nil {
		return ports.RunOutcome{}, err
	}
	return r.startRun(ctx, op.Key, args, timeout, onLine)
}

// operationArgs is sky's command line for op, and its timeout.
func (r *Runner) operationArgs(op ports.Operation) ([]string, time.Duration, error) {
	if err := core.ValidateClusterName(core.KeyCluster, op.Cluster); err != nil {
		return nil, 0, err
	}
	switch op.Action {
	case core.ActionLaunch:
		if op.Launch.YAMLPath == "" {
			return nil, 0, core.Errorf(core.KindInvalid, core.KeySky, "a launch needs a task file")
		}
		// An absolute path cannot be mistaken for an option.
		yaml, err := filepath.Abs(op.Launch.YAMLPath)
		if err != nil {
			return nil, 0, core.Errorf(core.KindInvalid, core.KeySky, "task file %q: %v", op.Launch.YAMLPath, err)
		}
		args := []string{"launch", "-y", "-c", op.Cluster}
		if op.Launch.DetachRun {
			args = append(args, "-d")
		}
		if op.Launch.IdleMinutesToAutostop > 0 {
			args = append(args, "-i", strconv.Itoa(op.Launch.IdleMinutesToAutostop))
		}
		return append(args, yaml), r.timeouts.Launch, nil
	case core.ActionStop:
		return []string{"stop", "-y", op.Cluster}, r.timeouts.Stop, nil
	case core.ActionStart:
		return []string{"start", "-y", op.Cluster}, r.timeouts.Start, nil
	case core.ActionDestroy:
		return []string{"down", "-y", op.Cluster}, r.timeouts.Down, nil
	}
	return nil, 0, core.Errorf(core.KindInvalid, core.KeySky, "no sky command for action %q", op.Action)
}

// startRun creates the run's directory, starts its supervisor and follows the run.
func (r *Runner) startRun(ctx context.Context, key ports.OperationKey, args []string, timeout time.Duration, onLine ports.LineFunc) (ports.RunOutcome, error) {
	dir, err := r.runDir(key)
	if err != nil {
		return ports.RunOutcome{}, err
	}
	if r.supervisorPath == "" {
		return ports.RunOutcome{}, core.Errorf(core.KindUpstream, core.KeySky, "no supervisor binary: the path of skygate is unknown")
	}
	path, err := r.lookPath()
	if err != nil {
		return ports.RunOutcome{}, fmt.Errorf("%s: %w", commandName(append([]string{""}, args...)), err)
	}

	done := make(chan struct{})
	r.mu.Lock()
	_, busy := r.starting[key]
	if !busy {
		r.starting[key] = done
	}
	r.mu.Unlock()
	if busy {
		return ports.RunOutcome{}, core.Errorf(core.KindConflict, core.KeySky, "operation %s already has a sky run", key)
	}
	func() {
		defer func() {
			r.mu.Lock()
			delete(r.starting, key)
			r.mu.Unlock()
			close(done)
		}()
		err = r.createRun(dir, runSpec{
			Key: string(key), Argv: append([]string{path}, args...), Timeout: timeout,
			KillGrace: r.killGrace, MaxLogBytes: r.maxLogBytes, Nice: r.nice, SessionNice: r.sessionNice, Created: time.Now().UTC(),
		})
		if err != nil {
			return
		}
		if err = r.spawnSupervisor(ctx, dir); err != nil {
			// The supervisor ran nothing: the key is free again.
			_ = os.RemoveAll(dir)
		}
	}()
	if err != nil {
		return ports.RunOutcome{}, err
	}
	return r.follow(ctx, dir, 0, onLine)
}

// runDir is the directory of key's run.
func (r *Runner) runDir(key ports.OperationKey) (string, error) {
	if r.opsDir == "" {
		return "", core.Errorf(core.KindUpstream, core.KeySky, "no directory for supervised runs is configured")
	}
	if !validKey(key) {
		return "", core.Errorf(core.KindInvalid, core.KeySky, "operation key %q cannot name a run", key)
	}
	return filepath.Join(r.opsDir, string(key)), nil
}

// createRun makes the run's directory with its spec and an empty log. A directory that
// exists already means the key has (or had) a run.
func (r *Runner) createRun(dir string, spec runSpec) error {
	if err := os.MkdirAll(r.opsDir, 0o700); err != nil {
		return core.Errorf(core.KindUpstream, core.KeySky, "creating the runs directory: %v", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return core.Errorf(core.KindConflict, core.KeySky, "operation %s already has a sky run", spec.Key)
		}
		return core.Errorf(core.KindUpstream, core.KeySky, "creating the run's directory: %v", err)
	}
	fail := func(err error) error {
		_ = os.RemoveAll(dir)
		return core.Errorf(core.KindUpstream, core.KeySky, "preparing the run: %v", err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, specFile), spec); err != nil {
		return fail(err)
	}
	log, err := os.OpenFile(filepath.Join(dir, outputFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(err)
	}
	if err := log.Close(); err != nil {
		return fail(err)
	}
	return nil
}

// spawnSupervisor starts the supervisor of the run in dir in its own session and gives
// it the go-ahead once it has recorded its identity. When ctx ends first, or the
// supervisor fails, it returns an error and the supervisor has run nothing.
func (r *Runner) spawnSupervisor(ctx context.Context, dir string) error {
	select {
	case r.startGate <- struct{}{}:
		defer func() { <-r.startGate }()
	case <-ctx.Done():
		return ctx.Err()
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		return core.Errorf(core.KindUpstream, core.KeySky, "starting the supervisor: %v", err)
	}
	defer goW.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		goR.Close()
		return core.Errorf(core.KindUpstream, core.KeySky, "starting the supervisor: %v", err)
	}
	cmd := exec.Command(r.supervisorPath, "supervise", dir)
	cmd.Env = r.env
	cmd.ExtraFiles = []*os.File{goR, readyW} // goFD, readyFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	goR.Close()
	readyW.Close()
	if err != nil {
		readyR.Close()
		return core.Errorf(core.KindUpstream, core.KeySky, "starting the supervisor %s: %v", r.supervisorPath, err)
	}
	// At once, so that the supervisor's own start-up already yields the CPU; it lowers
	// the threads it starts later itself, and sets its autogroup's value if the kernel
	// refused it here.
	niceSession(cmd.Process.Pid, r.sessionNice, r.nice)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps the supervisor whenever it ends
		close(exited)
	}()
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		readyR.Close()
		answer <- line
	}()
	// Closing goW without the go-ahead makes the supervisor exit at once.
	stop := func() {
		goW.Close()
		select {
		case <-exited:
		case <-time.After(r.killGrace):
		}
	}
	select {
	case line := <-answer:
		if line != "ok\n" {
			stop()
			if line == "" {
				line = "it exited before it was ready"
			}
			return core.Errorf(core.KindUpstream, core.KeySky, "the supervisor failed: %s", trimNewline(line))
		}
	case <-ctx.Done():
		stop()
		return ctx.Err()
	case <-time.After(r.supervisorStart):
		_ = cmd.Process.Kill()
		stop()
		return core.Errorf(core.KindUpstream, core.KeySky, "the supervisor %s did not get ready within %s", r.supervisorPath, r.supervisorStart)
	}
	if _, err := goW.WriteString("go\n"); err != nil {
		stop()
		return core.Errorf(core.KindUpstream, core.KeySky, "the supervisor died before sky started: %v", err)
	}
	return nil
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// Attach follows the run of key from offset: the rest of the log and the outcome of a
// finished run, or the live run until it ends. The lines after an offset a line carried
// are exactly those a follower from the start got after that line: the line cleaner is
// shown the line before the offset first, so a repeat of it is dropped again.
func (r *Runner) Attach(ctx context.Context, key ports.OperationKey, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	if err := ctx.Err(); err != nil {
		return ports.RunOutcome{}, err
	}
	dir, ok := r.knownRunDir(key)
	if !ok {
		return ports.RunOutcome{}, ports.ErrNoOperation
	}
	if err := r.waitStarted(ctx, key); err != nil {
		return ports.RunOutcome{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return ports.RunOutcome{}, ports.ErrNoOperation
	}
	return r.follow(ctx, dir, max(offset, 0), onLine)
}

// knownRunDir is the directory of key's run, when key can name one.
func (r *Runner) knownRunDir(key ports.OperationKey) (string, bool) {
	if r.opsDir == "" || !validKey(key) {
		return "", false
	}
	return filepath.Join(r.opsDir, string(key)), true
}

// waitStarted waits while this Runner is starting key's supervisor.
func (r *Runner) waitStarted(ctx context.Context, key ports.OperationKey) error {
	r.mu.Lock()
	done, ok := r.starting[key]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// follow streams the log of the run in dir from offset until the run has ended and its
// log is read, and returns the outcome.
func (r *Runner) follow(ctx context.Context, dir string, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	changed, unwatch := r.runs.watch(dir)
	defer unwatch()
	poll := r.poll
	if changed != nil {
		poll = max(r.poll, watchedPoll)
	}
	log, err := os.Open(filepath.Join(dir, outputFile))
	if err != nil {
		return ports.RunOutcome{}, ports.ErrNoOperation
	}
	defer log.Close()
	t := newLogTail(offset, onLine, func() bool { return ctx.Err() != nil })
	if err := t.prime(log); err != nil {
		return ports.RunOutcome{}, core.Errorf(core.KindUpstream, core.KeySky, "reading the run's output: %v", err)
	}
	wait := time.NewTimer(poll)
	defer wait.Stop()
	// The supervisor's liveness is looked at on the first pass and when the poll comes
	// round, not at each file event: a file event says the supervisor was just writing.
	// Its identity does not change while it lives, so it is read once.
	checkLive := true
	var supervisor identity
	live := func() bool {
		if supervisor.PID == 0 {
			id, ok := readIdentity(dir)
			if !ok {
				return false
			}
			supervisor = id
		}
		return supervisor.supervisorLive()
	}
	for {
		if err := ctx.Err(); err != nil {
			return ports.RunOutcome{}, err
		}
		n, err := t.readFrom(log)
		if err != nil {
			return ports.RunOutcome{}, core.Errorf(core.KindUpstream, core.KeySky, "reading the run's output: %v", err)
		}
		if n > 0 {
			continue
		}
		// The exit record is written after the last output, and before the supervisor
		// ends: look for it first, and again once the supervisor is seen gone.
		rec, ended, err := readExit(dir)
		if !ended && err == nil && checkLive && !live() {
			rec, ended, err = readExit(dir)
			if !ended && err == nil {
				return ports.RunOutcome{}, ports.ErrNoOperation
			}
		}
		if err != nil {
			return ports.RunOutcome{}, core.Errorf(core.KindUpstream, core.KeySky, "reading how the run ended: %v", err)
		}
		if ended {
			if _, err := t.readAll(log); err != nil {
				return ports.RunOutcome{}, core.Errorf(core.KindUpstream, core.KeySky, "reading the run's output: %v", err)
			}
			t.finish()
			if err := ctx.Err(); err != nil {
				// Lines were cut short: the caller did not see the whole run.
				return ports.RunOutcome{}, err
			}
			if rec.NotFound {
				return rec.outcome(), fmt.Errorf("%s: %w", rec.StartError, ports.ErrSkyNotFound)
			}
			return rec.outcome(), nil
		}
		wait.Reset(poll)
		select {
		case <-ctx.Done():
			return ports.RunOutcome{}, ctx.Err()
		case <-wait.C:
			checkLive = true
		case <-changed:
			checkLive = false
		}
	}
}

// Cancel ends the run of key: SIGTERM to its supervisor (its identity verified), which
// sends SIGTERM to sky's process group and SIGKILL after the kill grace, and writes the
// exit record once the group is gone. When the supervisor died but the sky it started
// still runs, Cancel ends sky's group itself.
func (r *Runner) Cancel(ctx context.Context, key ports.OperationKey) error {
	dir, ok := r.knownRunDir(key)
	if !ok {
		return nil
	}
	if err := r.waitStarted(ctx, key); err != nil {
		return err
	}
	signalled := false
	var killAt time.Time
	wait := time.NewTimer(r.poll)
	defer wait.Stop()
	for {
		if _, ended, _ := readExit(dir); ended {
			return nil
		}
		id, ok := readIdentity(dir)
		switch {
		case !ok:
			// No supervisor ever recorded itself (or there is no such run): nothing runs.
			return nil
		case id.supervisorLive():
			if !signalled {
				if err := signalVerified(id.PID, id.Start, syscall.SIGTERM); err != nil {
					return core.Errorf(core.KindUpstream, core.KeySky, "cancelling the run: %v", err)
				}
				signalled = true
			}
		case id.skyLive():
			// The supervisor is gone, sky is not: end sky's process group here.
			if killAt.IsZero() {
				_ = syscall.Kill(-id.SkyPID, syscall.SIGTERM)
				killAt = time.Now().Add(r.killGrace)
			} else if time.Now().After(killAt) {
				_ = syscall.Kill(-id.SkyPID, syscall.SIGKILL)
			}
		default:
			// Neither runs. When this Cancel ended sky, what is left of its group goes too,
			// for at most one more grace (without a supervisor, nothing reaps them).
			if killAt.IsZero() || syscall.Kill(-id.SkyPID, 0) != nil || time.Now().After(killAt.Add(r.killGrace)) {
				return nil
			}
			_ = syscall.Kill(-id.SkyPID, syscall.SIGKILL)
		}
		wait.Reset(r.poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait.C:
		}
	}
}

// signalVerified sends sig to pid only if pid is still the process that started at
// start. os.FindProcess holds the process by a pidfd where Linux has them, so the check
// and the signal concern the same process.
func signalVerified(pid int, start uint64, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	defer p.Release()
	if !processLive(pid, start) {
		return nil
	}
	if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// staleRunAge is how old a run's directory must be, with no supervisor ever recorded in
// it, before Forget counts it as a start that failed.
const staleRunAge = time.Minute

// Forget removes the directories of finished runs other than the newest keep ones.
// A run is finished when it has an exit record, or when neither its supervisor nor its
// sky is alive any more; live runs, and runs this Runner is starting, are kept.
func (r *Runner) Forget(keep int) error {
	if r.opsDir == "" {
		return nil
	}
	entries, err := os.ReadDir(r.opsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return core.Errorf(core.KindUpstream, core.KeySky, "listing runs: %v", err)
	}
	type finishedRun struct {
		dir     string
		created time.Time
	}
	var finished []finishedRun
	for _, e := range entries {
		key := ports.OperationKey(e.Name())
		if !e.IsDir() || !validKey(key) {
			continue
		}
		r.mu.Lock()
		_, starting := r.starting[key]
		r.mu.Unlock()
		dir := filepath.Join(r.opsDir, e.Name())
		if starting || !r.finished(dir) {
			continue
		}
		finished = append(finished, finishedRun{dir: dir, created: runCreated(dir, e)})
	}
	slices.SortFunc(finished, func(a, b finishedRun) int { return b.created.Compare(a.created) })
	var errs []error
	for _, run := range finished[min(max(keep, 0), len(finished)):] {
		if err := os.RemoveAll(run.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return core.Errorf(core.KindUpstream, core.KeySky, "removing runs: %v", err)
	}
	return nil
}

// finished reports whether the run in dir is over.
func (r *Runner) finished(dir string) bool {
	if _, ended, _ := readExit(dir); ended {
		return true
	}
	if id, ok := readIdentity(dir); ok {
		return !id.supervisorLive() && !id.skyLive()
	}
	info, err := os.Stat(dir)
	return err == nil && time.Since(info.ModTime()) > staleRunAge
}

// runCreated is when the run in dir was created: from its spec, else the directory's.
func runCreated(dir string, e fs.DirEntry) time.Time {
	var spec runSpec
	if ok, err := readJSON(filepath.Join(dir, specFile), &spec); ok && err == nil && !spec.Created.IsZero() {
		return spec.Created
	}
	if info, err := e.Info(); err == nil {
		return info.ModTime()
	}
	return time.Time{}
}
