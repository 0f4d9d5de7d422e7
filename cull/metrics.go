package cull

import (
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
	dangerPosts = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "jokster_cull_danger_posts", Help: "Posts in the danger zone at the last check.",
	})
)
