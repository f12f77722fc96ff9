package skyexec

import (
	"bytes"
	"io"
	"os"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// maxRawLineBytes bounds the raw text kept of one line before cleaning. It leaves room
// for escape codes and indentation that cleaning removes; core.CapLine then cuts the
// clean line to core.MaxLineBytes. The rest of a longer line is skipped as it is read.
const maxRawLineBytes = 4 * core.MaxLineBytes

// maxPrimeBytes bounds how far back from an offset the line before it is looked for.
const maxPrimeBytes = 1 << 20

// logTail turns a run's log into lines, from an offset: a line ends at "\n" or "\r"
// (spinners redraw with "\r") and is cleaned by a core.LineCleaner; each line carries the
// offset just past its terminator. An unfinished last line is held back until its
// terminator comes, or until finish, when the run is over.
//
// From an offset past the start, the cleaner is first shown the last line before the
// offset, so that a repeat of it is dropped as a follower from the start would have: the
// lines from an offset are exactly those a follower from the start delivered after it
// (unless that line is longer than maxPrimeBytes).
type logTail struct {
	next    int64 // the offset of the next byte to read
	line    []byte
	inLine  bool // bytes of an unfinished line have been read (maybe more than kept)
	cleaner core.LineCleaner
	onLine  ports.LineFunc
	// stopped, when it reports true, ends the delivery of lines: the follower's context
	// ended, and no line is delivered after that, even one already read.
	stopped func() bool
	buf     []byte
}

func newLogTail(offset int64, onLine ports.LineFunc, stopped func() bool) *logTail {
	if stopped == nil {
		stopped = func() bool { return false }
	}
	return &logTail{next: offset, onLine: onLine, stopped: stopped, buf: make([]byte, 64<<10)}
}

// prime shows the cleaner the last line of f before the offset that it would have kept.
func (t *logTail) prime(f *os.File) error {
	if t.next <= 0 {
		return nil
	}
	from := max(t.next-maxPrimeBytes, 0)
	window := make([]byte, t.next-from)
	n, err := f.ReadAt(window, from)
	if err != nil && err != io.EOF {
		return err
	}
	window = window[:n]
	pieces := bytes.FieldsFunc(window, func(r rune) bool { return r == '\r' || r == '\n' })
	if from > 0 && len(pieces) > 0 && len(window) > 0 && window[0] != '\r' && window[0] != '\n' {
		// The first piece may be the end of a line that starts before the window.
		pieces = pieces[1:]
	}
	for i := len(pieces) - 1; i >= 0; i-- {
		raw := string(pieces[i][:min(len(pieces[i]), maxRawLineBytes)])
		var probe core.LineCleaner
		if _, kept := probe.Clean(raw); kept {
			t.cleaner.Clean(raw)
			return nil
		}
	}
	return nil
}

// readFrom reads what the log holds past the last read, up to one buffer, and emits the
// lines it completes. It returns how many bytes it read.
func (t *logTail) readFrom(f *os.File) (int, error) {
	n, err := f.ReadAt(t.buf, t.next)
	if n > 0 {
		t.consume(t.buf[:n])
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// readAll reads the log to its end.
func (t *logTail) readAll(f *os.File) (int64, error) {
	var total int64
	for {
		n, err := t.readFrom(f)
		total += int64(n)
		if n == 0 || err != nil {
			return total, err
		}
	}
}

func (t *logTail) consume(chunk []byte) {
	for len(chunk) > 0 && !t.stopped() {
		end := bytes.IndexAny(chunk, "\r\n")
		if end < 0 {
			t.keep(chunk)
			t.next += int64(len(chunk))
			return
		}
		t.keep(chunk[:end])
		t.next += int64(end + 1)
		t.endLine()
		chunk = chunk[end+1:]
	}
}

func (t *logTail) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	t.inLine = true
	room := maxRawLineBytes - len(t.line)
	t.line = append(t.line, b[:min(len(b), room)]...)
}

func (t *logTail) endLine() {
	if text, ok := t.cleaner.Clean(string(t.line)); ok && t.onLine != nil {
		t.onLine(ports.Line{Text: text, Offset: t.next})
	}
	t.line = t.line[:0]
	t.inLine = false
}

// finish emits the unfinished last line of a run that is over.
func (t *logTail) finish() {
	if t.inLine && !t.stopped() {
		t.endLine()
	}
}
