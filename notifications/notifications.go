// Package notifications stores per-user notifications and announces new
// ones so they can be pushed live.
package notifications

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
)

// Announcer is told about each committed notification; the realtime
// package implements it to push to the user's `me` channel.
type Announcer interface {
	Notified(ctx context.Context, n jokster.Notification)
}

// Service stores and lists notifications.
type Service struct {
	db       *pgxpool.Pool
	announce Announcer
}

// New returns a Service; announce may be nil.
func New(db *pgxpool.Pool, announce Announcer) *Service {
	return &Service{db: db, announce: announce}
}

// Execer is what Add needs: a transaction, so that a notification is
// written if and only if the change it reports is.
type Execer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Add records a notification inside tx and returns it with its id. Call
// Announce with it after the commit.
func Add(ctx context.Context, tx Execer, userID int64, kind string, actorID int64, data map[string]any) (jokster.Notification, error) {
	if data == nil {
		data = map[string]any{}
	}
	var actor *int64
	if actorID != 0 {
		actor = &actorID
	}
	n := jokster.Notification{UserID: userID, Kind: kind, Data: data}
	err := tx.QueryRow(ctx, `WITH n AS (INSERT INTO notifications (user_id, kind, actor_id, data) VALUES ($1, $2, $3, $4) RETURNING id, created_at)
		SELECT n.id, n.created_at, coalesce((SELECT username FROM users WHERE id = $3), '') FROM n`,
		userID, kind, actor, data).Scan(&n.ID, &n.CreatedAt, &n.Actor)
	return n, err
}

// SetAnnouncer connects live delivery (set once at start-up).
func (s *Service) SetAnnouncer(a Announcer) { s.announce = a }

// Announce passes committed notifications to the announcer.
func (s *Service) Announce(ctx context.Context, ns ...jokster.Notification) {
	if s.announce == nil {
		return
	}
	for _, n := range ns {
		s.announce.Notified(ctx, n)
	}
}

// List returns the user's notifications, newest first.
func (s *Service) List(ctx context.Context, userID int64, unreadOnly bool, cursor string, limit int) (jokster.Page[jokster.Notification], error) {
	var page jokster.Page[jokster.Notification]
	before, err := decodeCursor(cursor)
	if err != nil {
		return page, err
	}
	rows, err := s.db.Query(ctx, `SELECT n.id, n.kind, coalesce(u.username, ''), n.data, n.read_at IS NOT NULL, n.created_at
		FROM notifications n LEFT JOIN users u ON u.id = n.actor_id
		WHERE n.user_id = $1 AND n.id < $2 AND (NOT $3 OR n.read_at IS NULL)
		ORDER BY n.id DESC LIMIT $4`, userID, before, unreadOnly, limit+1)
	if err != nil {
		return page, err
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Notification, error) {
		n := jokster.Notification{UserID: userID}
		err := r.Scan(&n.ID, &n.Kind, &n.Actor, &n.Data, &n.Read, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return page, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeCursor(page.Items[limit-1].ID)
	}
	return page, nil
}

// UnreadCount returns how many notifications the user has not read.
func (s *Service) UnreadCount(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n)
	return n, err
}

// MarkRead marks the given notifications of the user read (all of them when
// ids is empty and all is true) and returns the new unread count. Ids of
// other users' notifications are ignored.
func (s *Service) MarkRead(ctx context.Context, userID int64, ids []int64, all bool) (int64, error) {
	var err error
	if all {
		_, err = s.db.Exec(ctx, `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL`, userID)
	} else if len(ids) > 0 {
		_, err = s.db.Exec(ctx, `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND id = ANY($2) AND read_at IS NULL`, userID, ids)
	}
	if err != nil {
		return 0, err
	}
	return s.UnreadCount(ctx, userID)
}

// Purge deletes read notifications older than 90 days and any older than a
// year; the scheduler runs it.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	t, err := s.db.Exec(ctx, `DELETE FROM notifications WHERE (read_at IS NOT NULL AND created_at < now() - interval '90 days') OR created_at < now() - interval '365 days'`)
	return t.RowsAffected(), err
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 1<<63 - 1, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})
}
