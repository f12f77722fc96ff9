package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets: exact below 64 ns, then 64 buckets
// per power of two, so a percentile is off by less than 1.6%. It is a fixed-size array,
// which keeps recording a sample to an index computation and an increment.
type histogram struct {
	counts [histogramBuckets]uint64
	total  uint64
	max    time.Duration
}

const (
	subBucketBits    = 6
	subBuckets       = 1 << subBucketBits
	histogramBuckets = (64 - subBucketBits) * subBuckets
)

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1 // v>>shift is in [64, 128)
	return (shift+1)<<subBucketBits + int(v>>shift) - subBuckets
}

// bucketTop is the largest duration that falls in bucket i.
func bucketTop(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i)
	}
	shift := i>>subBucketBits - 1
	low := uint64(i&(subBuckets-1)+subBuckets) << shift
	return time.Duration(low + 1<<shift - 1)
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.total++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// percentile is the latency below which a fraction p of the samples fall (upper bound of
// its bucket).
func (h *histogram) percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(p*float64(h.total-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketTop(i), h.max)
		}
	}
	return h.max
}
