package accounts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
)

// exportHead is the export's one-row sections, as one JSON object.
const exportHead = `
SELECT jsonb_build_object(
  'exported_at', now(),
  'account', jsonb_build_object(
     'id', u.id::text, 'username', u.username, 'email', u.email,
     'email_verified', u.verified_at IS NOT NULL, 'is_admin', u.is_admin,
     'created_at', u.created_at, 'password_changed_at', u.password_changed_at),
  'profile', (SELECT jsonb_build_object('display_name', p.display_name, 'about', p.about,
     'country', p.country, 'city', p.city, 'photo', nullif(p.photo, ''), 'updated_at', p.updated_at)
     FROM profiles p WHERE p.user_id = u.id))
FROM users u WHERE u.id = $1`

// exportLists are the export's list sections, in the order written: one
// query each, one JSON object per row, all for user $1. A later feature
// that stores something about a user adds its section here.
var exportLists = []struct{ name, sql string }{
	{"following", `SELECT jsonb_build_object('username', x.username, 'since', f.created_at)
		FROM follows f JOIN users x ON x.id = f.followee_id WHERE f.follower_id = $1 ORDER BY f.created_at, x.id`},
	{"followers", `SELECT jsonb_build_object('username', x.username, 'since', f.created_at)
		FROM follows f JOIN users x ON x.id = f.follower_id WHERE f.followee_id = $1 ORDER BY f.created_at, x.id`},
	{"posts", `SELECT jsonb_build_object('id', p.id::text, 'caption', p.caption,
			'tags', coalesce((SELECT jsonb_agg(t.tag ORDER BY t.tag) FROM post_tags t WHERE t.post_id = p.id), '[]'),
			'kind', p.kind, 'status', ` + store.Status("p") + `, 'failure', nullif(p.failure, ''),
			'media', CASE WHEN p.display <> '' THEN jsonb_build_object('url', '/media/' || p.display,
				'thumb_url', '/media/' || nullif(p.thumb, ''), 'poster_url', '/media/' || nullif(p.poster, ''),
				'format', p.format, 'width', p.width, 'height', p.height, 'duration_ms', p.duration_ms,
				'size_bytes', p.size_bytes) END,
			'duplicate_of', p.duplicate_of::text, 'comment_count', p.comment_count, 'reactions', p.reaction_counts,
			'ratings', jsonb_build_object('1', p.h1, '2', p.h2, '3', p.h3, '4', p.h4, '5', p.h5),
			'created_at', p.created_at, 'updated_at', p.updated_at,
			'removed', CASE WHEN p.removed_at IS NOT NULL THEN jsonb_build_object('at', p.removed_at, 'reason', p.removal_reason) END,
			'culled', (SELECT jsonb_build_object('run_id', v.run_id::text, 'rank', v.rank) FROM cull_victims v
				WHERE v.post_id = p.id ORDER BY v.run_id DESC LIMIT 1))
		FROM posts p WHERE p.author_id = $1 ORDER BY p.id`},
	{"comments", `SELECT jsonb_build_object('id', c.id::text, 'post_id', c.post_id::text, 'body', c.body, 'created_at', c.created_at)
		FROM comments c WHERE c.author_id = $1 ORDER BY c.id`},
	{"ratings", `SELECT jsonb_build_object('post_id', r.post_id::text, 'stars', r.stars, 'created_at', r.created_at, 'updated_at', r.updated_at)
		FROM ratings r WHERE r.user_id = $1 ORDER BY r.created_at, r.post_id`},
	{"reactions", `SELECT jsonb_build_object('post_id', r.post_id::text, 'kind', r.kind, 'created_at', r.created_at)
		FROM reactions r WHERE r.user_id = $1 ORDER BY r.created_at, r.post_id, r.kind`},
	{"reports", `SELECT jsonb_build_object('id', r.id::text, 'post_id', r.post_id::text, 'reason', r.reason, 'note', r.note,
			'created_at', r.created_at, 'resolved_at', r.resolved_at, 'resolution', nullif(r.resolution, ''))
		FROM reports r WHERE r.reporter_id = $1 ORDER BY r.id`},
	{"bans", `SELECT jsonb_build_object('until', b.until, 'reason', b.reason, 'created_at', b.created_at)
		FROM bans b WHERE b.user_id = $1 ORDER BY b.created_at`},
	{"notifications", `SELECT jsonb_build_object('id', n.id::text, 'kind', n.kind, 'data', n.data,
			'read', n.read_at IS NOT NULL, 'created_at', n.created_at)
		FROM notifications n WHERE n.user_id = $1 ORDER BY n.id`},
	{"sessions", `SELECT jsonb_build_object('created_at', r.created_at, 'expires_at', r.expires_at,
			'used_at', r.used_at, 'revoked_at', r.revoked_at)
		FROM refresh_tokens r WHERE r.user_id = $1 ORDER BY r.id`},
}

// Export is one user's data export, read from one snapshot of the
// database. It holds a connection until Close.
type Export struct {
	tx   pgx.Tx
	uid  int64
	head []byte
}

// Export starts the export of everything stored about user id. Whoever
// posted, rated and commented for years has more than is sensible to hold
// in memory at once, so the document is written row by row by WriteTo; the
// account is read here, so that a missing one is an error before anything
// is sent.
func (s *Service) Export(ctx context.Context, id int64) (*Export, error) {
	// One snapshot, so that the sections agree with each other (a comment
	// written meanwhile does not appear under comments but not on its
	// post's count).
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	var head []byte
	err = tx.QueryRow(ctx, exportHead, id).Scan(&head)
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
		}
		return nil, err
	}
	if len(head) < 2 || head[len(head)-1] != '}' {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("accounts: export: unexpected head %.40q", head)
	}
	return &Export{tx: tx, uid: id, head: head}, nil
}

// WriteTo writes the export as one JSON object: the one-row sections, then
// each list. An error midway leaves the document unfinished, which a
// reader cannot take for a complete one.
func (e *Export) WriteTo(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	// The head without its closing brace; the lists follow it.
	if _, err := bw.Write(e.head[:len(e.head)-1]); err != nil {
		return err
	}
	for _, l := range exportLists {
		if err := e.writeList(ctx, bw, l.name, l.sql); err != nil {
			return fmt.Errorf("accounts: export %s: %w", l.name, err)
		}
	}
	if err := bw.WriteByte('}'); err != nil {
		return err
	}
	return bw.Flush()
}

func (e *Export) writeList(ctx context.Context, w *bufio.Writer, name, sql string) error {
	if _, err := fmt.Fprintf(w, `, %q: [`, name); err != nil {
		return err
	}
	rows, err := e.tx.Query(ctx, sql, e.uid)
	if err != nil {
		return err
	}
	defer rows.Close()
	first := true
	for rows.Next() {
		var item []byte
		if err := rows.Scan(&item); err != nil {
			return err
		}
		if !first {
			if err := w.WriteByte(','); err != nil {
				return err
			}
		}
		first = false
		if _, err := w.Write(item); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return w.WriteByte(']')
}

// Close ends the export's transaction.
func (e *Export) Close(ctx context.Context) {
	_ = e.tx.Rollback(context.WithoutCancel(ctx))
}
