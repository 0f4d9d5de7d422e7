package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var httpDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "jokster_http_request_duration_seconds",
	Help:    "HTTP request latency by route pattern, method and status.",
	Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
}, []string{"route", "method", "status"})

// observe records a request under its route pattern (not its path, which
// would give one series per user name).
func observe(c *fiber.Ctx, status int, took time.Duration) {
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" && r.Path != "" {
		route = r.Path
	}
	// c.Method() points into fasthttp's reusable request buffer: a label
	// kept by Prometheus must be a copy.
	httpDuration.WithLabelValues(strings.Clone(route), strings.Clone(c.Method()), strconv.Itoa(status)).Observe(took.Seconds())
}
