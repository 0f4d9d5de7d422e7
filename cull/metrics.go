package cull

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	runsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_cull_runs_total", Help: "Cull cycles run (each cycle once, whatever the number of workers).",
	})
	victimsTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_cull_victims_total", Help: "Posts culled.",
	})
	cullSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "jokster_cull_seconds", Help: "Duration of the cull transaction (choosing, marking and recording the victims).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	})
)

// Metrics reports the size of the danger zone as last checked, read from
// PostgreSQL when Prometheus scrapes, so every process reports the same
// number (a gauge set by the check would say 0 in the processes that
// never ran one, and an old number in those that did not run the last).
func (s *Service) Metrics() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jokster_cull_danger_posts", Help: "Posts in the danger zone at the last check (NaN when PostgreSQL cannot be read).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM cull_danger`).Scan(&n); err != nil {
			return math.NaN()
		}
		return float64(n)
	})
}
