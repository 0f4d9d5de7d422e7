package posts

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
)

// ListQuery selects ready posts, newest first.
type ListQuery struct {
	Tag    string // normalised tag or ""
	Author string // username or ""
	Cursor string
	Limit  int
	Viewer int64
}

var errCursor = jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 1<<63 - 1, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, errCursor
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || id <= 0 {
		return 0, errCursor
	}
	return id, nil
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// List returns ready posts newest first. The cursor is the last id seen, so
// posts that arrive between fetches never shift a page: no duplicates, no
// gaps.
func (s *Service) List(ctx context.Context, q ListQuery) (jokster.Page[jokster.Post], error) {
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return jokster.Page[jokster.Post]{}, err
	}
	if q.Author != "" {
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))`, q.Author).Scan(&exists); err != nil {
			return jokster.Page[jokster.Post]{}, err
		}
		if !exists {
			return jokster.Page[jokster.Post]{}, jokster.Errorf(jokster.ENOTFOUND, "no such user")
		}
	}
	rows, err := s.db.Query(ctx, selectPost+`
		WHERE p.status = 'ready' AND p.id < $2
		AND ($3 = '' OR EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id AND t.tag = $3))
		AND ($4 = '' OR lower(u.username) = lower($4))
		ORDER BY p.id DESC LIMIT $5`, q.Viewer, before, q.Tag, q.Author, q.Limit+1)
	return page(rows, err, q.Limit)
}

// Feed returns ready posts by the people viewer follows, newest first.
func (s *Service) Feed(ctx context.Context, viewer int64, cursor string, limit int) (jokster.Page[jokster.Post], error) {
	before, err := decodeCursor(cursor)
	if err != nil {
		return jokster.Page[jokster.Post]{}, err
	}
	rows, err := s.db.Query(ctx, selectPost+`
		WHERE p.status = 'ready' AND p.id < $2
		AND p.author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1)
		ORDER BY p.id DESC LIMIT $3`, viewer, before, limit+1)
	return page(rows, err, limit)
}

func page(rows pgx.Rows, err error, limit int) (jokster.Page[jokster.Post], error) {
	var pg jokster.Page[jokster.Post]
	if err != nil {
		return pg, err
	}
	pg.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Post, error) { return scanPost(r) })
	if err != nil {
		return pg, err
	}
	for i := range pg.Items {
		pg.Items[i].Failure = ""
	}
	if len(pg.Items) > limit {
		pg.Items = pg.Items[:limit]
		pg.NextCursor = encodeCursor(pg.Items[limit-1].ID)
	}
	return pg, nil
}
