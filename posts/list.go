package posts

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
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
		WHERE `+store.Ready("p")+` AND p.id < $2
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
		WHERE `+store.Ready("p")+` AND p.id < $2
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

// GetMany returns the posts with the given ids that viewer may see, in the
// order given (boards hand out ids; this fills them in).
func (s *Service) GetMany(ctx context.Context, ids []int64, viewer int64) ([]jokster.Post, error) {
	rows, err := s.db.Query(ctx, selectPost+`WHERE p.id = ANY($2) AND p.status IN ('ready', 'culled', 'removed')`, viewer, ids)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Post, error) { return scanPost(r) })
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]jokster.Post, len(list))
	admin := -1 // not asked yet
	for _, p := range list {
		p.Failure = ""
		if p.Status == jokster.PostRemoved && p.AuthorID != viewer {
			if admin < 0 {
				admin = 0
				if ok, _ := s.IsAdmin(ctx, viewer); viewer != 0 && ok {
					admin = 1
				}
			}
			if admin == 0 {
				redact(&p)
			}
		}
		byID[p.ID] = p
	}
	out := make([]jokster.Post, 0, len(ids))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// AuthorStats are a creator's numbers for their profile.
type AuthorStats struct {
	Posts  int64   // posts that are up (ready)
	Laughs int64   // laughs received on ready and culled posts
	Ready  []int64 // ids of their ready posts, best-scored first (at most 200)
}

// StatsOf returns user's author statistics.
func (s *Service) StatsOf(ctx context.Context, user int64) (AuthorStats, error) {
	var st AuthorStats
	err := s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE `+store.Ready("p")+`),
		coalesce(sum(h1 + 2*h2 + 3*h3 + 4*h4 + 5*h5) FILTER (WHERE status IN ('ready', 'culled')), 0)::bigint
		FROM posts p WHERE author_id = $1`, user).Scan(&st.Posts, &st.Laughs)
	if err != nil {
		return st, err
	}
	rows, err := s.db.Query(ctx, `SELECT id FROM posts p WHERE author_id = $1 AND `+store.Ready("p")+`
		ORDER BY score_top DESC NULLS LAST, id DESC LIMIT 200`, user)
	if err != nil {
		return st, err
	}
	st.Ready, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	return st, err
}
