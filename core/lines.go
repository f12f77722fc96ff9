package core

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLineBytes caps one progress line; longer lines are cut (on a rune boundary).
const MaxLineBytes = 4096

// ansiRE matches CSI sequences (colours, cursor moves) and OSC sequences (titles, links).
var ansiRE = lazyRegexp(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// StripANSI removes terminal escape sequences, and any stray escape byte left over from a
// truncated one.
func StripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return strings.ReplaceAll(ansiRE().ReplaceAllString(s, ""), "\x1b", "")
}

// SplitOutput splits raw output on "\n" and "\r" (spinners redraw a line with "\r") and
// returns the raw pieces, empty ones included.
func SplitOutput(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
}

// LineCleaner turns raw output lines into progress lines: escape codes stripped, trailing
// and leading space trimmed, blank lines and repeats of the previous line dropped, and each
// line capped at MaxLineBytes. A line that differs from the previous one only in a leading
// spinner glyph counts as a repeat: with FORCE_COLOR or a terminal, sky's rich spinners
// redraw their message once per frame ("⠋ Preparing ...", "⠙ Preparing ..."), and only
// the first frame of a message is kept. It keeps only the previous line, so one cleaner
// serves one stream. The zero value is ready to use.
type LineCleaner struct {
	last string // the previous line kept, without its spinner glyph
}

// Clean returns the progress line for one raw line, and false when it is to be dropped.
func (c *LineCleaner) Clean(raw string) (string, bool) {
	line := CapLine(strings.TrimSpace(StripANSI(raw)))
	message := withoutSpinner(line)
	if message == "" || message == c.last {
		return "", false
	}
	c.last = message
	return line, true
}

// withoutSpinner removes a leading spinner frame and the space after it. rich's spinners
// of the dots family (the default "dots" draws ⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏; others one or two cells of
// braille patterns such as ⣾⣽⣻⢿) draw their frames with the braille patterns U+2800–U+28FF.
func withoutSpinner(line string) string {
	message := strings.TrimLeftFunc(line, isSpinnerGlyph)
	if len(message) == len(line) {
		return line
	}
	return strings.TrimLeftFunc(message, unicode.IsSpace)
}

func isSpinnerGlyph(r rune) bool { return r >= 0x2800 && r <= 0x28FF }

// CleanLines cleans a whole chunk of output at once.
func CleanLines(chunk string) []string {
	var c LineCleaner
	var out []string
	for _, raw := range SplitOutput(chunk) {
		if line, ok := c.Clean(raw); ok {
			out = append(out, line)
		}
	}
	return out
}

// CapLine cuts s to at most MaxLineBytes without splitting a UTF-8 sequence, and replaces
// invalid UTF-8 so every line is safe to put in JSON.
func CapLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxLineBytes {
		return s
	}
	cut := MaxLineBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
