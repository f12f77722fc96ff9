package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Every line written, by any number of writers, comes out whole and once by Close.
func TestLogWriterKeepsEveryLine(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%97))
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*2000 {
		t.Fatalf("%d lines, want %d", len(lines), 8*2000)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "\"}") || seen[l] {
			t.Fatalf("line torn or repeated: %q", l)
		}
		seen[l] = true
	}
}

// A warning is written out at once, with what came before it; info lines wait.
func TestLogWriterFlushesWarningsAtOnce(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	defer w.Close()
	log := zerolog.New(w)
	log.Info().Msg("first")
	if got := out.String(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.Warn().Msg("second")
	if got := out.String(); !strings.Contains(got, "first") || !strings.Contains(got, "second") {
		t.Fatalf("after a warning the log holds %q", got)
	}
}
