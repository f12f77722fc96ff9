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
		// One line per message, not per spinner frame.
		{"spinner redraws", "⠴ Launching\r⠦ Launching\r\n✓ Cluster launched: x.\n", []string{"⠴ Launching", "✓ Cluster launched: x."}},
		{"spinner message changes", "⠋ Launching\r⠙ Launching - blocked by other requests\r⠹ Launching\n",
			[]string{"⠋ Launching", "⠙ Launching - blocked by other requests", "⠹ Launching"}},
		{"two-cell and coloured frames", "\x1b[36m⢀⠀\x1b[0m Syncing files\r\x1b[36m⡀⠀\x1b[0m Syncing files\r⣾ Syncing files\n", []string{"⢀⠀ Syncing files"}},
		{"frame without a message", "⠋\r⠙ \rdone\n", []string{"done"}},
		{"spinner stops on the same message", "⠋ Preparing\rPreparing\rnext\n", []string{"⠋ Preparing", "next"}},
		{"a glyph that is no spinner", "✓ Synced\r✗ Synced\n", []string{"✓ Synced", "✗ Synced"}},
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

// The frames of a FORCE_COLOR launch: rich's "dots" spinner redrawing two messages.
func TestCleanLinesSpinnerSample(t *testing.T) {
	got := CleanLines(readSample(t, "lines/spinner_frames.txt"))
	const hint = "  View logs: sky api logs -l sky-2024-12-13-05-27-22-754475/provision.log"
	want := []string{
		"⚙︎ Launching on Kubernetes.", "└── Pod is up.",
		"⠋ Preparing SkyPilot runtime (2/3 - dependencies)" + hint,
		"⠸ Preparing SkyPilot runtime (3/3 - runtime)" + hint,
		"✓ Cluster launched: my-cluster.  View logs: sky logs --provision my-cluster",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestLineCleanerAcrossChunks(t *testing.T) {
	var c LineCleaner
	var got []string
	for _, raw := range []string{"⠋ Preparing", "⠙ Preparing", "⠹ Preparing", "✓ Done", "⠼ Preparing"} {
		if line, ok := c.Clean(raw); ok {
			got = append(got, line)
		}
	}
	if want := []string{"⠋ Preparing", "✓ Done", "⠼ Preparing"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
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
	addSampleSeeds(f, "lines", func(sample string) { f.Add(sample) })
	f.Add("\x1b[31mred\x1b[0m\r\nnext\rover")
	f.Add("⠋ a\r⠙ a\r⢀⠀ a\ra\r⠋\n")
	f.Fuzz(func(t *testing.T, chunk string) {
		lines := CleanLines(chunk)
		for i, line := range lines {
			if i > 0 && withoutSpinner(line) == withoutSpinner(lines[i-1]) {
				t.Errorf("repeated message %q after %q", line, lines[i-1])
			}
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
