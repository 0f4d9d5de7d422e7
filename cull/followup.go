package cull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/ranking"
)

// filesAtOnce is how many media files the follow-up collects in parallel.
const filesAtOnce = 4

// Followup does the work that follows run runID, each step stamped on the
// run when done so that a retry (the task was lost, or its worker died)
// picks up where it stopped and repeats nothing that must not be repeated:
//
//  1. boards: the victims leave every board in Redis, in batches
//     (ranking.Unlist; idempotent and version-guarded);
//  2. announcements: PostsCulled and DangerChanged (at least once);
//  3. settling: the victims' posts rows are marked `culled`, in batches
//     (settle; the cull's transaction only recorded them, which already
//     made them culled for every reader: store.CullPending);
//  4. notifications: one `culled` notification per victim, written in the
//     transaction that stamps the step (exactly once);
//  5. the danger zone is recomputed for the next cycle (CheckDanger);
//  6. media: culled posts keep their caption, stats and comments (their
//     page says where they fell) but not their files: the posts let go of
//     them (the posts_garbage trigger queues them for collection) and each
//     is deleted unless another post or a profile uses it.
//
// It never culls anything, and a run whose follow-up is done is a no-op.
func (s *Service) Followup(ctx context.Context, runID int64) error {
	var steps struct{ boards, announced, settled, notified, danger, media, done *time.Time }
	var cycle int64
	err := s.db.QueryRow(ctx, `SELECT cycle, boards_done_at, announced_at, settled_at, notified_at, danger_done_at, media_done_at, followup_done_at
		FROM cull_runs WHERE id = $1 AND finished_at IS NOT NULL`, runID).
		Scan(&cycle, &steps.boards, &steps.announced, &steps.settled, &steps.notified, &steps.danger, &steps.media, &steps.done)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNoRun
	} else if err != nil || steps.done != nil {
		return err
	}
	stamp := func(col string) error {
		_, err := s.db.Exec(ctx, `UPDATE cull_runs SET `+col+` = coalesce(`+col+`, clock_timestamp()) WHERE id = $1`, runID)
		return err
	}
	var ids, versions []int64
	if steps.boards == nil {
		if s.d.Boards == nil {
			return fmt.Errorf("cull: follow-up of run %d needs the boards", runID)
		}
		began := time.Now()
		var n int
		if ids, versions, n, err = s.unlistVictims(ctx, runID); err != nil {
			return fmt.Errorf("cull: run %d: board removal: %w", runID, err)
		}
		slog.Info("cull: victims taken off the boards", "run", runID, "victims", len(ids), "moved", n, "took", time.Since(began).Round(time.Millisecond))
		if err := stamp("boards_done_at"); err != nil {
			return err
		}
	} else if steps.announced == nil {
		if ids, versions, err = s.victims(ctx, runID); err != nil {
			return err
		}
	}
	if steps.announced == nil {
		s.d.Announce.PostsCulled(ctx, runID, ids, versions)
		s.d.Announce.DangerChanged(ctx)
		if err := stamp("announced_at"); err != nil {
			return err
		}
	}
	if steps.settled == nil {
		if err := s.settle(ctx, runID); err != nil {
			return err
		}
	}
	if steps.notified == nil {
		if err := s.notifyVictims(ctx, runID, cycle); err != nil {
			return fmt.Errorf("cull: run %d: notifications: %w", runID, err)
		}
	}
	if steps.danger == nil {
		if _, err := s.CheckDanger(ctx); err != nil {
			return fmt.Errorf("cull: run %d: danger zone: %w", runID, err)
		}
		if err := stamp("danger_done_at"); err != nil {
			return err
		}
	}
	if steps.media == nil {
		if err := s.collectFiles(ctx, runID); err != nil {
			return fmt.Errorf("cull: run %d: media: %w", runID, err)
		}
		if err := stamp("media_done_at"); err != nil {
			return err
		}
	}
	return stamp("followup_done_at")
}

// victimsPerPage is how many victims readVictims reads at once: a few
// milliseconds of reading before Redis has work. A variable for tests.
var victimsPerPage = 5000

// readVictims returns a page of run runID's victims ranked below rank
// after, by rank, with the rank version each was culled at, and the last
// rank read. versions is nil if any victim of the page has none (a run
// recorded before versions were: its posts' versions are read again).
func (s *Service) readVictims(ctx context.Context, runID int64, after int) (ids, versions []int64, last int, err error) {
	rows, err := s.db.Query(ctx, `SELECT post_id, rank_version, rank FROM cull_victims WHERE run_id = $1 AND rank > $2
		ORDER BY rank LIMIT $3`, runID, after, victimsPerPage)
	if err != nil {
		return nil, nil, after, err
	}
	known := true
	last = after
	for rows.Next() {
		var id int64
		var v *int64
		if err := rows.Scan(&id, &v, &last); err != nil {
			rows.Close()
			return nil, nil, after, err
		}
		ids = append(ids, id)
		if v == nil {
			known = false
		} else {
			versions = append(versions, *v)
		}
	}
	if !known {
		versions = nil
	}
	return ids, versions, last, rows.Err()
}

// firstRank is below every victim's rank: a rank can be 0 or below, as
// the cull counts the ready posts in a statement before the one that
// ranks its victims, and posts that became ready in between rank below
// the count.
const firstRank = math.MinInt32

// unlistVictims takes run runID's victims off every board and returns them
// by rank with the versions they were culled at (versions nil: see
// readVictims). It reads them a page at a time while Redis takes the page
// before off the boards: read whole first, 100,000 victims kept Redis
// waiting about 90 ms.
func (s *Service) unlistVictims(ctx context.Context, runID int64) (ids, versions []int64, moved int, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make(chan ranking.PostVersions, 1)
	var readErr error
	legacy := false
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(parts)
		for after := firstRank; ; {
			var pids, pvs []int64
			pids, pvs, after, readErr = s.readVictims(rctx, runID, after)
			if readErr != nil || len(pids) == 0 {
				return
			}
			if pvs == nil {
				legacy = true
				return
			}
			ids, versions = append(ids, pids...), append(versions, pvs...)
			select {
			case parts <- ranking.PostVersions{IDs: pids, Versions: pvs}:
			case <-rctx.Done():
				readErr = rctx.Err()
				return
			}
		}
	}()
	moved, err = s.d.Boards.UnlistAtEach(rctx, parts)
	cancel()
	<-read
	if err != nil {
		return nil, nil, moved, err
	}
	if readErr != nil {
		return nil, nil, moved, readErr
	}
	if legacy {
		if ids, versions, err = s.victims(ctx, runID); err != nil {
			return nil, nil, moved, err
		}
		n, err := s.d.Boards.Unlist(ctx, ids)
		return ids, versions, moved + n, err
	}
	return ids, versions, moved, nil
}

// victims returns all of run runID's victims by rank, with their versions
// (nil: see readVictims).
func (s *Service) victims(ctx context.Context, runID int64) (ids, versions []int64, err error) {
	known := true
	for after := firstRank; ; {
		pids, pvs, last, err := s.readVictims(ctx, runID, after)
		if err != nil {
			return nil, nil, err
		}
		if len(pids) == 0 {
			break
		}
		known = known && pvs != nil
		ids, versions, after = append(ids, pids...), append(versions, pvs...), last
	}
	if !known {
		versions = nil
	}
	return ids, versions, nil
}

// notifyVictims writes one `culled` notification per victim whose post
// still exists, in the transaction that stamps the step, then announces
// them. A second call finds the step stamped and writes nothing.
func (s *Service) notifyVictims(ctx context.Context, runID, cycle int64) error {
	var notes []jokster.Notification
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		t, err := tx.Exec(ctx, `UPDATE cull_runs SET notified_at = clock_timestamp() WHERE id = $1 AND notified_at IS NULL`, runID)
		if err != nil || t.RowsAffected() == 0 {
			return err // another follow-up did it
		}
		rows, err := tx.Query(ctx, `INSERT INTO notifications (user_id, kind, data)
			SELECT p.author_id, $2, jsonb_build_object('post_id', v.post_id::text, 'caption', left(p.caption, 80), 'run_id', v.run_id::text,
				'cycle', $3::bigint, 'rank', v.rank, 'score', v.score)
			FROM cull_victims v JOIN posts p ON p.id = v.post_id WHERE v.run_id = $1 ORDER BY v.rank
			RETURNING id, user_id, data, created_at`, runID, NotifyCulled, cycle)
		if err != nil {
			return err
		}
		notes, err = collectNotes(rows, NotifyCulled)
		return err
	})
	if err == nil && s.d.Notify != nil {
		s.d.Notify.Announce(ctx, notes...)
	}
	return err
}

// collectFiles lets go of the victims' media files and deletes those that
// nothing uses any more, a few at a time. Both halves are idempotent (a
// post that let go already is left alone; Collect ignores a file no longer
// queued), so a retry repeats nothing harmful.
func (s *Service) collectFiles(ctx context.Context, runID int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE posts SET original = '', display = '', thumb = '', poster = ''
		WHERE id IN (SELECT post_id FROM cull_victims WHERE run_id = $1 AND files <> '{}')
		AND status = 'culled' AND (original <> '' OR display <> '' OR thumb <> '' OR poster <> '')`, runID); err != nil {
		return err
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT unnest(files) FROM cull_victims WHERE run_id = $1 AND files <> '{}'`, runID)
	if err != nil {
		return err
	}
	paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(paths) == 0 {
		return err
	}
	if s.d.Files == nil {
		return fmt.Errorf("%d files to collect and no collector", len(paths))
	}
	work := make(chan string)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(filesAtOnce, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := s.d.Files.Collect(ctx, p); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", p, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d files not collected: %w", len(errs), len(paths), errors.Join(errs...))
	}
	slog.Info("cull: media of the victims collected", "run", runID, "files", len(paths))
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
