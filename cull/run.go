package cull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
)

// SettingsDoc is how settings are recorded on a run and shown by the API.
type SettingsDoc struct {
	IntervalSeconds int64   `json:"interval_seconds"`
	GraceSeconds    int64   `json:"grace_seconds"`
	Share           float64 `json:"share"`
	Max             int     `json:"max"`
	Floor           int     `json:"floor"`
	Board           string  `json:"board"`
}

// Doc returns the settings as recorded.
func (s Settings) Doc() SettingsDoc {
	return SettingsDoc{IntervalSeconds: s.seconds(), GraceSeconds: int64(s.Grace / time.Second), Share: s.Share,
		Max: s.Max, Floor: s.Floor, Board: s.Board}
}

// Run is one recorded cull.
type Run struct {
	ID             int64
	Cycle          Cycle
	Cutoff         time.Time
	StartedAt      time.Time
	FinishedAt     *time.Time
	Settings       SettingsDoc
	Ready          int // ready posts before the cull
	Eligible       int // of those, created before the cutoff
	Victims        int
	FollowupDoneAt *time.Time
}

const selectRun = `SELECT id, cycle, cycle_start, cutoff, started_at, finished_at, settings, ready, eligible, victims, followup_done_at FROM cull_runs `

func scanRun(r pgx.Row) (Run, error) {
	var run Run
	err := r.Scan(&run.ID, &run.Cycle.Number, &run.Cycle.Start, &run.Cutoff, &run.StartedAt, &run.FinishedAt, &run.Settings,
		&run.Ready, &run.Eligible, &run.Victims, &run.FollowupDoneAt)
	run.Cycle.Start = run.Cycle.Start.UTC()
	return run, err
}

// ErrNoRun is returned for a run that does not exist.
var ErrNoRun = jokster.Errorf(jokster.ENOTFOUND, "no such cull run")

// cullSQL culls the quota in one statement: it picks the victims with
// bottomSQL ($1 cutoff, $2 ready posts, $3 the quota) and records each in
// cull_victims for run $4 with its rank, score and the rank version its
// row will have once settled (one more than now). That record is what
// culls them: the posts rows are left as they are, and until the
// follow-up settles the run (settleSQL) every read finds the victims
// through store.CullPending. Rewriting 10^5 scattered posts rows here cost
// 2–5 s; the statement now reads only the board's index and appends to
// cull_victims (docs/benchmarks.md). Rows are inserted in post id order,
// the order of cull_victims_post_idx: in rank order (the key's), 100,000
// rows took 470 ms against 400 ms (migration 00018).
func (s Settings) cullSQL(pending bool) string {
	return `WITH v AS MATERIALIZED (` + s.bottomSQL(pending) + ` LIMIT $3)
	INSERT INTO cull_victims (run_id, post_id, rank, score, rank_version)
		SELECT $4, id, rank, score, rank_version + 1 FROM v ORDER BY id`
}

// Cull runs cycle c unless it already ran, and returns the cycle's run and
// whether this call made it. Everything happens in one transaction: the
// cycle's row is claimed (a second claimant waits for the first to commit
// and then finds the row taken), the victims are chosen, marked and
// recorded, and so is the run with its numbers. A run under another
// interval due in this cycle or later makes the call a no-op (nothing
// culled, no run). Culls are serialised by an
// advisory lock, so each sees what the one before it did and the floor
// holds across them. With a floor, a cull also holds store.CullFloorLock
// exclusively, which removals and deletions (of a post or of an account
// with its posts) hold shared, so none of them commits between its count
// and its commit; a cull that other changes took below the floor while it
// ran anyway (a path that does not take the lock) is undone and planned
// again. Follow-up work is not done here: see
// Followup.
func (s *Service) Cull(ctx context.Context, c Cycle) (Run, bool, error) {
	began := time.Now()
	var created, skipped bool
	var err error
	// A cull undone because posts left `ready` while it ran (errFloorMoved)
	// is planned again at once, against the posts as they are now.
	// A run the follow-up has not settled yet (it is under way, or its
	// task was lost) is settled first, outside the cull's transaction and
	// its lock, in the follow-up's batches: the cull then takes every ready
	// row at its word (plan.Pending false) and its scan streams the board's
	// index. Should one still be pending (a follow-up failing as it
	// settles), the cull looks its victims up instead.
	if err := s.settleUnsettled(ctx); err != nil {
		return Run{}, false, fmt.Errorf("cull: cycle %d: %w", c.Number, err)
	}
	for attempt := 1; ; attempt++ {
		created, skipped, err = s.cullOnce(ctx, c)
		if !errors.Is(err, errFloorMoved) || attempt == 3 {
			break
		}
		slog.Info("cull: posts left ready while the cull ran, below the floor; culling again", "cycle", c.Number)
	}
	if skipped {
		slog.Info("cull: a run under another interval covers this cycle; not culling again", "cycle", c.Number,
			"interval", s.set.Interval)
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("cull: cycle %d: %w", c.Number, err)
	}
	run, err := scanRun(s.db.QueryRow(ctx, selectRun+`WHERE interval_s = $1 AND cycle = $2`, s.set.seconds(), c.Number))
	if err != nil {
		return Run{}, created, err
	}
	if created {
		took := time.Since(began)
		runsTotal.Inc()
		victimsTotal.Add(float64(run.Victims))
		cullSeconds.Observe(took.Seconds())
		slog.Info("cull: cycle culled", "cycle", c.Number, "run", run.ID, "ready", run.Ready, "eligible", run.Eligible,
			"victims", run.Victims, "cutoff", run.Cutoff, "took", took.Round(time.Millisecond))
	}
	return run, created, nil
}

// errFloorMoved undoes a cull that would leave fewer ready posts than the
// floor because others left `ready` between its plan and its statement
// without taking the floor lock (removals and deletions take it and wait):
// read committed gives each statement its own snapshot.
var errFloorMoved = errors.New("cull: ready posts fell below the floor while culling")

// cullOnce is one attempt of Cull, in one transaction: whether it created
// the cycle's run, and whether a run under another interval stands for it.
func (s *Service) cullOnce(ctx context.Context, c Cycle) (created, skipped bool, err error) {
	var runID int64
	var p plan
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockCull); err != nil {
			return err
		}
		// No remover (posts: Remove, Delete; account deletion) may commit
		// between the plan below and this commit: they hold the floor lock
		// shared, so this waits for those under way (and then counts what
		// they left) and the rest wait for the commit. That keeps the
		// floor, and it keeps every victim recorded here ready at the
		// commit: the cull no longer locks the victims' rows (cullSQL), so
		// nothing else would stop a post removed meanwhile from being
		// recorded as culled too. Taken before any post row is locked here
		// (storeMissingScores, settling), as the removers take it before
		// theirs: see store.CullFloorLock.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockFloor); err != nil {
			return err
		}
		// Sorting 10^5 victims and joining them to posts spilled to disk
		// with the default work_mem (4 MB): about 0.2 s of a large cull.
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return err
		}
		// A run under another interval (CULL_INTERVAL changed, or workers
		// of both settings run side by side during a deploy) due in this
		// cycle or later stands for it: a change of interval must not cull
		// again at once.
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cull_runs WHERE cycle_start >= $1 AND NOT (interval_s = $2 AND cycle = $3))`,
			c.Start, s.set.seconds(), c.Number).Scan(&skipped)
		if err != nil || skipped {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO cull_runs (cycle, interval_s, cycle_start, cutoff, settings)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (interval_s, cycle) DO NOTHING RETURNING id`,
			c.Number, s.set.seconds(), c.Start, s.set.Cutoff(c), s.set.Doc()).Scan(&runID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // this cycle ran already
		} else if err != nil {
			return err
		}
		created = true
		if err := storeMissingScores(ctx, tx); err != nil {
			return err
		}
		if p, err = s.makePlan(ctx, tx, c); err != nil {
			return err
		}
		victims := 0
		if s.beforeCull != nil {
			s.beforeCull()
		}
		if p.Quota > 0 {
			t, err := tx.Exec(ctx, s.set.cullSQL(p.Pending), p.Cutoff, p.Ready, p.Quota, runID)
			if err != nil {
				return err
			}
			victims = int(t.RowsAffected())
		}
		if victims > 0 && s.set.Floor > 0 {
			// The plan counted in an earlier snapshot than the cull's: check
			// the floor against what is ready now (this run's victims are
			// pending, so store.Ready leaves them out). The floor lock
			// keeps the removers out, so this only catches a post leaving
			// `ready` by a path that does not take it (none in this code
			// base; a hand-written UPDATE, say).
			var left int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM posts p WHERE `+store.Ready("p")).Scan(&left); err != nil {
				return err
			}
			if left < s.set.Floor {
				return errFloorMoved
			}
		}
		_, err = tx.Exec(ctx, `UPDATE cull_runs SET finished_at = clock_timestamp(), ready = $2, eligible = $3, victims = $4 WHERE id = $1`,
			runID, p.Ready, p.Eligible, victims)
		if err == nil && s.beforeCommit != nil {
			s.beforeCommit()
		}
		return err
	})
	return created && err == nil, skipped, err
}

// ErrTooEarly is returned by RunCycle for a cycle that has not started.
var ErrTooEarly = errors.New("cull: the cycle has not started yet")

// RunCycle runs cycle number n if it is the current one, then enqueues its
// follow-up. A cycle that is over is skipped: cycles missed while no worker
// ran are not made up one by one — the current one runs once, whenever a
// worker is back. A cycle that has not started yet is ErrTooEarly (the
// task is retried). It returns the run (zero when skipped) and whether this
// call culled.
func (s *Service) RunCycle(ctx context.Context, n int64) (Run, bool, error) {
	cur := s.set.CycleAt(s.d.Now())
	switch {
	case n > cur.Number:
		return Run{}, false, fmt.Errorf("%w: cycle %d starts at %s", ErrTooEarly, n, s.set.Cycle(n).Start.Format(time.RFC3339))
	case n < cur.Number:
		slog.Info("cull: skipping a cycle that is over (the current one runs instead)", "cycle", n, "current", cur.Number)
		return Run{}, false, nil
	}
	run, created, err := s.Cull(ctx, cur)
	if err != nil || !created {
		return run, created, err
	}
	if s.d.Queue != nil {
		if err := s.d.Queue.EnqueueCullFollowup(ctx, run.ID); err != nil {
			slog.Warn("cull: enqueue follow-up failed; the next tick re-enqueues it", "run", run.ID, "err", err)
		}
	}
	return run, true, nil
}

// Tick is the periodic check (every min(interval, 1m) on every worker): it
// enqueues the current cycle if it has not run (on time, or late after an
// outage — once), schedules the next cycle for its start, re-enqueues the
// follow-up of every run whose follow-up is not done (a lost task), and
// refreshes the danger zone. Task ids make repeated enqueues no-ops, and
// the cycle's row makes a repeated cull a no-op.
func (s *Service) Tick(ctx context.Context) error {
	cur := s.set.CycleAt(s.d.Now())
	var errs []error
	if s.d.Queue != nil {
		ran, err := s.ran(ctx, s.db, cur)
		if err != nil {
			return err
		}
		if !ran {
			errs = append(errs, s.d.Queue.EnqueueCull(ctx, s.set, cur, time.Time{}))
		}
		next := s.set.Cycle(cur.Number + 1)
		errs = append(errs, s.d.Queue.EnqueueCull(ctx, s.set, next, next.Start))
		rows, err := s.db.Query(ctx, `SELECT id FROM cull_runs WHERE followup_done_at IS NULL AND finished_at IS NOT NULL ORDER BY id LIMIT 100`)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		errs = append(errs, err)
		for _, id := range ids {
			errs = append(errs, s.d.Queue.EnqueueCullFollowup(ctx, id))
		}
	}
	_, err := s.CheckDanger(ctx)
	return errors.Join(append(errs, err)...)
}

// ran reports whether cycle c has its run: a run of this cycle, or any
// run, under whatever interval, due at or after the cycle's start (so that
// a change of CULL_INTERVAL does not cull again before the next cycle of
// the new interval).
func (s *Service) ran(ctx context.Context, q querier, c Cycle) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cull_runs WHERE cycle_start >= $1)`, c.Start).Scan(&ok)
	return ok, err
}

// NextCycle is the cycle the next cull belongs to: the current one if it
// has not run yet (it is due: a worker runs it within a tick), else the
// one after.
func (s *Service) NextCycle(ctx context.Context) (Cycle, error) {
	return s.nextCycle(ctx, s.db)
}

func (s *Service) nextCycle(ctx context.Context, q querier) (Cycle, error) {
	cur := s.set.CycleAt(s.d.Now())
	ran, err := s.ran(ctx, q, cur)
	if err != nil {
		return Cycle{}, err
	}
	if ran {
		return s.set.Cycle(cur.Number + 1), nil
	}
	return cur, nil
}
