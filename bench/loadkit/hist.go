package loadkit

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a log-linear latency histogram in the style of HdrHistogram:
// values below 256 µs are recorded exactly, larger ones in buckets 1/128 of
// their power of two wide (under 0.8 % relative error), so a percentile
// costs nothing to record and a run of any length needs a fixed ~58 KiB.
// It is safe for concurrent use (a few atomic adds per sample); histograms
// kept apart (one per worker) can be merged afterwards.
type Hist struct {
	counts [256 + 56*128]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Uint64 // exact, µs
	sum    atomic.Uint64 // µs
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

func raiseTo(m *atomic.Uint64, v uint64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Record adds one latency.
func (h *Hist) Record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 1))
	i := min(bucketOf(us), len(h.counts)-1)
	h.counts[i].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	raiseTo(&h.max, us)
}

// Merge adds o's samples to h.
func (h *Hist) Merge(o *Hist) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	raiseTo(&h.max, o.max.Load())
}

// Count is the number of samples.
func (h *Hist) Count() uint64 { return h.n.Load() }

// Max is the largest sample, exactly.
func (h *Hist) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Quantile returns the latency at q (0..1): the smallest recorded bucket
// below which at least q of the values lie.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := min(max(uint64(q*float64(n)+0.5), 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketValue(i))*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}

// Mean is the average sample.
func (h *Hist) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/n) * time.Microsecond
}
