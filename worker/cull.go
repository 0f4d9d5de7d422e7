package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jokster/jokster/cull"
)

// Task types of the cull.
const (
	// TypeCullTick is the periodic check: run the current cycle if it has
	// not run, schedule the next, re-enqueue lost follow-ups, refresh the
	// danger zone.
	TypeCullTick = "cull:tick"
	// TypeCull runs one cycle; its task id is the cycle.
	TypeCull = "cull:run"
	// TypeCullFollowup does the work that follows a run; its task id is
	// the run.
	TypeCullFollowup = "cull:followup"
)

type cullPayload struct {
	IntervalS int64 `json:"interval_s"`
	Cycle     int64 `json:"cycle"`
}

type runPayload struct {
	RunID int64 `json:"run_id"`
}

// NewCullTickTask is the periodic cull check.
func NewCullTickTask() *asynq.Task {
	return asynq.NewTask(TypeCullTick, nil, asynq.Queue(QueueDefault), asynq.MaxRetry(0), asynq.Timeout(5*time.Minute))
}

// NewCullTask runs cycle c at `at` (zero: now). Its task id names the
// interval and the cycle, so every scheduler that enqueues the same cycle
// enqueues the same task (the others get a conflict, which is fine); the
// completed task is kept for one interval (up to a day) so that the id
// stays taken while the cycle lasts. Should it run twice anyway (after
// Redis lost it), the cycle's row in PostgreSQL makes the second run a
// no-op.
func NewCullTask(set cull.Settings, c cull.Cycle, at time.Time) *asynq.Task {
	secs := int64(set.Interval / time.Second)
	b, _ := json.Marshal(cullPayload{IntervalS: secs, Cycle: c.Number})
	opts := []asynq.Option{asynq.TaskID(cullTaskID(set, c)), asynq.Queue(QueueDefault),
		asynq.MaxRetry(10), asynq.Timeout(10 * time.Minute), asynq.Retention(min(set.Interval, 24*time.Hour))}
	if !at.IsZero() {
		opts = append(opts, asynq.ProcessAt(at))
	}
	return asynq.NewTask(TypeCull, b, opts...)
}

// NewCullFollowupTask does the follow-up of run runID.
func NewCullFollowupTask(runID int64) *asynq.Task {
	b, _ := json.Marshal(runPayload{RunID: runID})
	return asynq.NewTask(TypeCullFollowup, b, asynq.TaskID(followupTaskID(runID)),
		asynq.Queue(QueueDefault), asynq.MaxRetry(25), asynq.Timeout(30*time.Minute))
}

func cullTaskID(set cull.Settings, c cull.Cycle) string {
	return fmt.Sprintf("cull:%d:%d", int64(set.Interval/time.Second), c.Number)
}

func followupTaskID(runID int64) string { return "cull:followup:" + strconv.FormatInt(runID, 10) }

// CullPeriodic is the scheduler entry of the cull: the tick, every
// min(interval, 1m). Every worker process registers it; the tick is
// idempotent, so several schedulers firing out of phase are harmless.
func CullPeriodic(interval time.Duration) Periodic {
	every := max(min(interval, time.Minute), time.Second)
	p := Periodic{Spec: "@every " + every.String(), Task: NewCullTickTask, AtStart: true}
	if every >= 2*time.Second {
		p.Unique = every - time.Second
	}
	return p
}

// EnqueueCull implements cull.Queue.
func (q *Queue) EnqueueCull(ctx context.Context, set cull.Settings, c cull.Cycle, at time.Time) error {
	return q.enqueue(ctx, NewCullTask(set, c, at), QueueDefault, cullTaskID(set, c))
}

// EnqueueCullFollowup implements cull.Queue.
func (q *Queue) EnqueueCullFollowup(ctx context.Context, runID int64) error {
	return q.enqueue(ctx, NewCullFollowupTask(runID), QueueDefault, followupTaskID(runID))
}

var _ cull.Queue = (*Queue)(nil)

// HandleCullTick runs the periodic cull check.
func (h *Handlers) HandleCullTick(ctx context.Context, _ *asynq.Task) error {
	return h.Cull.Tick(ctx)
}

// HandleCull runs one cycle (if it is the current one and has not run).
func (h *Handlers) HandleCull(ctx context.Context, t *asynq.Task) error {
	var p cullPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.IntervalS <= 0 || p.Cycle <= 0 {
		return fmt.Errorf("bad %s payload %q: %w", TypeCull, t.Payload(), asynq.SkipRetry)
	}
	if secs := int64(h.Cull.Settings().Interval / time.Second); p.IntervalS != secs {
		h.Log("cull: skipping a cycle of another CULL_INTERVAL", "cycle", p.Cycle, "interval_s", p.IntervalS, "ours", secs)
		return nil
	}
	run, created, err := h.Cull.RunCycle(ctx, p.Cycle)
	if created {
		h.Log("cull: cycle ran", "cycle", p.Cycle, "run", run.ID, "victims", run.Victims, "eligible", run.Eligible)
	}
	return err
}

// HandleCullFollowup does (or finishes) the follow-up of one run.
func (h *Handlers) HandleCullFollowup(ctx context.Context, t *asynq.Task) error {
	var p runPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.RunID <= 0 {
		return fmt.Errorf("bad %s payload %q: %w", TypeCullFollowup, t.Payload(), asynq.SkipRetry)
	}
	err := h.Cull.Followup(ctx, p.RunID)
	if errors.Is(err, cull.ErrNoRun) {
		return fmt.Errorf("run %d: %w: %w", p.RunID, err, asynq.SkipRetry)
	}
	return err
}
