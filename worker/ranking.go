package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeNotifyRatings tells authors about new ratings, batched per minute.
const TypeNotifyRatings = "ranking:notify"

// NewNotifyRatingsTask is the periodic batch of rating notifications.
func NewNotifyRatingsTask() *asynq.Task {
	return asynq.NewTask(TypeNotifyRatings, nil, asynq.Queue(QueueLow), asynq.Timeout(time.Minute))
}

// HandleNotifyRatings turns the ratings counted since the last run into one
// notification per post.
func (h *Handlers) HandleNotifyRatings(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Ranking.NotifyRatings(ctx, h.Notify)
	if n > 0 {
		h.Log("rating notifications sent", "count", n)
	}
	return err
}
