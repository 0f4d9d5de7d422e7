package worker

import (
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueMetrics reports the size of every asynq queue, by task state, and
// the age of each queue's oldest pending task, read from Redis when
// Prometheus scrapes: a queue that grows or stalls is what an operator
// alerts on (asynqmon shows the same numbers to people). The figures are
// Redis's, the same from every process: dashboards take one process's,
// or the max.
func QueueMetrics(r asynq.RedisConnOpt) prometheus.Collector {
	return &queueCollector{insp: asynq.NewInspector(r)}
}

var (
	queueTasksDesc = prometheus.NewDesc("jokster_queue_tasks",
		"Tasks in an asynq queue, by state (pending, active, scheduled, retry, archived, completed).",
		[]string{"queue", "state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("jokster_queue_latency_seconds",
		"Age of the oldest pending task of an asynq queue (0 when none is pending).",
		[]string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc("jokster_queue_paused",
		"1 when an asynq queue is paused (from asynqmon), else 0.",
		[]string{"queue"}, nil)
)

type queueCollector struct{ insp *asynq.Inspector }

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTasksDesc
	ch <- queueLatencyDesc
	ch <- queuePausedDesc
}

// Collect reports the queues asynq knows (a queue appears once a task was
// enqueued to it), and Jokster's own three even before that, as empty.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	names, err := c.insp.Queues()
	if err != nil {
		slog.Warn("metrics: asynq queues unreadable", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, q := range append(names, QueueCritical, QueueDefault, QueueLow) {
		if seen[q] {
			continue
		}
		seen[q] = true
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			info = &asynq.QueueInfo{Queue: q} // not created yet: empty
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
			ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(queuePausedDesc, prometheus.GaugeValue, paused, q)
	}
}
