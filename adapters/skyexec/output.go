package skyexec

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/skygate/skygate/core"
)

// maxRawLineBytes bounds the raw text kept of one line before cleaning. It leaves room
// for escape codes and indentation that cleaning removes; core.CapLine then cuts the
// clean line to core.MaxLineBytes. The rest of a longer line is dropped as it is read.
const maxRawLineBytes = 4 * core.MaxLineBytes

// stream receives one output stream of a child, written by a single goroutine of
// exec.Cmd. It keeps the raw tail for RunResult and, when emit is set, cuts the output
// into lines on "\n" and "\r" and emits them cleaned.
type stream struct {
	tail    tailBuffer
	emit    func(line string) // nil: lines are not wanted
	cleaner core.LineCleaner
	line    []byte // the raw line read so far, at most maxRawLineBytes
}

func newStream(emit func(string)) *stream {
	return &stream{emit: emit}
}

// Write never fails, so the child is never cut off from its output.
func (s *stream) Write(p []byte) (int, error) {
	s.tail.write(p)
	if s.emit == nil {
		return len(p), nil
	}
	rest := p
	for {
		end := bytes.IndexAny(rest, "\r\n")
		if end < 0 {
			s.appendLine(rest)
			return len(p), nil
		}
		s.appendLine(rest[:end])
		s.endLine()
		rest = rest[end+1:]
	}
}

func (s *stream) appendLine(b []byte) {
	room := maxRawLineBytes - len(s.line)
	s.line = append(s.line, b[:min(len(b), room)]...)
}

func (s *stream) endLine() {
	if line, ok := s.cleaner.Clean(string(s.line)); ok {
		s.emit(line)
	}
	s.line = s.line[:0]
}

// flush emits the last line when the output did not end with a line break.
func (s *stream) flush() {
	if s.emit != nil && len(s.line) > 0 {
		s.endLine()
	}
}

// tailBuffer keeps the last maxOutputBytes bytes written to it. Its buffer grows
// by doubling (a short output costs little) up to MaxOutputBytes, and is then used as a
// ring, so memory stays bounded however much is written.
type tailBuffer struct {
	buf     []byte
	next    int // once buf is full: where the oldest byte is, and the next one goes
	written int // bytes written in all
}

func (t *tailBuffer) write(p []byte) {
	t.written += len(p)
	if len(p) > maxOutputBytes {
		p = p[len(p)-maxOutputBytes:]
	}
	if room := maxOutputBytes - len(t.buf); room > 0 {
		n := min(room, len(p))
		if len(t.buf)+n > cap(t.buf) {
			grown := make([]byte, len(t.buf), min(maxOutputBytes, max(2*cap(t.buf), len(t.buf)+n)))
			copy(grown, t.buf)
			t.buf = grown
		}
		t.buf = append(t.buf, p[:n]...)
		p = p[n:]
	}
	for len(p) > 0 {
		n := copy(t.buf[t.next:], p)
		p = p[n:]
		t.next = (t.next + n) % len(t.buf)
	}
}

// String returns the kept tail. When the head was dropped, the tail starts at a rune
// boundary rather than in the middle of a UTF-8 sequence.
func (t *tailBuffer) String() string {
	oldest, newest := t.buf[t.next:], t.buf[:t.next]
	if t.written > len(t.buf) {
		for i := 0; i < utf8.UTFMax-1 && len(oldest) > 0 && !utf8.RuneStart(oldest[0]); i++ {
			oldest = oldest[1:]
		}
	}
	var b strings.Builder
	b.Grow(len(oldest) + len(newest))
	b.Write(oldest)
	b.Write(newest)
	return b.String()
}
