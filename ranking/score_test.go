package ranking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// Property tests draw from a fixed seed so every run checks the same cases.
const propertyCases = 20000

func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(20260101, 4))
}

// randomHistogram mixes the shapes that stress the formulas: few ratings,
// many ratings, empty levels, and lopsided posts with one dominant level.
// Counts stay ≤ 10^6, where the monotonicity properties hold exactly in
// float64 (see TestTopScoreMonotoneHugeCounts for larger ones).
func randomHistogram(r *rand.Rand) Histogram {
	var h Histogram
	mode := r.IntN(5)
	for k := range h {
		switch mode {
		case 0: // a handful of ratings
			h[k] = r.Int64N(4)
		case 1: // a typical post
			h[k] = r.Int64N(200)
		case 2: // sparse: some levels empty
			if r.IntN(2) == 0 {
				h[k] = r.Int64N(5000)
			}
		case 3: // log-uniform up to 10^6
			if r.IntN(3) > 0 {
				h[k] = int64(math.Exp(r.Float64() * math.Log(1e6)))
			}
		case 4: // lopsided: one level dominates
			h[k] = r.Int64N(3)
		}
	}
	if mode == 4 {
		h[r.IntN(Stars)] = r.Int64N(1_000_000)
	}
	return h
}

// ---------------------------------------------------------------------------
// Histogram

func TestHistogramMethods(t *testing.T) {
	tests := []struct {
		name   string
		h      Histogram
		count  int64
		sum    int64
		avg    float64
		net    int64
		hotQty float64
	}{
		{"empty", Histogram{}, 0, 0, 0, 0, 0},
		{"one 5-star", Histogram{4: 1}, 1, 5, 5, 2, math.Log10(3)},
		{"one of each", Histogram{1, 1, 1, 1, 1}, 5, 15, 3, 0, 0},
		{"two 1-star", Histogram{0: 2}, 2, 2, 1, -4, -math.Log10(5)},
		{"4.6 average", Histogram{3: 200, 4: 300}, 500, 2300, 4.6, 800, math.Log10(801)},
		{"negative counts read as zero", Histogram{-3, 0, 0, 0, 2}, 2, 10, 5, 4, math.Log10(5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if got := h.Count(); got != tc.count {
				t.Errorf("Count = %d, want %d", got, tc.count)
			}
			if got := h.Sum(); got != tc.sum {
				t.Errorf("Sum = %d, want %d", got, tc.sum)
			}
			if got := h.Average(); got != tc.avg {
				t.Errorf("Average = %v, want %v", got, tc.avg)
			}
			if got := h.Net(); got != tc.net {
				t.Errorf("Net = %d, want %d", got, tc.net)
			}
			if got := HotQuality(h); got != tc.hotQty {
				t.Errorf("HotQuality = %v, want %v", got, tc.hotQty)
			}
		})
	}
}

func TestHistogramWith(t *testing.T) {
	h := Histogram{1, 2, 3, 4, 5}
	if got, want := h.With(3, 2), (Histogram{1, 2, 5, 4, 5}); got != want {
		t.Errorf("With(3, 2) = %v, want %v", got, want)
	}
	if got, want := h.Add(5), (Histogram{1, 2, 3, 4, 6}); got != want {
		t.Errorf("Add(5) = %v, want %v", got, want)
	}
	if got, want := h.Remove(1), (Histogram{0, 2, 3, 4, 5}); got != want {
		t.Errorf("Remove(1) = %v, want %v", got, want)
	}
	// A rating changed from 2 to 4 stars.
	if got, want := h.With(2, -1).With(4, +1), (Histogram{1, 1, 3, 5, 5}); got != want {
		t.Errorf("change 2→4 = %v, want %v", got, want)
	}
	// Copies, never in place.
	if h != (Histogram{1, 2, 3, 4, 5}) {
		t.Errorf("receiver modified: %v", h)
	}
	// Never below zero.
	if got, want := (Histogram{}).Remove(1), (Histogram{}); got != want {
		t.Errorf("Remove from empty = %v, want %v", got, want)
	}
	if got, want := h.With(4, -100), (Histogram{1, 2, 3, 0, 5}); got != want {
		t.Errorf("With(4, -100) = %v, want %v", got, want)
	}
	for _, stars := range []int{0, 6, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("With(%d, 1) did not panic", stars)
				}
			}()
			h.With(stars, 1)
		}()
	}
}

// ---------------------------------------------------------------------------
// TopScore

// millerReference is Evan Miller's formula written as in his article, with
// the variance as E[s²] − μ², independently of TopScore's centred form.
func millerReference(h Histogram) float64 {
	const z = 1.65
	n := 5.0
	for _, c := range h {
		n += float64(c)
	}
	var m1, m2 float64
	for k, c := range h {
		s := float64(k + 1)
		m1 += s * (float64(c) + 1) / n
		m2 += s * s * (float64(c) + 1) / n
	}
	return m1 - z*math.Sqrt((m2-m1*m1)/(n+1))
}

func TestTopScoreTable(t *testing.T) {
	unrated := 3 - 1.65*math.Sqrt(1.0/3) // μ = 3, σ² = 2, N+1 = 6
	tests := []struct {
		name string
		h    Histogram
		want float64
	}{
		{"unrated is the prior's bound", Histogram{}, unrated},
		{"negative counts read as zero", Histogram{-5, -1, 0, 0, 0}, unrated},
		{"two 5-star", Histogram{4: 2}, 2.697376606878011},
		{"300×5 + 200×4 (average 4.6)", Histogram{3: 200, 4: 300}, 4.545170115741434},
		{"one 1-star", Histogram{0: 1}, millerReference(Histogram{0: 1})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TopScore(tc.h); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("TopScore(%v) = %v, want %v", tc.h, got, tc.want)
			}
		})
	}
}

func TestTopScoreMatchesMillerReference(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		h := randomHistogram(r)
		if got, want := TopScore(h), millerReference(h); math.Abs(got-want) > 1e-9 {
			t.Fatalf("TopScore(%v) = %v, Miller's formula gives %v", h, got, want)
		}
	}
}

func TestTopScorePrior(t *testing.T) {
	// Every unrated post scores the same, the prior's lower bound.
	if a, b := TopScore(Histogram{}), TopScore(Histogram{}.Add(3).Remove(3)); a != b {
		t.Errorf("unrated posts differ: %v vs %v", a, b)
	}
	// Two 5-star votes score below 500 ratings averaging exactly 4.6.
	few, many := Histogram{4: 2}, Histogram{3: 200, 4: 300}
	if many.Count() != 500 || many.Sum()*5 != many.Count()*23 { // Sum/Count == 23/5 == 4.6 exactly
		t.Fatalf("fixture %v is not 500 ratings averaging 4.6", many)
	}
	if !(TopScore(few) < TopScore(many)) {
		t.Errorf("two 5-star votes (%v) do not score below 500 ratings averaging 4.6 (%v)",
			TopScore(few), TopScore(many))
	}
	// The prior pulls a lone extreme vote towards the middle.
	if s := TopScore(Histogram{4: 1}); s >= TopScore(Histogram{4: 100}) {
		t.Errorf("one 5-star vote %v ≥ a hundred", s)
	}
	if s := TopScore(Histogram{0: 1}); s <= TopScore(Histogram{0: 100}) {
		t.Errorf("one 1-star vote %v ≤ a hundred", s)
	}
}

func TestTopScoreBounds(t *testing.T) {
	r := newRand(t)
	check := func(h Histogram) {
		if s := TopScore(h); !(s > 1 && s < 5) {
			t.Fatalf("TopScore(%v) = %v, not inside (1, 5)", h, s)
		}
	}
	for range propertyCases {
		check(randomHistogram(r))
	}
	for _, n := range []int64{1, 1e3, 1e6, 1e9} {
		check(Histogram{0: n})
		check(Histogram{4: n})
		check(Histogram{n, 0, 0, 0, n})
	}
	// Rounding may reach the ends for absurd counts, but never passes them.
	for _, n := range []int64{1e17, math.MaxInt64 / 8} {
		for _, h := range []Histogram{{0: n}, {4: n}} {
			if s := TopScore(h); s < 1 || s > 5 {
				t.Errorf("TopScore(%v) = %v, outside [1, 5]", h, s)
			}
		}
	}
}

// The monotonicity that holds for Miller's bound, exactly (no tolerance):
//   - adding a 5-star rating never lowers the score;
//   - adding a 1-star rating never raises it;
//   - moving one rating from k to k+1 stars never lowers it.
//
// (Also checked exhaustively for all counts 0..21 on every level and on a
// logarithmic grid up to 10^7 while choosing TopZ; the smallest margins are
// for posts with one dominant level.)
func TestTopScoreMonotone(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		h := randomHistogram(r)
		s := TopScore(h)
		if up := TopScore(h.Add(5)); up < s {
			t.Fatalf("adding a 5 to %v lowered the score: %v → %v", h, s, up)
		}
		if down := TopScore(h.Add(1)); down > s {
			t.Fatalf("adding a 1 to %v raised the score: %v → %v", h, s, down)
		}
		for k := 1; k < Stars; k++ {
			if h[k-1] == 0 {
				continue
			}
			if moved := TopScore(h.Remove(k).Add(k + 1)); moved < s {
				t.Fatalf("moving a rating of %v from %d to %d lowered the score: %v → %v", h, k, k+1, s, moved)
			}
		}
	}
}

// Beyond ~10^7 ratings on a level, the true change from one more rating falls
// below float64 resolution at 5 and may round the wrong way by an ulp; that is
// far below any BoardScore quantum, so it cannot change a board's order.
func TestTopScoreMonotoneHugeCounts(t *testing.T) {
	r := newRand(t)
	const tol = 1e-12
	for range 2000 {
		var h Histogram
		for k := range h {
			if r.IntN(2) == 0 {
				h[k] = int64(math.Exp(r.Float64() * math.Log(1e12)))
			}
		}
		s := TopScore(h)
		if up := TopScore(h.Add(5)); up < s-tol {
			t.Fatalf("adding a 5 to %v lowered the score: %v → %v", h, s, up)
		}
		if down := TopScore(h.Add(1)); down > s+tol {
			t.Fatalf("adding a 1 to %v raised the score: %v → %v", h, s, down)
		}
	}
}

// Adding a 2-, 3- or 4-star rating is not monotone, which is why the
// property above is stated the way it is.
func TestTopScoreMiddleRatingsAreNotMonotone(t *testing.T) {
	avg49 := Histogram{3: 10, 4: 90} // 490/100 = 4.9
	if !(TopScore(avg49.Add(4)) < TopScore(avg49)) {
		t.Errorf("expected a 4-star rating to lower a post averaging 4.9")
	}
	if !(TopScore(Histogram{}.Add(4)) > TopScore(Histogram{})) {
		t.Errorf("expected a 4-star rating to raise an unrated post")
	}
	ones := Histogram{0: 5}
	if !(TopScore(ones.Add(2)) > TopScore(ones)) {
		t.Errorf("expected a 2-star rating to raise a post of five 1-star ratings")
	}
}

// ---------------------------------------------------------------------------
// HotScore

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// randomTime lies within ±50 years of Epoch, with nanoseconds.
func randomTime(r *rand.Rand) time.Time {
	const span = 50 * 365 * 86400
	return time.Unix(EpochUnix+r.Int64N(2*span)-span, r.Int64N(1e9))
}

func TestHotConstants(t *testing.T) {
	if !Epoch.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Epoch = %v", Epoch)
	}
	if Tau != 12*time.Hour+30*time.Minute || tauSeconds != 45000 {
		t.Errorf("Tau = %v (%v s)", Tau, tauSeconds)
	}
}

func TestHotScoreTable(t *testing.T) {
	tests := []struct {
		name    string
		h       Histogram
		created time.Time
		want    float64
	}{
		{"unrated at the epoch", Histogram{}, Epoch, 0},
		{"unrated one Tau later", Histogram{}, Epoch.Add(Tau), 1},
		{"unrated one Tau earlier", Histogram{}, Epoch.Add(-Tau), -1},
		{"net 9 at the epoch", Histogram{4: 4, 3: 1}, Epoch, 1},
		{"net 99 one Tau later", Histogram{4: 49, 3: 1}, Epoch.Add(Tau), 3},
		{"net −9 at the epoch", Histogram{0: 4, 1: 1}, Epoch, -1},
		{"balanced ratings count nothing", Histogram{5, 0, 7, 0, 5}, Epoch, 0},
		{"time zone is irrelevant", Histogram{}, Epoch.Add(Tau).In(time.FixedZone("X", 5*3600)), 1},
		{"half a second", Histogram{}, Epoch.Add(500 * time.Millisecond), 0.5 / 45000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HotScore(tc.h, tc.created); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("HotScore(%v, %v) = %v, want %v", tc.h, tc.created, got, tc.want)
			}
		})
	}
}

func TestHotScoreDeterministic(t *testing.T) {
	r := newRand(t)
	for range 1000 {
		h, c := randomHistogram(r), randomTime(r)
		a := HotScore(h, c)
		b := HotScore(h, c.In(time.Local)) // same instant, other location
		if a != b {
			t.Fatalf("HotScore(%v, %v) not deterministic: %v vs %v", h, c, a, b)
		}
	}
	// It never looks at the clock: a post created now scores the same later.
	now := time.Now()
	a := HotScore(Histogram{4: 3}, now)
	time.Sleep(2 * time.Millisecond)
	if b := HotScore(Histogram{4: 3}, now); a != b {
		t.Errorf("HotScore changed with the clock: %v vs %v", a, b)
	}
}

func TestHotScoreTimeTerm(t *testing.T) {
	// Exactly k at the epoch plus k·Tau.
	for k := int64(-1000); k <= 100000; k += 37 {
		c := time.Unix(EpochUnix+k*45000, 0)
		if got := HotAge(c); got != float64(k) {
			t.Fatalf("HotAge(Epoch + %d·Tau) = %v", k, got)
		}
	}
	// Grows by 1 per Tau from any instant, with or without ratings
	// (up to float64 rounding at values of ~10^4).
	r := newRand(t)
	for range propertyCases {
		h, c := randomHistogram(r), randomTime(r)
		if d := HotAge(c.Add(Tau)) - HotAge(c); math.Abs(d-1) > 1e-9 {
			t.Fatalf("HotAge grows by %v per Tau at %v", d, c)
		}
		if d := HotScore(h, c.Add(Tau)) - HotScore(h, c); math.Abs(d-1) > 1e-9 {
			t.Fatalf("HotScore(%v) grows by %v per Tau at %v", h, d, c)
		}
	}
}

func TestHotScoreNewerHigherAtEqualRatings(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		h := randomHistogram(r)
		older := randomTime(r)
		newer := older.Add(time.Millisecond + time.Duration(r.Int64N(int64(365*24*time.Hour))))
		if !(HotScore(h, older) < HotScore(h, newer)) {
			t.Fatalf("HotScore(%v): %v at %v is not below %v at %v",
				h, HotScore(h, older), older, HotScore(h, newer), newer)
		}
		// And on the board, where the newer post also has the larger id.
		id := r.Int64N(MaxTieID)
		if !(BoardScore(HotScore(h, older), id) < BoardScore(HotScore(h, newer), id+1)) {
			t.Fatalf("board order of %v at %v and %v is not newest first", h, older, newer)
		}
	}
}

func TestHotScoreBetterRatingsHigherAtEqualTime(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		a, b, c := randomHistogram(r), randomHistogram(r), randomTime(r)
		ha, hb := HotScore(a, c), HotScore(b, c)
		switch {
		case a.Net() > b.Net() && !(ha > hb),
			a.Net() < b.Net() && !(ha < hb),
			a.Net() == b.Net() && ha != hb:
			t.Fatalf("net %d vs %d scored %v vs %v", a.Net(), b.Net(), ha, hb)
		}
		// Per rating: 4 and 5 raise, 1 and 2 lower, 3 is neutral, k→k+1 raises.
		s := HotScore(a, c)
		if !(HotScore(a.Add(5), c) > s && HotScore(a.Add(4), c) > s) {
			t.Fatalf("a 4 or 5 did not raise %v", a)
		}
		if !(HotScore(a.Add(1), c) < s && HotScore(a.Add(2), c) < s) {
			t.Fatalf("a 1 or 2 did not lower %v", a)
		}
		if HotScore(a.Add(3), c) != s {
			t.Fatalf("a 3 changed %v", a)
		}
		for k := 1; k < Stars; k++ {
			if a[k-1] > 0 && !(HotScore(a.Remove(k).Add(k+1), c) > s) {
				t.Fatalf("moving a rating of %v from %d to %d did not raise it", a, k, k+1)
			}
		}
	}
}

// Tau is what ten times the net laughs (plus one) is worth.
func TestHotScoreTenfoldQualityIsOneTau(t *testing.T) {
	net9, net99 := Histogram{4: 4, 3: 1}, Histogram{4: 49, 3: 1}
	if d := HotScore(net99, day0) - HotScore(net9, day0.Add(Tau)); math.Abs(d) > 1e-9 {
		t.Errorf("net 99 vs net 9 one Tau newer differ by %v, want 0", d)
	}
}

// ---------------------------------------------------------------------------
// BoardScore

// nextQuantum is the smallest score above every score in q's quantum.
func nextQuantum(q float64) float64 {
	if q == 0 {
		return ZeroQuantum
	}
	return fromSortKey(sortKey(q) | tieMask + 1)
}

// randomScore covers TopScore and HotScore ranges, negative values, values
// near zero and at powers of two (the binade edges where the quantum changes).
func randomScore(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return 1 + 4*r.Float64() // TopScore
	case 1:
		return (r.Float64() - 0.2) * 70000 // HotScore over ~100 years
	case 2:
		return math.Ldexp(1, r.IntN(40)-20) * []float64{1, -1}[r.IntN(2)] // ±2^e
	case 3:
		x := math.Ldexp(1, r.IntN(40)-20) * []float64{1, -1}[r.IntN(2)]
		return math.Nextafter(x, []float64{0, math.Inf(1), math.Inf(-1)}[r.IntN(3)])
	case 4:
		return (r.Float64() - 0.5) * 4 * ZeroQuantum // around the zero quantum
	default:
		return math.Ldexp(r.Float64()-0.5, r.IntN(200)-100)
	}
}

func TestQuantize(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 0},
		{math.Copysign(0, -1), 0},
		{1e-7, 0},
		{-1e-7, 0},
		{1, 1},
		{1 + 0x1p-20, 1 + 0x1p-20},
		{1 + 0x1p-21, 1},
		{4.999999, 4.999996185302734},          // step 2^-18 in [4, 8)
		{-1 - 0x1p-21, -1 - 0x1p-20 + 0x1p-52}, // towards −∞: the quantum's lowest float
		{700.12345, 700.12304687500},           // step 2^-11 in [512, 1024)
	}
	for _, tc := range tests {
		if got := Quantize(tc.in); got != tc.want || math.Signbit(got) != math.Signbit(tc.want) {
			t.Errorf("Quantize(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	r := newRand(t)
	for range propertyCases {
		a, b := randomScore(r), randomScore(r)
		if a > b {
			a, b = b, a
		}
		qa := Quantize(a)
		if !(qa <= Quantize(b)) || Quantize(qa) != qa || math.Abs(a) >= ZeroQuantum && qa > a {
			t.Fatalf("Quantize not monotone, idempotent and rounding down at %v, %v", a, b)
		}
		if a != 0 && math.Abs(a) >= ZeroQuantum && (a-qa)/math.Abs(a) > 0x1p-20 {
			t.Fatalf("Quantize(%v) = %v: relative step above 2^-20", a, qa)
		}
	}
}

func TestBoardScoreOrder(t *testing.T) {
	r := newRand(t)
	randomID := func() int64 {
		if r.IntN(4) == 0 {
			return []int64{0, 1, MaxTieID - 1, MaxTieID}[r.IntN(4)]
		}
		return r.Int64N(MaxTieID + 1)
	}
	for range 10 * propertyCases {
		s1, s2 := randomScore(r), randomScore(r)
		if r.IntN(4) == 0 {
			s2 = s1 // force ties
		}
		if r.IntN(8) == 0 {
			s2 = nextQuantum(Quantize(s1)) // adjacent quanta
		}
		id1, id2 := randomID(), randomID()
		b1, b2 := BoardScore(s1, id1), BoardScore(s2, id2)
		q1, q2 := Quantize(s1), Quantize(s2)
		var ok bool
		switch {
		case q1 < q2: // distinct quantised scores: never swapped, whatever the ids
			ok = b1 < b2
		case q1 > q2:
			ok = b1 > b2
		case id1 < id2: // ties: the larger id (newer post) ranks higher
			ok = b1 < b2
		case id1 > id2:
			ok = b1 > b2
		default:
			ok = b1 == b2
		}
		if !ok {
			t.Fatalf("BoardScore(%v, %d) = %v vs BoardScore(%v, %d) = %v (quantised %v vs %v)",
				s1, id1, b1, s2, id2, b2, q1, q2)
		}
		// Exact and finite, close to the score, and invertible.
		if math.IsInf(b1, 0) || math.IsNaN(b1) {
			t.Fatalf("BoardScore(%v, %d) = %v", s1, id1, b1)
		}
		if q, id := SplitBoardScore(b1); q != q1 || id != id1 {
			t.Fatalf("SplitBoardScore(BoardScore(%v, %d)) = %v, %d; want %v, %d", s1, id1, q, id, q1, id1)
		}
		if !(b1 >= q1 && b1 < nextQuantum(q1)) {
			t.Fatalf("BoardScore(%v, %d) = %v outside its quantum [%v, %v)", s1, id1, b1, q1, nextQuantum(q1))
		}
		// Survives Redis's text protocol (go-redis writes 'f', -1; Redis replies %.17g).
		for _, text := range []string{strconv.FormatFloat(b1, 'f', -1, 64), fmt.Sprintf("%.17g", b1)} {
			if back, err := strconv.ParseFloat(text, 64); err != nil || back != b1 {
				t.Fatalf("BoardScore %v does not round-trip through %q", b1, text)
			}
		}
	}
}

// Distinct TopScores and HotScores more than a quantum apart keep their order.
func TestBoardScoreKeepsScoreOrder(t *testing.T) {
	r := newRand(t)
	for range propertyCases {
		a, b := randomHistogram(r), randomHistogram(r)
		ca, cb := randomTime(r), randomTime(r)
		ida, idb := r.Int64N(MaxTieID+1), r.Int64N(MaxTieID+1)
		for _, p := range [][2]float64{{TopScore(a), TopScore(b)}, {HotScore(a, ca), HotScore(b, cb)}} {
			sa, sb := p[0], p[1]
			if Quantize(sa) < Quantize(sb) && !(BoardScore(sa, ida) < BoardScore(sb, idb)) ||
				Quantize(sa) > Quantize(sb) && !(BoardScore(sa, ida) > BoardScore(sb, idb)) {
				t.Fatalf("BoardScore swapped %v (id %d) and %v (id %d)", sa, ida, sb, idb)
			}
		}
	}
}

// Exact at the end of the id range: MaxTieID still ranks above MaxTieID−1,
// and still below id 0 in the next quantum up — for every kind of quantum.
func TestBoardScoreIDLimit(t *testing.T) {
	scores := []float64{
		0, ZeroQuantum, -ZeroQuantum, 1, -1, 2.0473720558371173, 4.999999, 5,
		511.9999, 512, -512, 700.5, 70000, -70000, math.MaxFloat64 / 2, -math.MaxFloat64,
		math.Nextafter(-1024, 0), math.Nextafter(1024, 0),
	}
	for _, s := range scores {
		q := Quantize(s)
		top, below := BoardScore(s, MaxTieID), BoardScore(s, MaxTieID-1)
		if !(below < top) {
			t.Errorf("score %v: id MaxTieID−1 → %v not below MaxTieID → %v", s, below, top)
		}
		if !(BoardScore(s, 0) < BoardScore(s, 1)) {
			t.Errorf("score %v: id 0 not below id 1", s)
		}
		if s != math.MaxFloat64/2 { // the next quantum up exists
			if next := BoardScore(nextQuantum(q), 0); !(top < next) {
				t.Errorf("score %v: id MaxTieID → %v not below the next quantum's id 0 → %v", s, top, next)
			}
		}
		if q, id := SplitBoardScore(top); q != Quantize(s) || id != MaxTieID {
			t.Errorf("SplitBoardScore(BoardScore(%v, MaxTieID)) = %v, %d", s, q, id)
		}
		// Out-of-range ids are clamped: order between quanta is unaffected.
		if BoardScore(s, MaxTieID+1) != top || BoardScore(s, math.MaxInt64) != top || BoardScore(s, -5) != BoardScore(s, 0) {
			t.Errorf("score %v: out-of-range ids not clamped", s)
		}
	}
	if MaxTieID != 4294967295 {
		t.Errorf("MaxTieID = %d", MaxTieID)
	}
	// The zero quantum sits strictly between the nearest negative and positive ones.
	if !(BoardScore(-ZeroQuantum, MaxTieID) < BoardScore(0, 0) && BoardScore(0, MaxTieID) < BoardScore(ZeroQuantum, 0)) {
		t.Errorf("zero quantum out of place")
	}
}

func TestBoardScoreNonFinite(t *testing.T) {
	for _, s := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		b := BoardScore(s, 7)
		if math.IsNaN(b) || math.IsInf(b, 0) {
			t.Errorf("BoardScore(%v) = %v, want finite", s, b)
		}
	}
	if !(BoardScore(math.Inf(-1), MaxTieID) < BoardScore(-1e300, 0) && BoardScore(1e300, MaxTieID) < BoardScore(math.Inf(1), 0)) {
		t.Errorf("±Inf not at the ends")
	}
}

// ---------------------------------------------------------------------------
// CreatorScore

func TestCreatorScore(t *testing.T) {
	tests := []struct {
		laughs, id int64
		want       float64
	}{
		{0, 0, 0},
		{0, 1, 1},
		{1, 0, 1 << 26},
		{10, 42, 10<<26 + 42},
		{MaxExactLaughs, MaxCreatorID, 1<<53 - 1},
		{5, MaxCreatorID + 1, 5<<26 + MaxCreatorID}, // clamped
		{5, -1, 5 << 26}, // clamped
	}
	for _, tc := range tests {
		if got := CreatorScore(tc.laughs, tc.id); got != tc.want {
			t.Errorf("CreatorScore(%d, %d) = %v, want %v", tc.laughs, tc.id, got, tc.want)
		}
	}
	if MaxCreatorID != 67108863 || MaxExactLaughs != 134217727 {
		t.Errorf("limits %d, %d", MaxCreatorID, MaxExactLaughs)
	}
}

func TestCreatorScoreOrder(t *testing.T) {
	r := newRand(t)
	randomLaughs := func() int64 {
		switch r.IntN(4) {
		case 0:
			return r.Int64N(100)
		case 1:
			return MaxExactLaughs - 2 + r.Int64N(4) // around the exact limit
		case 2:
			return r.Int64N(1 << 40) // beyond it
		}
		return r.Int64N(MaxExactLaughs + 1)
	}
	for range 10 * propertyCases {
		l1, l2 := randomLaughs(), randomLaughs()
		if r.IntN(3) == 0 {
			l2 = l1
		}
		if r.IntN(5) == 0 {
			l2 = l1 + 1
		}
		u1, u2 := r.Int64N(MaxCreatorID+1), r.Int64N(MaxCreatorID+1)
		c1, c2 := CreatorScore(l1, u1), CreatorScore(l2, u2)
		// More laughs never rank lower, whatever the ids.
		if l1 < l2 && !(c1 <= c2) || l1 > l2 && !(c1 >= c2) {
			t.Fatalf("CreatorScore(%d, %d) = %v vs CreatorScore(%d, %d) = %v", l1, u1, c1, l2, u2, c2)
		}
		// Exact (strict, ties by id, larger id higher) up to MaxExactLaughs.
		if l1 <= MaxExactLaughs && l2 <= MaxExactLaughs {
			if c1 != float64(l1<<26|u1) {
				t.Fatalf("CreatorScore(%d, %d) = %v is not exact", l1, u1, c1)
			}
			want := l1 < l2 || l1 == l2 && u1 < u2
			if (c1 < c2) != want {
				t.Fatalf("CreatorScore(%d, %d) = %v vs CreatorScore(%d, %d) = %v", l1, u1, c1, l2, u2, c2)
			}
		}
	}
	// At the end of both ranges.
	l := int64(MaxExactLaughs)
	if !(CreatorScore(l-1, MaxCreatorID) < CreatorScore(l, 0) &&
		CreatorScore(l, MaxCreatorID-1) < CreatorScore(l, MaxCreatorID)) {
		t.Errorf("not exact at MaxExactLaughs / MaxCreatorID")
	}
}

// ---------------------------------------------------------------------------
// Benchmarks

var sink float64

func BenchmarkTopScore(b *testing.B) {
	h := Histogram{12, 30, 85, 240, 310}
	for b.Loop() {
		sink = TopScore(h)
	}
}

func BenchmarkHotScore(b *testing.B) {
	h := Histogram{12, 30, 85, 240, 310}
	for b.Loop() {
		sink = HotScore(h, day0)
	}
}

func BenchmarkBoardScore(b *testing.B) {
	for b.Loop() {
		sink = BoardScore(4.5451701157, 123456)
	}
}

// ---------------------------------------------------------------------------
// Examples: the worked example in docs/ranking.md.

func ExampleTopScore() {
	for _, p := range []struct {
		name string
		h    Histogram
	}{
		{"unrated", Histogram{}},
		{"two 5-star", Histogram{4: 2}},
		{"one 1-star", Histogram{0: 1}},
		{"10 ratings, average 4.0", Histogram{0: 1, 2: 1, 3: 4, 4: 4}},
		{"300×5 + 200×4, average 4.6", Histogram{3: 200, 4: 300}},
	} {
		fmt.Printf("%-27s avg %.2f  top %.4f\n", p.name, p.h.Average(), TopScore(p.h))
	}
	// Output:
	// unrated                     avg 0.00  top 2.0474
	// two 5-star                  avg 5.00  top 2.6974
	// one 1-star                  avg 1.00  top 1.7370
	// 10 ratings, average 4.0     avg 4.00  top 3.1098
	// 300×5 + 200×4, average 4.6  avg 4.60  top 4.5452
}

func ExampleHotScore() {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := Histogram{4: 2}           // two 5-star: net 4
	b := Histogram{3: 200, 4: 300} // net 800
	fmt.Printf("age term  %.4f\n", HotAge(created))
	fmt.Printf("A quality %.4f  hot %.4f\n", HotQuality(a), HotScore(a, created))
	fmt.Printf("B quality %.4f  hot %.4f\n", HotQuality(b), HotScore(b, created))
	lead := time.Duration((HotQuality(b) - HotQuality(a)) * float64(Tau))
	fmt.Printf("A must be %v newer to pass B\n", lead.Round(time.Minute))
	// Output:
	// age term  114.2400
	// A quality 0.6990  hot 114.9390
	// B quality 2.9036  hot 117.1436
	// A must be 27h33m0s newer to pass B
}

func ExampleBoardScore() {
	s := TopScore(Histogram{3: 200, 4: 300})
	b := BoardScore(s, 1234)
	q, id := SplitBoardScore(b)
	fmt.Printf("score %.17g\nquant %.17g\nboard %.17g\nsplit %v %d\n", s, q, b, q == Quantize(s), id)
	fmt.Println(BoardScore(s, 1234) < BoardScore(s, 1235)) // tie: newer first
	// Output:
	// score 4.5451701157414339
	// quant 4.5451698303222656
	// board 4.5451698303233616
	// split true 1234
	// true
}

func ExampleCreatorScore() {
	fmt.Printf("%.0f\n", CreatorScore(2300, 42))
	fmt.Println(CreatorScore(2300, 42) < CreatorScore(2300, 43), CreatorScore(2300, MaxCreatorID) < CreatorScore(2301, 0))
	// Output:
	// 154350387242
	// true true
}
