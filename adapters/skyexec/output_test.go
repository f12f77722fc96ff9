package skyexec

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTailBufferKeepsTheLastBytes(t *testing.T) {
	const limit = maxOutputBytes
	// "é" is two bytes: most cuts of this text fall inside a rune.
	text := strings.Repeat("abcdé\n", 3*limit/7)
	for _, chunk := range []int{1, 7, 4096, 65536, limit - 1, limit, limit + 3, len(text)} {
		for _, total := range []int{0, 10, limit - 1, limit, limit + 1, len(text)} {
			var tail tailBuffer
			written := text[:total]
			for rest := written; len(rest) > 0; {
				n := min(chunk, len(rest))
				tail.write([]byte(rest[:n]))
				rest = rest[n:]
			}
			want := written[max(0, total-limit):]
			if total > limit {
				// A cut within a rune drops the rune's remains.
				for !utf8.RuneStart(want[0]) {
					want = want[1:]
				}
			}
			if got := tail.String(); got != want {
				t.Fatalf("chunks of %d, %d bytes written: kept %d bytes, want the last %d", chunk, total, len(got), len(want))
			}
			if cap(tail.buf) > limit {
				t.Fatalf("chunks of %d, %d bytes written: buffer capacity %d", chunk, total, cap(tail.buf))
			}
		}
	}
}
