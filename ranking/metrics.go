package ranking

import (
	"math"
	"sync/atomic"
	"time"

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
	reconcileSeconds = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "jokster_reconcile_seconds", Help: "How long the last reconcile pass took.",
	})
	// The lag is how far behind PostgreSQL the boards may be: every change
	// committed before the last successful pass began has been applied.
	// NaN in a process that does not reconcile (a worker).
	reconcileLag = promauto.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jokster_reconcile_lag_seconds",
		Help: "Seconds since the last successful reconcile pass began: changes older than this are on the boards (NaN where no reconcile runs).",
	}, func() float64 {
		at := lastReconcile.Load()
		if at == 0 {
			return math.NaN()
		}
		return time.Since(time.Unix(0, at)).Seconds()
	})
	boardReads = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "jokster_board_reads_fallback_total",
		Help: "Board reads served from PostgreSQL: source=postgres because Redis was not ready, source=below_cap for pages below the top BOARD_CAP posts Redis keeps of a board.",
	}, []string{"source"})
	rebuilds = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_board_rebuilds_total", Help: "Full rebuilds of the boards from PostgreSQL.",
	})
)

// lastReconcile is when the last successful reconcile pass (or rebuild)
// of this process began, in Unix nanoseconds; 0 before the first.
var lastReconcile atomic.Int64
