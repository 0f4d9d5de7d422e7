package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in the style of HdrHistogram:
// values below 256 µs are recorded exactly, larger ones in buckets 1/128 of
// their power of two wide (under 0.8 % relative error), so a percentile
// costs nothing to record and a run of any length needs a fixed ~8 KiB.
// Each worker owns one; they are merged after the run.
type hist struct {
	counts [256 + 56*128]uint64
	n      uint64
	max    uint64 // exact, µs
	sum    uint64 // µs
}

func bucketOf(us uint64) int {
	if us < 256 {
		return int(us)
	}
	shift := bits.Len64(us) - 8 // us>>shift is in [128, 255]
	return 256 + (shift-1)*128 + int(us>>shift) - 128
}

// bucketValue is the highest value bucket i holds, so a percentile is
// never under-reported.
func bucketValue(i int) uint64 {
	if i < 256 {
		return uint64(i)
	}
	i -= 256
	shift := i/128 + 1
	sub := uint64(i%128 + 128)
	return (sub+1)<<shift - 1
}

func (h *hist) record(d time.Duration) {
	us := uint64(d.Microseconds())
	if us < 1 {
		us = 1
	}
	i := bucketOf(us)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	h.sum += us
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency at q (0..1): the smallest recorded bucket
// below which at least q of the values lie.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := bucketValue(i)
			if v > h.max {
				v = h.max
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}
