package skyexec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skygate/skygate/core"
)

// File descriptors a supervisor inherits from Start for its start-up handshake.
const (
	goFD    = 3 // read end: "go\n" lets sky start; end of file without it means do not
	readyFD = 4 // write end: "ok\n" once the identity is recorded, or "error: ...\n"
)

// maxPendingLine bounds how much of an unfinished line a supervisor holds back before it
// writes it to the log anyway, so that one stream's lines stay whole in the log.
const maxPendingLine = 64 << 10

// Supervise is the supervisor of one sky run: `skygate supervise OPDIR`, started by
// Runner.Start in its own session with its standard streams on the null device. It
// returns the process exit code.
//
// It records its identity (pid and start time) in OPDIR, tells Start it is ready and
// waits for Start's go-ahead: when Start dies or gives up first, nothing runs and OPDIR
// is removed. Then it
// starts sky (argv only, its own process group, stdin from the null device), appends
// sky's stdout and stderr as they come to OPDIR/output, each stream's lines kept whole,
// and enforces the run's timeout. SIGTERM (Runner.Cancel) or the timeout sends SIGTERM to
// sky's process group and SIGKILL after the kill grace. The supervisor is a child
// subreaper, so sky's orphaned descendants are reaped and counted. Once sky has exited
// (and, after a cancel or a timeout, its whole group is gone) and its output is read, it
// writes OPDIR/exit atomically.
func Supervise(args []string) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(os.Stderr, "usage: skygate supervise OPDIR (an absolute path)")
		return 2
	}
	// Signals first: a cancel that comes at once must not be missed.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	syscall.CloseOnExec(goFD)
	syscall.CloseOnExec(readyFD)
	goAhead, ready := os.NewFile(goFD, "go"), os.NewFile(readyFD, "ready")

	s, err := newSupervisor(args[0])
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
		return 1
	}
	if _, err := ready.WriteString("ok\n"); err != nil {
		// Start is gone before it heard from the supervisor: nothing may run.
		_ = os.RemoveAll(s.dir)
		return 1
	}
	ready.Close()

	started := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(goAhead).ReadString('\n')
		started <- line == "go\n"
	}()
	select {
	case ok := <-started:
		goAhead.Close()
		if !ok {
			// Start gave up, or died, before the go-ahead: sky never ran, and the run's
			// directory goes, so that the key names no run.
			_ = os.RemoveAll(s.dir)
			return 1
		}
	case <-signals:
		// Cancelled before sky started.
		return s.finish(exitRecord{ExitCode: -1, Cancelled: true})
	}
	return s.finish(s.run(signals))
}

// supervisor is the state of one supervised run.
type supervisor struct {
	dir  string
	spec runSpec
}

func newSupervisor(dir string) (*supervisor, error) {
	s := &supervisor{dir: dir}
	ok, err := readJSON(filepath.Join(dir, specFile), &s.spec)
	if err == nil && (!ok || len(s.spec.Argv) < 2) {
		err = errors.New("no run spec")
	}
	if err != nil {
		return nil, err
	}
	// Start gave this process's autogroup and first threads the nice value once it had
	// started it; this covers the threads the runtime started since, and so sky, and the
	// autogroup when the kernel refused Start's change.
	niceThreads(os.Getpid(), s.spec.Nice)
	go niceOwnSession(s.spec.SessionNice)
	if err := becomeSubreaper(); err != nil {
		return nil, fmt.Errorf("becoming a subreaper: %w", err)
	}
	start, ok := processStart(os.Getpid())
	if !ok {
		return nil, errors.New("cannot read this process's start time")
	}
	if err := writeJSONAtomic(filepath.Join(dir, identityFile), processID{PID: os.Getpid(), Start: start}); err != nil {
		return nil, err
	}
	return s, nil
}

// finish writes the exit record and returns the supervisor's exit code.
func (s *supervisor) finish(rec exitRecord) int {
	rec.Ended = time.Now().UTC()
	if err := writeJSONAtomic(filepath.Join(s.dir, exitFile), rec); err != nil {
		return 1
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return 0
}

// run starts sky and supervises it until it has ended.
func (s *supervisor) run(signals <-chan os.Signal) exitRecord {
	log, err := os.OpenFile(filepath.Join(s.dir, outputFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return exitRecord{ExitCode: -1, StartError: err.Error()}
	}
	defer log.Close()
	sky, err := startSky(s.spec.Argv)
	if err != nil {
		return exitRecord{ExitCode: -1, StartError: err.Error(), NotFound: errors.Is(err, fs.ErrNotExist)}
	}
	if start, ok := processStart(sky.pid); ok {
		_ = writeJSONAtomic(filepath.Join(s.dir, skyIdentityFile), processID{PID: sky.pid, Start: start})
	}

	out := &logWriter{f: log, max: s.spec.MaxLogBytes}
	var stdoutTail, stderrTail tailBuffer
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); pump(sky.stdout, out, &stdoutTail) }()
	go func() { defer pumps.Done(); pump(sky.stderr, out, &stderrTail) }()

	reaped := make(chan syscall.WaitStatus, 1)
	stopReaping := make(chan struct{})
	defer close(stopReaping)
	go reap(sky.pid, reaped, stopReaping)

	rec := exitRecord{}
	timeout := time.NewTimer(s.spec.Timeout)
	defer timeout.Stop()
	var killAt <-chan time.Time
	var killDeadline time.Time
	terminate := func() {
		if killAt == nil {
			_ = syscall.Kill(-sky.pid, syscall.SIGTERM)
			killDeadline = time.Now().Add(s.spec.KillGrace)
			killAt = time.After(s.spec.KillGrace)
		}
	}
	var status syscall.WaitStatus
wait:
	for {
		select {
		case status = <-reaped:
			break wait
		case <-signals:
			rec.Cancelled = true
			terminate()
		case <-timeout.C:
			rec.TimedOut = true
			terminate()
		case <-killAt:
			_ = syscall.Kill(-sky.pid, syscall.SIGKILL)
		}
	}
	if killAt != nil {
		// A cancelled or timed-out run is over only when sky's whole group is gone.
		waitGroupGone(sky.pid, killDeadline, s.spec.KillGrace)
	}
	// A descendant outside the group (or one left by a run that ended by itself) may hold
	// the pipes open: the output is drained for at most the kill grace.
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(s.spec.KillGrace):
		sky.stdout.Close()
		sky.stderr.Close()
		<-drained
	}
	out.flush()

	if status.Signaled() {
		rec.ExitCode, rec.Signal = -1, int(status.Signal())
	} else {
		rec.ExitCode = status.ExitStatus()
	}
	switch {
	case rec.TimedOut:
		// Whatever sky printed last (a region it failed over from) is not why it ended.
		rec.Message = fmt.Sprintf("%s timed out after %s", commandName(s.spec.Argv), s.spec.Timeout)
	case rec.Signal != 0 && !rec.Cancelled:
		rec.Message = killedBy(commandName(s.spec.Argv), rec.Signal)
	default:
		exitFailed := rec.ExitCode != 0 && !rec.Cancelled
		rec.Message = core.RunMessage(stderrTail.String(), stdoutTail.String(), exitFailed)
	}
	return rec
}

// skyProcess is a started sky with the read ends of its output pipes.
type skyProcess struct {
	pid            int
	stdout, stderr *os.File
}

// startSky starts argv in its own process group with stdin from the null device and
// this process's environment. It is reaped by reap, never by os.Process.Wait.
func startSky(argv []string) (*skyProcess, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	proc, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Files: []*os.File{null, outW, errW},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	pid := proc.Pid
	_ = proc.Release()
	return &skyProcess{pid: pid, stdout: outR, stderr: errR}, nil
}

// reap waits for every child of this process (sky, and the descendants it orphans, which
// a subreaper inherits), and sends sky's status once it has exited.
func reap(skyPID int, sky chan<- syscall.WaitStatus, stop <-chan struct{}) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, 0, nil)
		switch {
		case err == syscall.EINTR:
		case err != nil:
			// No child left for now; an orphan may still be handed over.
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		case pid == skyPID:
			sky <- status
		}
	}
}

// waitGroupGone waits until process group pgid is empty: SIGKILL goes to whatever is left
// at killDeadline (again every grace), and it gives up one more grace after that.
func waitGroupGone(pgid int, killDeadline time.Time, grace time.Duration) {
	giveUp := killDeadline.Add(grace)
	for syscall.Kill(-pgid, 0) == nil {
		now := time.Now()
		if now.After(giveUp) {
			return
		}
		if now.After(killDeadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logWriter appends to a run's log, one whole write at a time, up to max bytes; past
// that, one line says that the rest is not kept.
type logWriter struct {
	mu      sync.Mutex
	f       *os.File
	max     int64
	written int64
	full    bool
}

func (w *logWriter) write(chunks ...[]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range chunks {
		if w.full {
			return
		}
		if w.max > 0 && w.written+int64(len(p)) > w.max {
			w.full = true
			_, _ = fmt.Fprintf(w.f, "\nskygate: the output beyond %d bytes is not kept\n", w.max)
			return
		}
		n, _ := w.f.Write(p)
		w.written += int64(n)
	}
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.f.Sync()
}

// pump copies one output stream of sky to the log, holding back an unfinished line (up
// to maxPendingLine) so that the other stream cannot cut into it, and keeps the
// stream's tail.
func pump(r *os.File, log *logWriter, tail *tailBuffer) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			tail.write(chunk)
			if end := bytes.LastIndexAny(chunk, "\r\n"); end >= 0 {
				log.write(pending, chunk[:end+1])
				pending = append(pending[:0], chunk[end+1:]...)
			} else if pending = append(pending, chunk...); len(pending) >= maxPendingLine {
				log.write(pending)
				pending = pending[:0]
			}
		}
		if err != nil {
			if len(pending) > 0 {
				log.write(pending)
			}
			return
		}
	}
}

// commandName is "sky launch" for argv [path, "launch", ...].
func commandName(argv []string) string {
	if len(argv) < 2 {
		return "sky"
	}
	return "sky " + strings.TrimSpace(argv[1])
}
