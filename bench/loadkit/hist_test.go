package loadkit

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	for _, us := range []uint64{1, 2, 255, 256, 257, 511, 512, 1000, 12345, 1 << 20, 1<<40 + 7, 1<<63 + 1} {
		i := bucketOf(us)
		hi := bucketValue(i)
		if hi < us {
			t.Errorf("%d: bucket %d tops out at %d, below the value", us, i, hi)
		}
		if us >= 256 && float64(hi-us) > float64(us)/128 {
			t.Errorf("%d: bucket %d top %d is more than 1/128 off", us, i, hi)
		}
		if i > 0 && bucketValue(i-1) >= us {
			t.Errorf("%d: the bucket below (%d) already holds it", us, bucketValue(i-1))
		}
	}
}

func TestQuantilesMatchSortedSample(t *testing.T) {
	var h Hist
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 100000)
	for i := range vals {
		us := 100 + rng.ExpFloat64()*5000
		vals[i] = us
		h.Record(time.Duration(us * float64(time.Microsecond)))
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := float64(h.Quantile(q).Microseconds())
		if got < want*0.99-1 || got > want*1.01+1 {
			t.Errorf("q%.3f: got %.0fµs, want about %.0fµs", q, got, want)
		}
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("q1 %s is not the max %s", h.Quantile(1), h.Max())
	}
}
