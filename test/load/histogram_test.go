package main

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := time.Duration(0); v < 10*time.Second; v = v*9/8 + 1 {
		i := bucketOf(v)
		if i < prev || i >= histogramBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", v, i, prev)
		}
		prev = i
		if top := bucketTop(i); top < v || float64(top-v) > 0.016*float64(v)+1 {
			t.Fatalf("bucketTop(bucketOf(%d)) = %d: not a tight upper bound", v, top)
		}
	}
}

func TestHistogramPercentile(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.percentile(c.p)
		if got < c.want || float64(got-c.want) > 0.016*float64(c.want) {
			t.Errorf("percentile(%v) = %v, want %v within 1.6%%", c.p, got, c.want)
		}
	}
}
