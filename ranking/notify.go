package ranking

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/notifications"
)

// NotifyRatings tells authors how many new ratings their posts got since
// the last run — one notification per post per run ("12 people rated your
// post"), not one per rating. The worker runs it every minute.
func (s *Service) NotifyRatings(ctx context.Context, notify *notifications.Service) (int, error) {
	var notes []jokster.Notification
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH due AS (
				SELECT id, unannounced_ratings AS n FROM posts WHERE unannounced_ratings > 0 ORDER BY id LIMIT 1000 FOR NO KEY UPDATE SKIP LOCKED)
			UPDATE posts p SET unannounced_ratings = 0, ratings_announced_at = now() FROM due WHERE p.id = due.id
			RETURNING p.id, p.author_id, due.n, p.h1 + p.h2 + p.h3 + p.h4 + p.h5, left(p.caption, 80)`)
		if err != nil {
			return err
		}
		type due struct {
			post, author, n, total int64
			caption                string
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			err := r.Scan(&d.post, &d.author, &d.n, &d.total, &d.caption)
			return d, err
		})
		if err != nil {
			return err
		}
		for _, d := range list {
			n, err := notifications.Add(ctx, tx, d.author, jokster.NotifyRated, 0, map[string]any{
				"post_id": strconv.FormatInt(d.post, 10), "caption": d.caption, "new_ratings": d.n, "ratings": d.total})
			if err != nil {
				return err
			}
			notes = append(notes, n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	notify.Announce(ctx, notes...)
	return len(notes), nil
}

// BestRank returns the best (lowest) rank on the all-time top board among
// the given posts, or 0 if none is ranked (a post below the top Redis
// keeps has no rank: see Ranks).
func (s *Service) BestRank(ctx context.Context, posts []int64) int {
	if len(posts) == 0 {
		return 0
	}
	board := s.k.board("top:all")
	pipe := s.rdb.TxPipeline()
	ready := pipe.Exists(ctx, s.k.ready())
	ranks := make([]*redis.IntCmd, len(posts))
	scores := make([]*redis.FloatCmd, len(posts))
	for i, id := range posts {
		ranks[i] = pipe.ZRevRank(ctx, board, strconv.FormatInt(id, 10))
		scores[i] = pipe.ZScore(ctx, board, strconv.FormatInt(id, 10))
	}
	floors := pipe.HMGet(ctx, s.k.floor(), "top:all")
	_, _ = pipe.Exec(ctx)
	if n, err := ready.Result(); err != nil || n != 1 {
		return 0
	}
	floor, err := floorMap([]string{"top:all"}, floors)
	if err != nil {
		return 0
	}
	best := 0
	for i, c := range ranks {
		r, err := c.Result()
		if err != nil {
			continue
		}
		if f, capped := floor["top:all"]; capped {
			if sc, err := scores[i].Result(); err != nil || sc <= f {
				continue
			}
		}
		if best == 0 || int(r)+1 < best {
			best = int(r) + 1
		}
	}
	return best
}
