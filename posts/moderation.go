package posts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/store"
)

// ReportReasons are what a user may report a post for.
var ReportReasons = map[string]bool{"spam": true, "offensive": true, "illegal": true, "copyright": true, "other": true}

// Report files the user's report on a post. Reporting the same post again
// updates the reason; it is not counted twice.
func (s *Service) Report(ctx context.Context, postID, user int64, reason, note string) error {
	if !ReportReasons[reason] {
		return jokster.Invalid(map[string]string{"reason": "one of spam, offensive, illegal, copyright, other"})
	}
	note, msg := checkText(note, 1000)
	if msg != "" {
		return jokster.Invalid(map[string]string{"note": msg})
	}
	if err := s.CheckBan(ctx, user); err != nil {
		return err
	}
	if _, err := s.Get(ctx, postID, user); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO reports (post_id, reporter_id, reason, note) VALUES ($1, $2, $3, $4)
		ON CONFLICT (post_id, reporter_id) WHERE reporter_id IS NOT NULL
		DO UPDATE SET reason = EXCLUDED.reason, note = EXCLUDED.note, resolved_at = NULL`, postID, user, reason, note)
	if err == nil {
		slog.Info("post reported", "post", postID, "by", user, "reason", reason)
	}
	return err
}

// requireAdmin returns EFORBIDDEN unless user is an admin.
func (s *Service) requireAdmin(ctx context.Context, user int64) error {
	admin, err := s.IsAdmin(ctx, user)
	if err != nil {
		return err
	}
	if !admin {
		return jokster.Errorf(jokster.EFORBIDDEN, "admins only")
	}
	return nil
}

// Reports lists reports for admins, oldest open ones first (or resolved
// ones too with all).
func (s *Service) Reports(ctx context.Context, admin int64, all bool, cursor string, limit int) (jokster.Page[jokster.Report], error) {
	var pg jokster.Page[jokster.Report]
	if err := s.requireAdmin(ctx, admin); err != nil {
		return pg, err
	}
	after := int64(0)
	if cursor != "" {
		var err error
		if after, err = decodeCursor(cursor); err != nil {
			return pg, err
		}
	}
	rows, err := s.db.Query(ctx, `SELECT r.id, r.post_id, coalesce(u.username, ''), r.reason, r.note, r.created_at, r.resolved_at, r.resolution
		FROM reports r LEFT JOIN users u ON u.id = r.reporter_id
		WHERE r.id > $1 AND ($2 OR r.resolved_at IS NULL) ORDER BY r.id LIMIT $3`, after, all, limit+1)
	if err != nil {
		return pg, err
	}
	pg.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Report, error) {
		var rp jokster.Report
		err := r.Scan(&rp.ID, &rp.PostID, &rp.Reporter, &rp.Reason, &rp.Note, &rp.CreatedAt, &rp.ResolvedAt, &rp.Resolution)
		return rp, err
	})
	if err != nil {
		return pg, err
	}
	if len(pg.Items) > limit {
		pg.Items = pg.Items[:limit]
		pg.NextCursor = encodeCursor(pg.Items[limit-1].ID)
	}
	return pg, nil
}

// ResolveReport closes a report with a note on what was done.
func (s *Service) ResolveReport(ctx context.Context, admin, reportID int64, resolution string) error {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return err
	}
	resolution, msg := checkText(resolution, 500)
	if msg != "" {
		return jokster.Invalid(map[string]string{"resolution": msg})
	}
	t, err := s.db.Exec(ctx, `UPDATE reports SET resolved_at = now(), resolved_by = $2, resolution = $3 WHERE id = $1`, reportID, admin, resolution)
	if err == nil && t.RowsAffected() == 0 {
		return jokster.Errorf(jokster.ENOTFOUND, "no such report")
	}
	return err
}

// Remove takes a post down for breaking the rules: status `removed`, its
// files queued for deletion, its open reports resolved, its author told.
// Its transaction holds store.CullFloorLock shared, taken before the post's
// row (the documented lock order), so a removal never commits between a
// cull's count of ready posts and its commit, which could take the posts
// below the cull's floor.
func (s *Service) Remove(ctx context.Context, admin, postID int64, reason string) (jokster.Post, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return jokster.Post{}, err
	}
	reason, msg := checkText(reason, 500)
	if msg == "" && reason == "" {
		msg = "say why"
	}
	if msg != "" {
		return jokster.Post{}, jokster.Invalid(map[string]string{"reason": msg})
	}
	var note jokster.Notification
	var version int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := store.HoldReadyPosts(ctx, tx); err != nil {
			return err
		}
		var author int64
		err := tx.QueryRow(ctx, `UPDATE posts SET status = 'removed', removed_at = now(), removed_by = $2, removal_reason = $3,
			original = '', display = '', thumb = '', poster = '', updated_at = now()
			WHERE id = $1 AND status <> 'removed' RETURNING author_id, rank_version`, postID, admin, reason).Scan(&author, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1)`, postID).Scan(&exists); err != nil || exists {
				return err // already removed: nothing to do
			}
			return errNoPost
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE reports SET resolved_at = now(), resolved_by = $2, resolution = 'post removed' WHERE post_id = $1 AND resolved_at IS NULL`, postID, admin); err != nil {
			return err
		}
		note, err = notifications.Add(ctx, tx, author, jokster.NotifyRemoved, 0, map[string]any{"post_id": formatInt(postID), "reason": reason})
		return err
	})
	if err != nil {
		return jokster.Post{}, err
	}
	if note.ID != 0 {
		s.rank.PostChanged(ctx, postID)
		s.live.PostGone(ctx, postID, jokster.PostRemoved, version)
		s.notify.Announce(ctx, note)
		slog.Info("post removed by a moderator", "post", postID, "admin", admin)
	}
	s.collectSoon(ctx)
	return s.Get(ctx, postID, admin)
}

// Ban stops username from posting, commenting, reacting and reporting
// until the given time.
func (s *Service) Ban(ctx context.Context, admin int64, username string, until time.Time, reason string) (string, time.Time, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return "", time.Time{}, err
	}
	if !until.After(time.Now()) || until.After(time.Now().AddDate(100, 0, 0)) {
		return "", time.Time{}, jokster.Invalid(map[string]string{"hours": "a ban lasts from one hour to a century"})
	}
	reason, msg := checkText(reason, 500)
	if msg != "" {
		return "", time.Time{}, jokster.Invalid(map[string]string{"reason": msg})
	}
	var uid int64
	err := s.db.QueryRow(ctx, `SELECT id, username FROM users WHERE lower(username) = lower($1)`, username).Scan(&uid, &username)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, jokster.Errorf(jokster.ENOTFOUND, "no such user")
	} else if err != nil {
		return "", time.Time{}, err
	}
	if uid == admin {
		return "", time.Time{}, jokster.Errorf(jokster.EINVALID, "you cannot ban yourself")
	}
	err = s.db.QueryRow(ctx, `INSERT INTO bans (user_id, until, reason, banned_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET until = EXCLUDED.until, reason = EXCLUDED.reason, banned_by = EXCLUDED.banned_by, created_at = now()
		RETURNING until`, uid, until, reason, admin).Scan(&until)
	if err == nil {
		slog.Info("user banned", "user", uid, "until", until, "admin", admin)
	}
	return username, until, err
}

// Unban lifts a ban (none is a no-op).
func (s *Service) Unban(ctx context.Context, admin int64, username string) error {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return err
	}
	t, err := s.db.Exec(ctx, `DELETE FROM bans WHERE user_id = (SELECT id FROM users WHERE lower(username) = lower($1))`, username)
	if err == nil && t.RowsAffected() == 0 {
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))`, username).Scan(&exists); err == nil && !exists {
			return jokster.Errorf(jokster.ENOTFOUND, "no such user")
		}
	}
	return err
}
