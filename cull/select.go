package cull

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/store"
)

// This file is the one place that decides who is culled. The cull and the
// danger zone both call it, with the same cutoff, so they cannot disagree.

// plan is what a cycle would do, given the posts as they are now.
type plan struct {
	Cycle    Cycle
	Cutoff   time.Time
	Ready    int // ready posts
	Eligible int // ready posts created before the cutoff
	Quota    int // victims
	// Pending: a cull run awaits settling, so its victims' rows still say
	// ready and every read must look them up (store.CullsUnsettled).
	Pending bool
}

// Victim is one post the cull takes (or would take).
type Victim struct {
	PostID int64
	Rank   int     // 1-based place on the board (every ready post counts)
	Score  float64 // the board score, quantised as stored
}

// storeMissingScores stores the scores of ready posts that have none (their
// board update failed before it could store them), computed the way the
// ranking computes them, so that every candidate is ordered by its real
// score. It normally finds nothing (a partial index makes that cheap). A
// post rated between the read and the write keeps the scores its rating
// stored: the write is guarded by the version read with the histogram.
func storeMissingScores(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT id, rank_version, created_at, h1, h2, h3, h4, h5 FROM posts
		WHERE status = 'ready' AND (score_top IS NULL OR score_hot IS NULL) ORDER BY id`)
	if err != nil {
		return err
	}
	var ids, versions []int64
	var tops, hots []float64
	for rows.Next() {
		var id, version int64
		var created time.Time
		var h ranking.Histogram
		if err := rows.Scan(&id, &version, &created, &h[0], &h[1], &h[2], &h[3], &h[4]); err != nil {
			rows.Close()
			return err
		}
		ids, versions = append(ids, id), append(versions, version)
		tops = append(tops, ranking.Quantize(ranking.TopScore(h)))
		hots = append(hots, ranking.Quantize(ranking.HotScore(h, created)))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = q.Exec(ctx, `UPDATE posts p SET score_top = u.top, score_hot = u.hot
		FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[]) AS u(id, version, top, hot)
		WHERE p.id = u.id AND p.rank_version = u.version AND (p.score_top IS NULL OR p.score_hot IS NULL)`, ids, versions, tops, hots)
	return err
}

// makePlan counts the ready and eligible posts for cycle c and the quota.
func (s *Service) makePlan(ctx context.Context, q querier, c Cycle) (plan, error) {
	p := plan{Cycle: c, Cutoff: s.set.Cutoff(c)}
	var err error
	if p.Pending, err = store.CullsUnsettled(ctx, q); err != nil {
		return p, err
	}
	err = q.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE created_at < $1) FROM posts p WHERE `+store.ReadyWhen("p", p.Pending),
		p.Cutoff).Scan(&p.Ready, &p.Eligible)
	p.Quota = s.set.Quota(p.Ready, p.Eligible)
	return p, err
}

// bottomSQL lists the eligible posts from the bottom of the board up:
// ascending stored score, and at equal score the older post (smaller id)
// first — exactly the boards' order (score descending, newer first; see
// ranking.BoardScore) read backwards. pos counts every ready post from the
// bottom, so a post's rank on the board is ready − pos + 1. The scan walks
// the board's index (posts_top_idx / posts_hot_idx, which carry created_at
// and rank_version) backwards and stops after the rows asked for, reading
// no posts rows. pending says that a run awaits settling, whose victims
// must be looked up post by post (store.ReadyWhen); normally none does,
// and then the scan streams the index in order.
// $1 the cutoff, $2 the number of ready posts, then LIMIT and OFFSET.
func (s Settings) bottomSQL(pending bool) string {
	col := s.column()
	ready := store.ReadyWhen("p", pending)
	return fmt.Sprintf(`SELECT b.id, b.score, ($2::bigint - b.pos + 1)::int AS rank, b.rank_version FROM (
		SELECT id, created_at, rank_version, %[1]s AS score, row_number() OVER (ORDER BY %[1]s, id) AS pos
		FROM posts p WHERE %[2]s) b
	WHERE b.created_at < $1 ORDER BY b.score, b.id`, col, ready)
}

// bottom returns limit eligible posts from offset (0-based, counted from
// the bottom of the board) in bottom-up order.
func (s *Service) bottom(ctx context.Context, q querier, p plan, offset, limit int) ([]Victim, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, s.set.bottomSQL(p.Pending)+` LIMIT $3 OFFSET $4`, p.Cutoff, p.Ready, limit, offset)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Victim, error) {
		var v Victim
		var version int64
		err := r.Scan(&v.PostID, &v.Score, &v.Rank, &version)
		return v, err
	})
}
