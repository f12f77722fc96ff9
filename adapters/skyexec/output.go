package skyexec

import (
	"strings"
	"unicode/utf8"
)

// maxOutputBytes bounds what is kept in memory of one output stream of a sky process: a
// read-only call's stdout and stderr, and the tails a supervisor keeps to explain how a
// run ended.
const maxOutputBytes = 1 << 20

// maxParsedBytes bounds the stdout of a read-only call, which is parsed whole: 64 MiB
// holds the status of some 50,000 clusters.
const maxParsedBytes = 64 << 20

// tailBuffer keeps the last max bytes written to it (maxOutputBytes when max is 0). Its
// buffer grows by doubling (a short output costs little) up to max, and is then used as
// a ring, so memory stays bounded however much is written. It is an io.Writer that never
// fails, so a child is never cut off from its output.
type tailBuffer struct {
	max     int
	buf     []byte
	next    int // once buf is full: where the oldest byte is, and the next one goes
	written int // bytes written in all
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.write(p)
	return len(p), nil
}

func (t *tailBuffer) write(p []byte) {
	limit := t.max
	if limit <= 0 {
		limit = maxOutputBytes
	}
	t.written += len(p)
	if len(p) > limit {
		p = p[len(p)-limit:]
	}
	if room := limit - len(t.buf); room > 0 {
		n := min(room, len(p))
		if len(t.buf)+n > cap(t.buf) {
			grown := make([]byte, len(t.buf), min(limit, max(2*cap(t.buf), len(t.buf)+n)))
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
