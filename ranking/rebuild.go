package ranking

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ready reports whether Redis holds complete boards (a rebuild finished
// since Redis last lost its data).
func (s *Service) Ready(ctx context.Context) bool {
	n, err := s.rdb.Exists(ctx, s.k.ready()).Result()
	return err == nil && n == 1
}

// Run keeps Redis in line with PostgreSQL until ctx ends: it rebuilds every
// board when Redis is empty or was flushed, and every interval re-applies
// the posts changed recently (whatever a failed update left behind).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now().Add(-time.Hour)
	for {
		if err := s.dropLegacy(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("ranking: clearing boards of the old format failed; retrying", "err", err)
		}
		if !s.Ready(ctx) {
			if err := s.Rebuild(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("ranking: rebuild failed; retrying", "err", err)
			}
		} else {
			started := time.Now()
			if n, err := s.Reconcile(ctx, last.Add(-2*interval)); err != nil && ctx.Err() == nil {
				slog.Warn("ranking: reconcile failed", "err", err)
			} else {
				last = started
				reconcileLag.Set(time.Since(started).Seconds())
				if n > 0 {
					slog.Debug("ranking: reconciled", "posts", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile re-applies every post changed or deleted since the given time
// (deleted ones are found by their tombstones). Applying is
// version-guarded, so this changes nothing that is already right.
func (s *Service) Reconcile(ctx context.Context, since time.Time) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM posts WHERE rank_changed_at >= $1
		UNION SELECT post_id FROM post_tombstones WHERE deleted_at >= $1 ORDER BY 1`, since)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(ids); start += 500 {
		if err := s.syncIDs(ctx, ids[start:min(start+500, len(ids))], false); err != nil {
			return start, err
		}
	}
	return len(ids), nil
}

// Rebuild fills every board from PostgreSQL. One node rebuilds at a time
// (a Redis lock); the others keep reading from PostgreSQL meanwhile.
func (s *Service) Rebuild(ctx context.Context) error {
	ok, err := s.rdb.SetNX(ctx, s.k.lock(), time.Now().String(), 5*time.Minute).Result()
	if err != nil || !ok {
		return err // another node is rebuilding
	}
	defer s.rdb.Del(context.WithoutCancel(ctx), s.k.lock())
	start := time.Now()
	var after int64
	n := 0
	for {
		rows, err := s.db.Query(ctx, selectRow+`WHERE p.id > $1 AND p.status = 'ready' ORDER BY p.id LIMIT 1000`, after)
		if err != nil {
			return err
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (postRow, error) { return scanRow(r) })
		if err != nil {
			return err
		}
		if len(list) == 0 {
			break
		}
		if err := s.storeScores(ctx, list); err != nil {
			return err
		}
		if err := s.apply(ctx, list, false); err != nil {
			return err
		}
		after = list[len(list)-1].id
		n += len(list)
	}
	// Creators with laughs (posts' authors were updated above, but a
	// creator whose posts were all culled still counts).
	rows, err := s.db.Query(ctx, `SELECT DISTINCT author_id FROM posts WHERE status = 'culled'`)
	if err != nil {
		return err
	}
	authors, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if err := s.updateCreators(ctx, authors); err != nil {
		return err
	}
	// If Redis lost its data while we worked, the lock is gone with it and
	// the boards are incomplete: do not call them ready; the loop rebuilds.
	if n, err := s.rdb.Exists(ctx, s.k.lock()).Result(); err != nil || n == 0 {
		return fmt.Errorf("ranking: Redis lost its data during the rebuild (%v)", err)
	}
	// The value is unique per rebuild: page caches key on it (Generation).
	if err := s.rdb.Set(ctx, s.k.ready(), time.Now().UTC().Format(time.RFC3339Nano), 0).Err(); err != nil {
		return err
	}
	rebuilds.Inc()
	slog.Info("ranking: boards rebuilt from PostgreSQL", "posts", n, "took", time.Since(start).Round(time.Millisecond))
	for _, b := range []string{"hot", "new", "top:all", "creators"} {
		s.announce.BoardChanged(ctx, b)
	}
	return nil
}

// dropLegacy clears boards written in the format before rank:pv (bare
// versions in rank:v, a set rank:m:<id> per post) so that they are rebuilt:
// the new scripts cannot tell which boards those posts are on. It does what
// a FLUSHALL would do to the ranking's keys, under the rebuild lock, and
// deletes rank:v last, so a clearing that stops half-way is done again.
// Meanwhile reads come from PostgreSQL, as after a flush.
func (s *Service) dropLegacy(ctx context.Context) error {
	legacy := s.k.p + "rank:v"
	if n, err := s.rdb.Exists(ctx, legacy).Result(); err != nil || n == 0 {
		return err
	}
	ok, err := s.rdb.SetNX(ctx, s.k.lock(), "clearing the old format", 5*time.Minute).Result()
	if err != nil || !ok {
		return err // another node is at it
	}
	defer s.rdb.Del(context.WithoutCancel(ctx), s.k.lock())
	slog.Info("ranking: boards of the old format found; clearing them for a rebuild")
	if err := s.rdb.Del(ctx, s.k.ready()).Err(); err != nil {
		return err
	}
	for _, pattern := range []string{s.k.p + "board:*", s.k.p + "rank:m:*"} {
		iter := s.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
		}
	}
	return s.rdb.Unlink(ctx, s.k.versions(), s.k.versions()+":gen", legacy+":gen", legacy).Err()
}
