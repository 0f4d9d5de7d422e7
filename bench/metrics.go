package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// batchSizes is a snapshot of the server's jokster_rating_batch_size
// histogram (ratings committed together in one transaction), read from
// the ops listener's /metrics.
type batchSizes struct {
	buckets map[float64]float64 // upper bound → cumulative count
	sum     float64
	count   float64
}

func scrapeBatches(ctx context.Context, hc *http.Client, metricsURL string) (batchSizes, error) {
	b := batchSizes{buckets: map[float64]float64{}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := loadkit.Get(ctx, hc, metricsURL)
	if err != nil {
		return b, err
	}
	defer body.Close()
	sc := bufio.NewScanner(io.LimitReader(body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	const name = "jokster_rating_batch_size"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		metric := line[:i]
		switch {
		case metric == name+"_sum":
			b.sum = v
		case metric == name+"_count":
			b.count = v
		case strings.HasPrefix(metric, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(metric, name+`_bucket{le="`), `"}`)
			bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
			if err == nil {
				b.buckets[bound] = v
			}
		}
	}
	return b, sc.Err()
}

// describe prints the batches committed between before and after: how
// many transactions, their mean size, and how the ratings spread over
// batch sizes.
func describeBatches(before, after batchSizes) string {
	txs := after.count - before.count
	if txs <= 0 {
		return "no rating batches committed (is -metrics the server's ops listener?)"
	}
	ratings := after.sum - before.sum
	bounds := make([]float64, 0, len(after.buckets))
	for le := range after.buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	var parts []string
	prev, prevLe := 0.0, 0.0
	for _, le := range bounds {
		cum := after.buckets[le] - before.buckets[le]
		if n := cum - prev; n > 0 {
			parts = append(parts, fmt.Sprintf("%s–%s: %.0f", fmtBound(prevLe+1), fmtBound(le), n))
		}
		prev, prevLe = cum, le
	}
	return fmt.Sprintf("%.0f transactions for %.0f ratings, mean batch %.1f; transactions by batch size: %s",
		txs, ratings, ratings/txs, strings.Join(parts, ", "))
}

func fmtBound(f float64) string {
	if f > 1e18 {
		return "∞"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
