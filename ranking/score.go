package ranking

// This file holds the scoring formulas: pure functions of a post's rating
// histogram (and creation time), with no I/O and no dependency outside the
// standard library. docs/ranking.md explains them with a worked example;
// score_test.go holds the property tests that pin down what they promise.

import (
	"math"
	"time"
)

// Stars is the number of rating levels: a rating is 1..5 laughs.
const Stars = 5

// Histogram counts a post's ratings per star: h[0] is 1-star … h[4] is 5-star.
//
// Counts are never negative in a well-formed histogram; With clamps at zero,
// and every method and score function treats a negative count as zero.
type Histogram [Stars]int64

// n returns the count for index k (0-based), negative counts read as zero.
func (h Histogram) n(k int) int64 { return max(h[k], 0) }

// Count is the number of ratings.
func (h Histogram) Count() int64 {
	var c int64
	for k := range h {
		c += h.n(k)
	}
	return c
}

// Sum is the total number of laughs received: Σ stars over all ratings.
func (h Histogram) Sum() int64 {
	var s int64
	for k := range h {
		s += int64(k+1) * h.n(k)
	}
	return s
}

// Average is the mean rating, Sum/Count, or 0 when there are no ratings.
func (h Histogram) Average() float64 {
	c := h.Count()
	if c == 0 {
		return 0
	}
	return float64(h.Sum()) / float64(c)
}

// Net is the net laughs used by HotScore: Σ (stars−3)·n. A 3-star rating is
// neutral, 4 and 5 count +1 and +2, 2 and 1 count −1 and −2 — the star-rating
// analogue of "upvotes minus downvotes".
func (h Histogram) Net() int64 {
	var s int64
	for k := range h {
		s += int64(k+1-3) * h.n(k)
	}
	return s
}

// With returns a copy of h with delta ratings of `stars` (1..5) added
// (delta > 0) or removed (delta < 0); the count never goes below zero.
// A rating that changes from a to b is h.With(a, -1).With(b, +1).
// It panics if stars is outside 1..5, which is a programming error.
func (h Histogram) With(stars int, delta int64) Histogram {
	if stars < 1 || stars > Stars {
		panic("ranking: stars out of range 1..5")
	}
	h[stars-1] = max(h.n(stars-1)+delta, 0)
	return h
}

// Add returns a copy of h with one more rating of `stars` (1..5).
func (h Histogram) Add(stars int) Histogram { return h.With(stars, 1) }

// Remove returns a copy of h with one rating of `stars` (1..5) fewer.
func (h Histogram) Remove(stars int) Histogram { return h.With(stars, -1) }

// ---------------------------------------------------------------------------
// Top: Evan Miller's lower bound for star ratings.

// TopZ is the standard-normal quantile of the lower bound in TopScore.
// 1.65 ≈ Φ⁻¹(0.95) = 1.6449, the value Evan Miller uses: with (approximately)
// 95 % posterior probability a post's true average rating lies above its
// score. A larger z makes a post wait for more ratings before it can climb
// (1.96 would be a 97.5 % bound); a smaller one lets few lucky votes rise.
const TopZ = 1.65

// TopPrior is the number of pseudo-votes the prior puts on every star level
// (a Dirichlet(1,1,1,1,1) prior): an unrated post behaves as if it had been
// rated 1, 2, 3, 4 and 5 once each, so its mean starts at 3 and its spread
// is wide. This is what keeps two 5-star votes below five hundred ratings
// averaging 4.6.
const TopPrior = 1

// TopScore is Evan Miller's lower bound for star ratings ("Ranking Items With
// Star Ratings", evanmiller.org): the posterior of the rating distribution is
// Dirichlet(n_k + 1), approximated by a normal whose mean and variance are
//
//	N  = Σ n_k + 5                      (ratings plus the prior's 5 votes)
//	μ  = Σ s_k·(n_k+1) / N
//	σ² = Σ (s_k−μ)²·(n_k+1) / N         (= Σ s_k²·(n_k+1)/N − μ²)
//
// and the score is the lower end of the one-sided credible interval:
//
//	TopScore = μ − TopZ·√(σ² / (N+1))
//
// Properties (tested in score_test.go):
//   - an unrated post scores the prior's bound, 3 − 1.65·√(1/3) ≈ 2.0474,
//     the same for every unrated post;
//   - two 5-star ratings (≈ 2.697) score below 300×5 + 200×4, an average of
//     exactly 4.6 (≈ 4.545);
//   - the score lies in [1, 5], strictly inside for any realistic number of
//     ratings (tested up to 10^9 on one level);
//   - adding a 5-star rating never lowers the score, adding a 1-star rating
//     never raises it, and moving one rating from k to k+1 stars never lowers
//     it (so the score respects "better ratings, same count"). Adding a 2-,
//     3- or 4-star rating can go either way: a 4 lowers a post with 100
//     ratings averaging 4.9 and raises an unrated one, so "adding any rating
//     of k stars" is not monotone for those k and is not claimed.
//
// The variance is summed around μ rather than as E[s²]−μ² so it does not
// cancel catastrophically for posts with millions of ratings.
func TopScore(h Histogram) float64 {
	n := float64(Stars * TopPrior)
	for k := range h {
		n += float64(h.n(k))
	}
	var mu float64
	for k := range h {
		mu += float64(k+1) * (float64(h.n(k)) + TopPrior) / n
	}
	var v float64
	for k := range h {
		d := float64(k+1) - mu
		v += d * d * (float64(h.n(k)) + TopPrior) / n
	}
	// Mathematically the bound lies strictly inside (1, 5); the clamp only
	// catches float64 rounding for astronomically many ratings (~10^17).
	return min(max(mu-TopZ*math.Sqrt(v/(n+1)), 1), Stars)
}

// ---------------------------------------------------------------------------
// Hot: a fixed-epoch score.

// EpochUnix is the fixed epoch of HotScore, 2026-01-01T00:00:00Z, in Unix
// seconds. Any fixed instant works (it only shifts every hot score by the
// same amount); a recent one keeps scores small (≈ 700 per year after it),
// which keeps the BoardScore quantum fine (see BoardScore).
const EpochUnix = 1767225600

// Epoch is EpochUnix as a time.Time, for display. HotScore uses EpochUnix.
var Epoch = time.Unix(EpochUnix, 0).UTC()

// Tau is HotScore's time scale: a post created Tau later gains exactly 1,
// which is what a tenfold better quality term (10× the net laughs, see
// HotScore) is worth. So a post must be 12.5 hours newer to overtake one with
// ten times its net laughs, and the ranking "forgets" a day in about two
// orders of magnitude of quality. 45000 s is the constant Reddit's hot uses,
// and suits a daily rhythm of posting.
const Tau = 45000 * time.Second

// tauSeconds is Tau in seconds, as a float for the division.
const tauSeconds = float64(Tau / time.Second)

// HotQuality is the quality term of HotScore: the signed base-10 logarithm
// of one plus the net laughs (see Histogram.Net),
//
//	q = sign(net)·log10(1 + |net|)
//
// so 9 net laughs are worth 1, 99 are worth 2, and a post with a negative
// net sinks symmetrically. It is strictly increasing in net (every net laugh
// counts; unlike Reddit's log10(max(|net|,1)), net 1 beats net 0), and 0 for
// an unrated post or one whose ratings cancel out.
func HotQuality(h Histogram) float64 {
	net := h.Net()
	switch {
	case net > 0:
		return math.Log10(1 + float64(net))
	case net < 0:
		return -math.Log10(1 - float64(net))
	}
	return 0
}

// HotAge is the time term of HotScore: (created − Epoch)/Tau, with the
// creation time's full (nanosecond) precision. It grows by exactly 1 per Tau
// (up to float64 rounding, ~1e-13 at today's values).
func HotAge(created time.Time) float64 {
	secs := float64(created.Unix()-EpochUnix) + float64(created.Nanosecond())/1e9
	return secs / tauSeconds
}

// HotScore is a fixed-epoch score like Reddit's hot:
//
//	HotScore = HotQuality(h) + (created − Epoch)/Tau
//
// Newer posts win by their creation time instead of older posts losing
// value as time passes, so a post's hot score changes only when one of its
// ratings changes: no decay job, and Redis holds the order at all times.
// It depends only on its arguments (never on the clock): at equal ratings the
// newer post scores higher, and at equal creation time the higher net laughs.
func HotScore(h Histogram, created time.Time) float64 {
	return HotQuality(h) + HotAge(created)
}

// ---------------------------------------------------------------------------
// Board scores: the tie-breaker folded into the Redis sorted-set score.

// TieBits is the number of low bits of a BoardScore that hold the post id.
const TieBits = 32

// MaxTieID is the largest id BoardScore orders exactly: 2^32−1 =
// 4,294,967,295. Larger ids are clamped to it (and negative ids to 0), so
// ties among them fall back to Redis's member order; distinct quantised
// scores still never swap.
const MaxTieID = 1<<TieBits - 1

// ZeroQuantum is the magnitude below which a score is treated as exactly 0
// by Quantize and BoardScore: 2^-20 ≈ 9.5e-7.
const ZeroQuantum = 0x1p-20

// tieMask selects the TieBits low bits of a sort key.
const tieMask uint64 = MaxTieID

// zeroScale places the zero quantum: id·2^-53 < 2^-21 < ZeroQuantum.
const zeroScale = 0x1p-53

// sortKey maps a float64 to a uint64 whose unsigned order is the numeric
// order (the usual IEEE-754 trick: set the sign bit of non-negative values,
// flip every bit of negative ones). It is a strictly increasing bijection
// from finite non-zero floats onto their keys.
func sortKey(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// fromSortKey inverts sortKey.
func fromSortKey(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// normal clamps a score into the finite range BoardScore handles: NaN reads
// as 0, ±Inf as ±MaxFloat64, and magnitudes below ZeroQuantum (including −0)
// as 0. None of these occur for TopScore or HotScore.
func normal(score float64) float64 {
	switch {
	case math.IsNaN(score) || math.Abs(score) < ZeroQuantum:
		return 0
	case math.IsInf(score, 1):
		return math.MaxFloat64
	case math.IsInf(score, -1):
		return -math.MaxFloat64
	}
	return score
}

// Quantize maps a score to its quantum, the ties of BoardScore. Quanta keep
// 21 significant bits: for |score| in [2^e, 2^(e+1)) a quantum is 2^(e−20)
// wide, a relative step between 2^-21 and 2^-20 (≈ 4.8e-7 … 9.5e-7, six
// significant digits); every magnitude below ZeroQuantum is the zero quantum.
// Quantize returns the lowest float64 in the quantum (0 for the zero
// quantum): a positive score is truncated to 21 bits, a negative one rounded
// down (towards −∞) to just above the next 21-bit value. It is monotone
// (s ≤ t ⇒ Quantize(s) ≤ Quantize(t)) and idempotent.
//
// Steps for the scores of this package: TopScore lies in (1, 5), so its step
// is 2^-20 ≈ 9.5e-7 below 2, 1.9e-6 below 4 and 3.8e-6 up to 5. HotScore grows
// by ≈ 700 a year after Epoch, so its step is 2^-11 ≈ 4.9e-4 (22 s of age)
// for scores in [512, 1024) — within 1.5 years of Epoch — and doubles with
// every doubling of the score (2^-6 ≈ 0.016, 12 minutes of age, after 23 years).
func Quantize(score float64) float64 {
	s := normal(score)
	if s == 0 {
		return 0
	}
	return fromSortKey(sortKey(s) &^ tieMask)
}

// BoardScore folds a tie-breaker into a score, so that a Redis sorted set
// orders ties by the score itself, never by member order: the score is
// quantised (see Quantize) and the id fills the TieBits bits below the
// quantum. Posts whose scores quantise equal are ordered by id, and the
// NEWER post (larger id) ranks higher — ids grow with creation time, so this
// agrees with the "new" board and with HotScore's time term, and it lets a
// fresh post that ties an old one be seen. The Postgres fallback orders the
// same way with ORDER BY quantised score DESC, id DESC.
//
// Precision argument (why distinct quantised scores never swap, and why
// this is exact in float64): BoardScore works on the 64-bit sort key of the
// score (sortKey), not on its value, so no arithmetic rounding happens at all.
// The key's high 32 bits (sign, 11 exponent bits and the top 20 of 52
// mantissa bits) are the quantised score; the low 32 bits are replaced by the
// id. Key order is lexicographic: (quantised score, id). Because the exponent
// field is left untouched, the result is a finite float64 whose numeric order
// is the key order, and |BoardScore − Quantize(score)| is below one quantum.
// So two scores with different quantised values keep their order whatever the
// ids, and equal quantised values are ordered by id — exactly for every id in
// [0, MaxTieID] = [0, 4294967295]; the result round-trips through Redis's text
// protocol exactly (go-redis writes floats with strconv 'f', -1, the shortest
// exact form). A fixed absolute step could not do this: 2^53 values would have
// to cover both the 32 id bits and the whole score range, leaving 2^21 steps
// — too few for TopScore at 1e-6 and far too few for HotScore, which grows
// without bound. The zero quantum (|score| < ZeroQuantum) is the one special
// case: it maps to id·2^-53, which lies strictly between the smallest positive
// and the largest negative quantum (|…| ≥ 2^-20) and avoids subnormal floats.
func BoardScore(score float64, id int64) float64 {
	t := uint64(min(max(id, 0), MaxTieID))
	s := normal(score)
	if s == 0 {
		return float64(t) * zeroScale
	}
	return fromSortKey(sortKey(s)&^tieMask | t)
}

// SplitBoardScore inverts BoardScore: it returns the quantised score and the
// (clamped) id that produced b, so Quantize(s), id == SplitBoardScore(BoardScore(s, id))
// for every id in [0, MaxTieID].
func SplitBoardScore(b float64) (score float64, id int64) {
	if math.Abs(b) < ZeroQuantum {
		return 0, int64(b / zeroScale)
	}
	k := sortKey(b)
	return fromSortKey(k &^ tieMask), int64(k & tieMask)
}

// ---------------------------------------------------------------------------
// Creators board.

// CreatorTieBits is the number of bits of a CreatorScore that hold the user id.
const CreatorTieBits = 26

// MaxCreatorID is the largest user id CreatorScore orders exactly: 2^26−1 =
// 67,108,863. Larger ids are clamped to it (negative ones to 0).
const MaxCreatorID = 1<<CreatorTieBits - 1

// MaxExactLaughs is the largest laugh count for which CreatorScore is exact:
// 2^27−1 = 134,217,727 (27 + 26 = 53 bits, a float64's mantissa).
const MaxExactLaughs = 1<<(53-CreatorTieBits) - 1

// CreatorScore is the creators board's score: people are ordered by laughs
// received (Σ stars over their posts; an integer, so no quantisation), and
// at equal laughs the larger user id (the newer account) ranks higher — the
// same rule as every post board, and what ORDER BY laughs DESC, id DESC gives
// in Postgres. The value is laughs·2^26 + userID, an integer, so it is exact
// for laughs ≤ MaxExactLaughs and user ids ≤ MaxCreatorID. Beyond
// MaxExactLaughs the sum is rounded once, monotonically, between the exact
// neighbours laughs·2^26 and (laughs+1)·2^26: distinct laugh counts still
// never swap, only the tie-break can be lost.
func CreatorScore(laughs int64, userID int64) float64 {
	t := min(max(userID, 0), MaxCreatorID)
	return float64(laughs)*(1<<CreatorTieBits) + float64(t)
}
