package ranking

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	ratingsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "jokster_ratings_total", Help: "Ratings committed, by kind (rate, withdraw).",
	}, []string{"kind"})
	ratingBatch = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "jokster_rating_batch_size", Help: "Ratings committed together in one transaction.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
	reconcileLag = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "jokster_reconcile_seconds", Help: "How long the last reconcile pass took.",
	})
	boardReads = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "jokster_board_reads_fallback_total", Help: "Board reads served from PostgreSQL because Redis was not ready.",
	}, []string{"source"})
	rebuilds = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_board_rebuilds_total", Help: "Full rebuilds of the boards from PostgreSQL.",
	})
)
