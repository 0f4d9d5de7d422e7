package cull

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster/store"
)

// Recent returns the latest limit runs, newest first.
func (s *Service) Recent(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.db.Query(ctx, selectRun+`ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) { return scanRun(r) })
}

// Run returns run id (ErrNoRun if there is none).
func (s *Service) Run(ctx context.Context, id int64) (Run, error) {
	run, err := scanRun(s.db.QueryRow(ctx, selectRun+`WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return run, ErrNoRun
	}
	return run, err
}

// Victims returns up to limit victims of run runID ranked below rank
// `after` (0: from the start), best-ranked first, and whether more follow.
func (s *Service) Victims(ctx context.Context, runID int64, after, limit int) ([]Victim, bool, error) {
	rows, err := s.db.Query(ctx, `SELECT post_id, rank, score FROM cull_victims WHERE run_id = $1 AND rank > $2
		ORDER BY rank LIMIT $3`, runID, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Victim, error) {
		var v Victim
		err := r.Scan(&v.PostID, &v.Rank, &v.Score)
		return v, err
	})
	if err != nil {
		return nil, false, err
	}
	if len(vs) > limit {
		return vs[:limit], true, nil
	}
	return vs, false, nil
}

// AuthorStats are an author's cull numbers.
type AuthorStats struct {
	// Survived: their posts that are still ready and were already past the
	// grace period at a cull (created before the latest run's cutoff): they
	// faced at least one cull and stayed.
	Survived int64
	// Culled: their posts the cull took.
	Culled int64
}

// AuthorStats returns user's cull numbers.
func (s *Service) AuthorStats(ctx context.Context, user int64) (AuthorStats, error) {
	var st AuthorStats
	err := s.db.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE s = 'ready' AND created_at < (SELECT max(cutoff) FROM cull_runs WHERE finished_at IS NOT NULL)),
		count(*) FILTER (WHERE s = 'culled')
		FROM (SELECT `+store.Status("p")+` AS s, p.created_at FROM posts p
			WHERE p.author_id = $1 AND p.status IN ('ready', 'culled')) a`, user).Scan(&st.Survived, &st.Culled)
	return st, err
}

// Culled is where a culled post fell: "culled in cycle N at rank R".
type Culled struct {
	RunID int64
	Cycle int64
	Rank  int
	At    time.Time // when the run committed
}

// CulledInfo returns, for those of the posts that were culled, where they
// fell.
func (s *Service) CulledInfo(ctx context.Context, ids []int64) (map[int64]Culled, error) {
	out := map[int64]Culled{}
	if len(ids) == 0 {
		return out, nil
	}
	// The victims of a run not settled yet are culled by their record
	// alone (store.CullPending): their rows say nothing yet.
	rows, err := s.db.Query(ctx, `SELECT p.id, r.id, r.cycle, coalesce(p.culled_rank, 0), coalesce(r.finished_at, r.started_at)
		FROM posts p JOIN cull_runs r ON r.id = p.culled_run_id WHERE p.id = ANY($1) AND p.status = 'culled'
		UNION ALL
		SELECT v.post_id, r.id, r.cycle, v.rank, coalesce(r.finished_at, r.started_at)
		FROM cull_victims v JOIN cull_runs r ON r.id = v.run_id JOIN posts p ON p.id = v.post_id
		WHERE v.post_id = ANY($1) AND r.settled_at IS NULL AND p.status = 'ready'`, ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var c Culled
		if err := rows.Scan(&id, &c.RunID, &c.Cycle, &c.Rank, &c.At); err != nil {
			rows.Close()
			return nil, err
		}
		c.At = c.At.UTC()
		out[id] = c
	}
	return out, rows.Err()
}
