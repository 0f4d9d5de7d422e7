package cull

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// settleSQL settles part of run $1: its victims of ranks $2 get the posts
// rows that say so — status `culled`, the run and rank, and the rank
// version the cull recorded (or one more than the row's, for a post a
// rating reached after the cull's commit and before this). A row no longer
// `ready` (a post removed since) is left alone, and so is a post already
// settled: settling again changes nothing. The victims' media files, read
// here from the rows, are recorded on their cull_victims rows for the
// media step, and so is a version that moved (both halves look the batch's
// rows up by the run's key: joined on rank alone, the planner read every
// victim of the run for each batch). Returns how many rows it marked and
// the posts whose version moved: the boards may hold those at the version
// their rating left, which the board step (done before settling, at the
// recorded versions) did not beat.
const settleSQL = `WITH v AS (SELECT post_id, rank, rank_version FROM cull_victims
		WHERE run_id = $1 AND rank = ANY($2::int[])),
	u AS (UPDATE posts p SET status = 'culled', culled_run_id = $1, culled_rank = v.rank, updated_at = now(),
			rank_version = greatest(p.rank_version + 1, v.rank_version), rank_changed_at = now()
		FROM v WHERE p.id = v.post_id AND p.status = 'ready'
		RETURNING p.id, v.rank, p.rank_version, v.rank_version AS recorded,
			array_remove(ARRAY[p.original, p.display, p.thumb, p.poster], '') AS files),
	f AS (UPDATE cull_victims c SET files = u.files, rank_version = u.rank_version FROM u
		WHERE c.run_id = $1 AND c.rank = ANY($2::int[]) AND c.rank = u.rank
			AND (u.files <> '{}' OR u.rank_version IS DISTINCT FROM u.recorded))
	SELECT (SELECT count(*) FROM u), coalesce((SELECT array_agg(id) FROM u WHERE rank_version IS DISTINCT FROM recorded), '{}')`

// settleBatch is how many victims one settling transaction marks: each
// holds the row locks of its posts (a rating of one waits) for about
// 50 µs a post on the benchmark machine, so a batch holds them for a
// tenth of a second or so.
const settleBatch = 2000

// settle marks run runID's victims culled in their posts rows, a batch per
// transaction, and stamps the run settled; from then on the rows say what
// cull_victims said since the cull (store.CullPending). Batches go in post
// id order: a batch's rows then sit on neighbouring pages of posts, and
// settling a run of 100,000 victims took about a third less time than in
// rank order (the key's). Posts whose rank version moved after the cull
// (see settleSQL) may be back on the boards at that version: they are
// taken off again, at the version settling gave them.
func (s *Service) settle(ctx context.Context, runID int64) error {
	began := time.Now()
	rows, err := s.db.Query(ctx, `SELECT rank FROM cull_victims WHERE run_id = $1 ORDER BY post_id`, runID)
	if err != nil {
		return fmt.Errorf("cull: settling run %d: %w", runID, err)
	}
	ranks, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("cull: settling run %d: %w", runID, err)
	}
	var moved []int64
	marked := 0
	for start := 0; start < len(ranks); start += settleBatch {
		var n int
		var ids []int64
		if err := s.db.QueryRow(ctx, settleSQL, runID, ranks[start:min(start+settleBatch, len(ranks))]).Scan(&n, &ids); err != nil {
			return fmt.Errorf("cull: settling run %d: %w", runID, err)
		}
		marked += n
		moved = append(moved, ids...)
	}
	if len(moved) > 0 && s.d.Boards != nil {
		if _, err := s.d.Boards.Unlist(ctx, moved); err != nil {
			return fmt.Errorf("cull: run %d: board removal of %d posts rated meanwhile: %w", runID, len(moved), err)
		}
	}
	if _, err := s.db.Exec(ctx, `UPDATE cull_runs SET settled_at = coalesce(settled_at, clock_timestamp()) WHERE id = $1`, runID); err != nil {
		return err
	}
	slog.Info("cull: victims marked culled in their rows", "run", runID, "posts", marked, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// settleUnsettled settles every finished run not settled yet — normally
// none (each run's follow-up settles it within seconds); a run whose
// follow-up lags or was lost — the way the follow-up does, and takes the
// posts whose version moved off the boards again.
func (s *Service) settleUnsettled(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM cull_runs WHERE settled_at IS NULL AND finished_at IS NOT NULL ORDER BY id`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, id := range ids {
		slog.Info("cull: an earlier run is not settled yet; settling it first", "run", id)
		if err := s.settle(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
