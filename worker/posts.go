package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jokster/jokster/posts"
)

// Task types of posts.
const (
	TypeProcessMedia = "media:process"
	TypeCollectMedia = "media:collect"
)

// processRetries is how often media processing is retried before the post
// is marked failed.
const processRetries = 8

type postPayload struct {
	PostID int64 `json:"post_id"`
}

type pathPayload struct {
	Path string `json:"path"`
}

// NewProcessMediaTask makes the renditions of a post. Its id is derived from
// the post so a re-enqueue while one is pending is a no-op.
func NewProcessMediaTask(postID int64) *asynq.Task {
	b, _ := json.Marshal(postPayload{PostID: postID})
	return asynq.NewTask(TypeProcessMedia, b, asynq.TaskID(processTaskID(postID)),
		asynq.Queue(QueueDefault), asynq.MaxRetry(processRetries), asynq.Timeout(5*time.Minute))
}

func processTaskID(postID int64) string { return "media:process:" + strconv.FormatInt(postID, 10) }

func collectTaskID(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "media:collect:" + hex.EncodeToString(sum[:12])
}

// NewCollectMediaTask deletes a media file once nothing uses it.
func NewCollectMediaTask(path string) *asynq.Task {
	b, _ := json.Marshal(pathPayload{Path: path})
	return asynq.NewTask(TypeCollectMedia, b, asynq.TaskID(collectTaskID(path)),
		asynq.Queue(QueueLow), asynq.MaxRetry(10), asynq.Timeout(time.Minute))
}

// EnqueueProcess implements posts.Queue.
func (q *Queue) EnqueueProcess(ctx context.Context, postID int64) error {
	return q.enqueue(ctx, NewProcessMediaTask(postID), QueueDefault, processTaskID(postID))
}

// EnqueueCollect implements posts.Queue.
func (q *Queue) EnqueueCollect(ctx context.Context, path string) error {
	return q.enqueue(ctx, NewCollectMediaTask(path), QueueLow, collectTaskID(path))
}

var _ posts.Queue = (*Queue)(nil)

// HandleProcessMedia processes one post's upload. Bad files mark the post
// failed at once (inside posts.Process); other errors are retried, and the
// last retry marks the post failed so it never stays "processing".
func (h *Handlers) HandleProcessMedia(ctx context.Context, t *asynq.Task) error {
	var p postPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.PostID <= 0 {
		return fmt.Errorf("bad %s payload %q: %w", TypeProcessMedia, t.Payload(), asynq.SkipRetry)
	}
	err := h.Posts.Process(ctx, p.PostID)
	if err != nil {
		if n, ok := asynq.GetRetryCount(ctx); ok && n >= processRetries {
			if ferr := h.Posts.Fail(context.WithoutCancel(ctx), p.PostID, "the file could not be processed; try uploading it again"); ferr != nil {
				return errors.Join(err, ferr)
			}
			return nil
		}
	}
	return err
}

// HandleCollectMedia deletes one queued media file if it is unused.
func (h *Handlers) HandleCollectMedia(ctx context.Context, t *asynq.Task) error {
	var p pathPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Path == "" {
		return fmt.Errorf("bad %s payload %q: %w", TypeCollectMedia, t.Payload(), asynq.SkipRetry)
	}
	return h.Posts.Collect(ctx, p.Path)
}
