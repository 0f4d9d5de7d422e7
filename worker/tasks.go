// Package worker runs Jokster's background and periodic work on asynq: the
// task types and their handlers, the scheduler, and the asynqmon mount.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
)

// Task types.
const (
	TypeSendMail    = "mail:send"
	TypeRequeueLost = "maintenance:requeue"
	TypePurge       = "maintenance:purge"
)

// Queues, by priority: mail a user waits for goes before housekeeping.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

type sendMailPayload struct {
	ID uuid.UUID `json:"id"`
}

// NewSendMailTask delivers outbox row id. The task id is derived from the
// row so that enqueueing it twice (the re-enqueue job) is a no-op.
func NewSendMailTask(id uuid.UUID) *asynq.Task {
	b, _ := json.Marshal(sendMailPayload{ID: id})
	return asynq.NewTask(TypeSendMail, b, asynq.TaskID(mailTaskID(id)), asynq.Queue(QueueCritical),
		asynq.MaxRetry(25), asynq.Timeout(time.Minute))
}

func mailTaskID(id uuid.UUID) string { return "mail:" + id.String() }

// Queue enqueues tasks; it implements mail.Enqueuer, posts.Queue and
// cull.Queue.
type Queue struct {
	client *asynq.Client
	insp   *asynq.Inspector
}

// NewQueue returns a Queue on client. insp (nil: none) lets it replace an
// archived task that holds the id of one it enqueues (see enqueue).
func NewQueue(client *asynq.Client, insp *asynq.Inspector) *Queue {
	return &Queue{client: client, insp: insp}
}

// EnqueueMail schedules delivery of outbox row id.
func (q *Queue) EnqueueMail(ctx context.Context, id uuid.UUID) error {
	return q.enqueue(ctx, NewSendMailTask(id), QueueCritical, mailTaskID(id))
}

// enqueue adds task t (with id, in queue) unless a task with that id is
// pending, scheduled, running or kept as completed: the ids are what make
// the re-enqueue jobs' repeats no-ops. A task asynq keeps as archived —
// its retries ran out, or its worker died during the last one — would
// hold the id for months and swallow every re-enqueue of work PostgreSQL
// says is not done: it is deleted, and t enqueued in its place.
func (q *Queue) enqueue(ctx context.Context, t *asynq.Task, queue, id string) error {
	_, err := q.client.EnqueueContext(ctx, t)
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	if q.insp == nil {
		return nil
	}
	info, err := q.insp.GetTaskInfo(queue, id)
	if err != nil || info.State != asynq.TaskStateArchived {
		return nil // already queued (or gone meanwhile: the next re-enqueue sees)
	}
	if err := q.insp.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return err
	}
	slog.Info("worker: an archived task held the id of work to redo; enqueued anew", "task", id)
	if _, err = q.client.EnqueueContext(ctx, t); errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil // another node enqueued it first
	}
	return err
}

var _ mail.Enqueuer = (*Queue)(nil)

// Handlers are the task handlers; build them with the services they use.
type Handlers struct {
	Outbox *mail.Outbox
	Sender mail.Sender
	// Posts processes uploads and collects unused files; nil in a worker
	// that only sends mail (tests).
	Posts *posts.Service
	// Ranking and Notify send the batched rating notifications; nil
	// disables them.
	Ranking *ranking.Service
	Notify  *notifications.Service
	// Purgers delete expired data; each returns how many rows went.
	Purgers map[string]func(context.Context) (int64, error)
	Log     func(msg string, args ...any)

	// Cull runs the cull cycles, their follow-up and the danger check; nil
	// disables them.
	Cull *cull.Service
}

// HandleSendMail delivers one outbox row. Asynq retries failures with
// backoff; a row that no longer exists (its account was deleted) is done.
func (h *Handlers) HandleSendMail(ctx context.Context, t *asynq.Task) error {
	var p sendMailPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == uuid.Nil {
		return fmt.Errorf("bad %s payload %q: %w", TypeSendMail, t.Payload(), asynq.SkipRetry)
	}
	err := h.Outbox.Deliver(ctx, h.Sender, p.ID)
	if errors.Is(err, mail.ErrGone) {
		return nil
	}
	return err
}

// HandleRequeueLost re-enqueues recorded work whose task went missing (for
// example after Redis lost its data).
func (h *Handlers) HandleRequeueLost(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Outbox.Requeue(ctx, 2*time.Minute)
	if n > 0 {
		h.Log("re-enqueued unsent mail", "count", n)
	}
	if h.Posts != nil {
		m, perr := h.Posts.Requeue(ctx, 2*time.Minute)
		if m > 0 {
			h.Log("re-enqueued media processing and collection", "count", m)
		}
		err = errors.Join(err, perr)
	}
	return err
}

// HandlePurge deletes expired tokens and old notifications.
func (h *Handlers) HandlePurge(ctx context.Context, _ *asynq.Task) error {
	var errs []error
	for name, purge := range h.Purgers {
		n, err := purge(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		} else if n > 0 {
			h.Log("purged expired rows", "what", name, "count", n)
		}
	}
	return errors.Join(errs...)
}

// Mux routes task types to handlers.
func (h *Handlers) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeSendMail, h.HandleSendMail)
	mux.HandleFunc(TypeRequeueLost, h.HandleRequeueLost)
	mux.HandleFunc(TypePurge, h.HandlePurge)
	if h.Ranking != nil && h.Notify != nil {
		mux.HandleFunc(TypeNotifyRatings, h.HandleNotifyRatings)
	}
	if h.Cull != nil {
		mux.HandleFunc(TypeCullTick, h.HandleCullTick)
		mux.HandleFunc(TypeCull, h.HandleCull)
		mux.HandleFunc(TypeCullFollowup, h.HandleCullFollowup)
	}
	if h.Posts != nil {
		mux.HandleFunc(TypeProcessMedia, h.HandleProcessMedia)
		mux.HandleFunc(TypeCollectMedia, h.HandleCollectMedia)
	}
	return mux
}
