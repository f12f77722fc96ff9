package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one measured figure with its target. A figure without a target is reported
// for information: it neither passes nor fails.
type figure struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Measured string  `json:"measured"` // the value with its details, as printed
	Target   string  `json:"target"`
	Baseline string  `json:"baseline"` // what the value is compared with
	Pass     bool    `json:"pass"`
}

func (f figure) hasTarget() bool { return f.Target != "" }

// report collects the figures in the order they are measured.
type report struct {
	figures     []figure
	loadAverage string
}

func (r *report) add(f figure) { r.figures = append(r.figures, f) }

func (r *report) counts() (passed, failed int) {
	for _, f := range r.figures {
		switch {
		case !f.hasTarget():
		case f.Pass:
			passed++
		default:
			failed++
		}
	}
	return passed, failed
}

func (r *report) print(w io.Writer) {
	passed, failed := r.counts()
	defer fmt.Fprintf(w, "load: %d passed, %d failed\n", passed, failed)
	if len(r.figures) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\ttarget\tbaseline compared with\tresult")
	for _, f := range r.figures {
		target, result := f.Target, verdict(f.Pass)
		if !f.hasTarget() {
			target, result = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Measured, target, f.Baseline, result)
	}
	tw.Flush()
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// thousands formats n with comma separators: 21400 → "21,400".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ms is a duration in milliseconds, for values and their text.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(d time.Duration) string {
	v := ms(d)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtMiB(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
