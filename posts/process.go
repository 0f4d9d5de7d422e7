package posts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/media"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/store"
)

// DuplicateDistance is the largest perceptual-hash distance at which two
// pictures count as the same (64-bit hashes; see media.HashDistance).
const DuplicateDistance = 8

// Process makes the renditions of a processing post and marks it ready, or
// failed when its file turns out to be unusable. It is idempotent: a post
// that is no longer processing is left alone. Errors other than bad input
// are returned so the task is retried.
func (s *Service) Process(ctx context.Context, id int64) error {
	var u media.Upload
	var status string
	var author int64
	err := s.db.QueryRow(ctx, `SELECT status, author_id, kind, format, original, coalesce(width, 0), coalesce(height, 0), coalesce(duration_ms, 0), coalesce(size_bytes, 0)
		FROM posts WHERE id = $1`, id).Scan(&status, &author, &u.Kind, &u.Format, &u.Path, &u.Width, &u.Height, &u.DurationMS, &u.Size)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != jokster.PostProcessing) {
		return nil // deleted meanwhile, or done by an earlier run
	} else if err != nil {
		return err
	}
	res, err := media.ProcessWithin(ctx, s.set.MediaRoot, u, s.set.Tools, s.set.Limits)
	var je *jokster.Error
	if errors.As(err, &je) {
		return s.Fail(ctx, id, je.Message)
	} else if err != nil {
		return err
	}
	var notes []jokster.Notification
	var orphans []string
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		orphans = nil
		// Renditions are named by content, so one a deleted post left
		// queued for collection may be this post's too: under the
		// collectors' lock, it leaves their queue, and if a collector took
		// it meanwhile the task runs again and makes it anew.
		for _, f := range []string{res.Display, res.Thumb, res.Poster} {
			if f == "" {
				continue
			}
			if err := store.HoldMediaFile(ctx, tx, s.set.MediaRoot, f); err != nil {
				return fmt.Errorf("posts: a rendition of post %d; processing again: %w", id, err)
			}
		}
		t, err := tx.Exec(ctx, `UPDATE posts SET status = 'ready', display = $2, thumb = $3, poster = $4,
			width = nullif($5, 0), height = nullif($6, 0), duration_ms = nullif($7, 0), phash = $8, updated_at = now()
			WHERE id = $1 AND status = 'processing'`,
			id, res.Display, res.Thumb, res.Poster, res.Width, res.Height, res.DurationMS, int64(res.PHash))
		if err != nil {
			return err
		}
		if t.RowsAffected() == 0 {
			// Deleted or removed while its renditions were made: nothing
			// will refer to them, so they are queued for collection (a
			// collector keeps any that another post uses).
			for _, f := range []string{res.Display, res.Thumb, res.Poster} {
				if f != "" {
					if _, err := tx.Exec(ctx, `INSERT INTO media_garbage (path) VALUES ($1) ON CONFLICT DO NOTHING`, f); err != nil {
						return err
					}
					orphans = append(orphans, f)
				}
			}
			return nil
		}
		for _, f := range []string{res.Display, res.Thumb, res.Poster} {
			if f != "" {
				if _, err := tx.Exec(ctx, `DELETE FROM media_garbage WHERE path = $1`, f); err != nil {
					return err
				}
			}
		}
		if res.PHash == 0 {
			return nil
		}
		// A repost: the oldest earlier post whose picture is within the
		// distance. Its poster is told, and moderators get a report.
		var orig, origAuthor int64
		err = tx.QueryRow(ctx, `SELECT id, author_id FROM posts
			WHERE id < $1 AND phash IS NOT NULL AND status IN ('ready', 'culled', 'removed')
			AND bit_count((phash # $2)::bit(64)) <= $3 ORDER BY id LIMIT 1`, id, int64(res.PHash), DuplicateDistance).Scan(&orig, &origAuthor)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE posts SET duplicate_of = $2 WHERE id = $1`, id, orig); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO reports (post_id, reason, note) VALUES ($1, 'duplicate', $2)`,
			id, "looks like a repost of post "+itoa(orig)); err != nil {
			return err
		}
		n, err := notifications.Add(ctx, tx, author, jokster.NotifyDuplicate, 0, map[string]any{"post_id": itoa(id), "original_post_id": itoa(orig)})
		notes = append(notes, n)
		return err
	})
	if err != nil {
		return err
	}
	if len(orphans) > 0 {
		for _, f := range orphans {
			if err := s.queue.EnqueueCollect(ctx, f); err != nil {
				slog.Warn("posts: enqueue collect failed; the re-enqueue job will retry", "path", f, "err", err)
			}
		}
		slog.Info("post gone while processing; its renditions are queued for collection", "post", id)
		return nil
	}
	s.notify.Announce(ctx, notes...)
	s.rank.PostChanged(ctx, id)
	s.announceReady(ctx, id)
	slog.Info("post processed", "post", id, "kind", u.Kind, "width", res.Width, "height", res.Height)
	return nil
}

// Fail marks a processing post failed with a reason its author can read.
func (s *Service) Fail(ctx context.Context, id int64, reason string) error {
	var note jokster.Notification
	var done bool
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var author int64
		err := tx.QueryRow(ctx, `UPDATE posts SET status = 'failed', failure = $2, updated_at = now()
			WHERE id = $1 AND status = 'processing' RETURNING author_id`, id, reason).Scan(&author)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		done = true
		note, err = notifications.Add(ctx, tx, author, jokster.NotifyFailed, 0, map[string]any{"post_id": itoa(id), "reason": reason})
		return err
	})
	if err == nil && done {
		slog.Info("post processing failed", "post", id, "reason", reason)
		s.notify.Announce(ctx, note)
	}
	return err
}

// ProcessGiveUp is how long a post may stay processing: several times
// what every retry of its task takes.
const ProcessGiveUp = 12 * time.Hour

// Requeue re-enqueues posts stuck in processing for longer than olderThan
// (their task was lost) and garbage files waiting longer than olderThan. It
// returns how many tasks it enqueued.
func (s *Service) Requeue(ctx context.Context, olderThan time.Duration) (int, error) {
	// Processing that has not finished long after every retry would have
	// (a file that crashes the worker each time, so that no attempt ever
	// gets to mark the post failed) is given up: re-enqueuing it for ever
	// would crash workers for ever.
	rows, err := s.db.Query(ctx, `SELECT id FROM posts WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1) ORDER BY id LIMIT 500`,
		ProcessGiveUp.Seconds())
	if err != nil {
		return 0, err
	}
	stuck, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	for _, id := range stuck {
		slog.Warn("posts: processing never finished; giving up", "post", id, "after", ProcessGiveUp)
		if err := s.Fail(ctx, id, "processing this file did not finish; try uploading it again"); err != nil {
			return 0, err
		}
	}
	// Every such row, a page at a time: rows whose task is still retrying
	// must not keep newer lost ones from their turn.
	n := 0
	var lastID int64
	for {
		rows, err := s.db.Query(ctx, `SELECT id FROM posts WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1)
			AND id > $2 ORDER BY id LIMIT 500`, olderThan.Seconds(), lastID)
		if err != nil {
			return n, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return n, err
		}
		for _, id := range ids {
			if s.queue.EnqueueProcess(ctx, id) == nil {
				n++
			}
			lastID = id
		}
		if len(ids) < 500 {
			break
		}
	}
	// Claims whose upload never became a post (the request died): their
	// files are queued for collection, which deletes them unless a post or
	// a profile uses them (a file stored for the first time is in
	// media_garbage only from here on), and their tasks enqueued now.
	rows, err = s.db.Query(ctx, `WITH c AS (DELETE FROM media_claims WHERE until < now() RETURNING path),
		g AS (INSERT INTO media_garbage (path) SELECT path FROM c ON CONFLICT DO NOTHING)
		SELECT path FROM c ORDER BY path`)
	if err != nil {
		return n, err
	}
	expired, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return n, err
	}
	for _, p := range expired {
		if s.queue.EnqueueCollect(ctx, p) == nil {
			n++
		}
	}
	lastPath := ""
	for {
		rows, err := s.db.Query(ctx, `SELECT path FROM media_garbage WHERE queued_at < now() - make_interval(secs => $1)
			AND path > $2 ORDER BY path LIMIT 500`, olderThan.Seconds(), lastPath)
		if err != nil {
			return n, err
		}
		paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return n, err
		}
		for _, p := range paths {
			if s.queue.EnqueueCollect(ctx, p) == nil {
				n++
			}
			lastPath = p
		}
		if len(paths) < 500 {
			return n, nil
		}
	}
}

// Collect deletes a queued file if nothing refers to it any more. An
// advisory lock on the path serialises collectors of the same file.
func (s *Service) Collect(ctx context.Context, path string) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := store.LockMediaPath(ctx, tx, path); err != nil {
			return err
		}
		var queued, used, claimed bool
		// One indexed lookup per column (see 00005_media_refs.sql).
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM media_garbage WHERE path = $1),
			EXISTS (SELECT 1 FROM posts WHERE original = $1 AND original <> '')
			OR EXISTS (SELECT 1 FROM posts WHERE display = $1 AND display <> '')
			OR EXISTS (SELECT 1 FROM posts WHERE thumb = $1 AND thumb <> '')
			OR EXISTS (SELECT 1 FROM posts WHERE poster = $1 AND poster <> '')
			OR EXISTS (SELECT 1 FROM profiles WHERE photo = $1 AND photo <> ''),
			EXISTS (SELECT 1 FROM media_claims WHERE path = $1 AND until > now())`, path).Scan(&queued, &used, &claimed)
		if err != nil || !queued {
			return err
		}
		if claimed && !used {
			// An upload on its way will use it, or, if it never becomes a
			// post, the re-enqueue job brings the file back here once the
			// claim has run out (Requeue queues the paths of expired
			// claims): it stays queued.
			return nil
		}
		if !used {
			if err := media.Remove(s.set.MediaRoot, path); err != nil {
				return err
			}
			slog.Info("media file collected", "path", path)
		}
		_, err = tx.Exec(ctx, `DELETE FROM media_garbage WHERE path = $1`, path)
		return err
	})
}

func itoa(n int64) string {
	return formatInt(n)
}
