package skyexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// pollEvery is how often a followed run's files are read for news: it bounds how late a
// line sky printed reaches the event streams. At most --max-sky-procs runs are followed,
// so the cost is a few reads of a small file a second.
const pollEvery = 10 * time.Millisecond

// argv is the sky command line of op.
func (r *Runner) argv(path string, op ports.Operation) ([]string, time.Duration, error) {
	switch op.Action {
	case core.ActionLaunch:
		args := []string{path, "launch", "-y", "-c", op.Cluster}
		if op.Launch.DetachRun {
			args = append(args, "-d")
		}
		if op.Launch.IdleMinutesToAutostop > 0 {
			args = append(args, "-i", strconv.Itoa(op.Launch.IdleMinutesToAutostop))
		}
		return append(args, op.Launch.YAMLPath), r.timeouts.Launch, nil
	case core.ActionStop:
		return []string{path, "stop", "-y", op.Cluster}, r.timeouts.Stop, nil
	case core.ActionStart:
		return []string{path, "start", "-y", op.Cluster}, r.timeouts.Start, nil
	case core.ActionDestroy:
		return []string{path, "down", "-y", op.Cluster}, r.timeouts.Down, nil
	}
	return nil, 0, fmt.Errorf("no sky command for action %q", op.Action)
}

func (r *Runner) dir(key ports.OperationKey) string { return filepath.Join(r.opsDir, string(key)) }

// Start begins op's supervised run and follows it.
func (r *Runner) Start(ctx context.Context, op ports.Operation, onLine ports.LineFunc) (ports.RunOutcome, error) {
	if err := ctx.Err(); err != nil {
		return ports.RunOutcome{}, err
	}
	path, err := r.lookPath()
	if err != nil {
		return ports.RunOutcome{}, fmt.Errorf("sky %s: %w: %q: %v", op.Action, ports.ErrSkyNotFound, r.bin, err)
	}
	argv, timeout, err := r.argv(path, op)
	if err != nil {
		return ports.RunOutcome{}, err
	}
	if err := os.MkdirAll(r.opsDir, 0o700); err != nil {
		return ports.RunOutcome{}, err
	}
	dir := r.dir(op.Key)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ports.RunOutcome{}, fmt.Errorf("a run of %s exists already", op.Key)
		}
		return ports.RunOutcome{}, err
	}
	spec, _ := json.Marshal(runSpec{Argv: argv, Timeout: timeout, KillGrace: r.killGrace})
	if err := writeAtomic(dir, specFile, string(spec)); err != nil {
		return ports.RunOutcome{}, err
	}
	cmd := exec.Command(r.supervisor, "supervise", dir)
	cmd.Env = r.env
	// A session of its own: no signal meant for skygate (a terminal's ^C, a process
	// group kill) reaches the run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return ports.RunOutcome{}, fmt.Errorf("starting the supervisor of sky %s: %w", op.Action, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaped by this process while it lives
		close(exited)
	}()
	// Until the supervisor has written its identity, this process knows it is alive.
	alive := func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
	return r.follow(ctx, dir, 0, onLine, alive)
}

// Attach follows the supervised run of key from offset.
func (r *Runner) Attach(ctx context.Context, key ports.OperationKey, offset int64, onLine ports.LineFunc) (ports.RunOutcome, error) {
	dir := r.dir(key)
	if _, err := os.Stat(filepath.Join(dir, specFile)); err != nil {
		return ports.RunOutcome{}, ports.ErrNoOperation
	}
	return r.follow(ctx, dir, offset, onLine, func() bool { return supervisorAlive(dir) })
}

// follow streams dir's output after offset until the exit file appears and the output is
// drained, then returns the outcome. Only whole lines are delivered (a partial last line
// waits for its end, or for the run's), each with the offset just after it, so following
// again from that offset neither repeats nor skips a line.
func (r *Runner) follow(ctx context.Context, dir string, offset int64, onLine ports.LineFunc, alive func() bool) (ports.RunOutcome, error) {
	t := &tail{offset: offset, onLine: onLine}
	if offset > 0 {
		t.prime(filepath.Join(dir, outputFile))
	}
	for {
		// The exit file is looked for before the output is read, so the read that
		// follows it sees everything sky wrote.
		rec, ended := readExit(dir)
		if err := t.read(filepath.Join(dir, outputFile)); err != nil {
			return ports.RunOutcome{}, err
		}
		if ended {
			t.flush()
			return outcome(dir, rec), nil
		}
		if !alive() {
			if _, ended := readExit(dir); ended {
				continue
			}
			return ports.RunOutcome{}, ports.ErrNoOperation
		}
		select {
		case <-ctx.Done():
			return ports.RunOutcome{}, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func readExit(dir string) (exitRecord, bool) {
	raw, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return exitRecord{}, false
	}
	var rec exitRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return exitRecord{Code: -1, Reason: "unreadable exit file"}, true
	}
	return rec, true
}

// outcome judges a finished run from its exit record and output.
func outcome(dir string, rec exitRecord) ports.RunOutcome {
	stdout := readTail(filepath.Join(dir, outputFile))
	stderr := readTail(filepath.Join(dir, stderrFile))
	out := ports.RunOutcome{Failed: rec.Code != 0 || rec.Reason != ""}
	if meaningful := core.CleanLines(stderr + "\n" + stdout); len(meaningful) > 0 {
		out.Message = core.ExtractError(stderr, stdout)
	}
	switch {
	case rec.Reason == "timeout":
		out.Message = "sky did not finish in time and was stopped"
	case rec.Reason == "cancelled":
		out.Message = "sky was cancelled"
	case len(rec.Reason) > 6 && rec.Reason[:6] == "start:":
		out.Message = "sky could not be started: " + rec.Reason[6:]
	}
	return out
}

// readTail returns the last maxOutputBytes of a file ("" when it cannot be read).
func readTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > maxOutputBytes {
		_, _ = f.Seek(info.Size()-maxOutputBytes, io.SeekStart)
	}
	raw, _ := io.ReadAll(io.LimitReader(f, maxOutputBytes))
	return string(raw)
}

// tail cuts a growing output file into cleaned lines.
type tail struct {
	offset   int64  // where the line being read starts in the file
	consumed int64  // bytes of that line read so far (past the kept part too)
	line     []byte // its first maxRawLineBytes bytes
	cleaner  core.LineCleaner
	onLine   ports.LineFunc
}

// prime feeds the cleaner the line that ends at offset, so a repeat of the last line
// delivered before a restart is dropped as it was before.
func (t *tail) prime(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	from := max(0, t.offset-maxRawLineBytes-1)
	buf := make([]byte, t.offset-from)
	if _, err := f.ReadAt(buf, from); err != nil {
		return
	}
	buf = bytes.TrimRight(buf, "\r\n")
	if i := bytes.LastIndexAny(buf, "\r\n"); i >= 0 {
		buf = buf[i+1:]
	}
	t.cleaner.Clean(string(buf))
}

// read delivers the whole lines written since the last read.
func (t *tail) read(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.offset+t.consumed, io.SeekStart); err != nil {
		return err
	}
	chunk := make([]byte, 64<<10)
	for {
		n, err := f.Read(chunk)
		t.feed(chunk[:n])
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (t *tail) feed(p []byte) {
	for len(p) > 0 {
		end := bytes.IndexAny(p, "\r\n")
		part := p
		if end >= 0 {
			part = p[:end]
		}
		t.line = append(t.line, part[:min(len(part), max(maxRawLineBytes-len(t.line), 0))]...)
		t.consumed += int64(len(part))
		if end < 0 {
			return
		}
		t.consumed++ // the line break
		t.emit()
		p = p[end+1:]
	}
}

// emit delivers the line read so far, with the offset just after it.
func (t *tail) emit() {
	t.offset += t.consumed
	if text, ok := t.cleaner.Clean(string(t.line)); ok && t.onLine != nil {
		t.onLine(ports.Line{Text: text, Offset: t.offset})
	}
	t.consumed, t.line = 0, t.line[:0]
}

// flush delivers a last line that has no line break, once the run has ended.
func (t *tail) flush() {
	if t.consumed > 0 {
		t.emit()
	}
}

// Cancel ends the supervised run of key and waits until sky is gone.
func (r *Runner) Cancel(ctx context.Context, key ports.OperationKey) error {
	dir := r.dir(key)
	if _, err := os.Stat(filepath.Join(dir, specFile)); err != nil {
		return nil
	}
	signalled := false
	// A supervisor that has not written its identity yet is given this long to do so.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ended := readExit(dir); ended {
			return nil
		}
		pid, alive := supervisorPid(dir)
		if alive && !signalled {
			if err := syscall.Kill(pid, syscall.SIGTERM); err == nil {
				signalled = true
			}
		}
		if !alive && signalled {
			return nil // gone without an exit file: nothing of it is left to end
		}
		if !alive && !signalled {
			// Not yet started (no identity written), or dead: give a starting
			// supervisor a moment, then stop waiting.
			if _, err := os.Stat(filepath.Join(dir, pidFile)); err == nil || time.Now().After(deadline) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// Forget removes the folders of finished runs but the newest keep.
func (r *Runner) Forget(keep int) error {
	entries, err := os.ReadDir(r.opsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	type finished struct {
		dir string
		at  time.Time
	}
	var done []finished
	for _, e := range entries {
		dir := filepath.Join(r.opsDir, e.Name())
		if info, err := os.Stat(filepath.Join(dir, exitFile)); err == nil && e.IsDir() {
			done = append(done, finished{dir, info.ModTime()})
		}
	}
	slices.SortFunc(done, func(a, b finished) int { return b.at.Compare(a.at) })
	for _, f := range done[min(keep, len(done)):] {
		if err := os.RemoveAll(f.dir); err != nil {
			return err
		}
	}
	return nil
}
