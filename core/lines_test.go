package core

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanLines(t *testing.T) {
	tests := []struct {
		name, chunk string
		want        []string
	}{
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"spinner redraws", "⠴ Launching\r⠦ Launching\r\n✓ Cluster launched: x.\n", []string{"⠴ Launching", "⠦ Launching", "✓ Cluster launched: x."}},
		{"repeats dropped", "same\nsame\r\nother\nsame\n", []string{"same", "other", "same"}},
		{"colour codes", "\x1b[0m\x1b[32m✓ Setup completed.\x1b[0m  \n", []string{"✓ Setup completed."}},
		{"osc link", "\x1b]8;;http://x\x07link\x1b]8;;\x07\n", []string{"link"}},
		{"blank and padded", "\n   \n\t x \t\n", []string{"x"}},
		{"invalid utf-8", "a\xffb\n", []string{"a\uFFFDb"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanLines(tt.chunk); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCleanLinesCapsLongLines(t *testing.T) {
	got := CleanLines(strings.Repeat("é", MaxLineBytes))
	if len(got) != 1 || len(got[0]) > MaxLineBytes || !utf8.ValidString(got[0]) {
		t.Fatalf("got %d lines, first %d bytes", len(got), len(got[0]))
	}
}

func FuzzCleanLines(f *testing.F) {
	addSampleSeeds(f, "status", func(sample string) { f.Add(sample) })
	addSampleSeeds(f, "check", func(sample string) { f.Add(sample) })
	addSampleSeeds(f, "errors", func(sample string) { f.Add(sample) })
	f.Add("\x1b[31mred\x1b[0m\r\nnext\rover")
	f.Fuzz(func(t *testing.T, chunk string) {
		for _, line := range CleanLines(chunk) {
			switch {
			case line == "":
				t.Error("empty line")
			case len(line) > MaxLineBytes:
				t.Errorf("line of %d bytes", len(line))
			case !utf8.ValidString(line):
				t.Errorf("invalid UTF-8 %q", line)
			case strings.ContainsAny(line, "\r\n\x1b"):
				t.Errorf("control character in %q", line)
			}
		}
	})
}
