package ranking

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/store"
)

// Ready reports whether Redis holds complete boards (a rebuild finished
// since Redis last lost its data).
func (s *Service) Ready(ctx context.Context) bool {
	n, err := s.rdb.Exists(ctx, s.k.ready()).Result()
	return err == nil && n == 1
}

// Run keeps Redis in line with PostgreSQL until ctx ends: it rebuilds every
// board when Redis is empty or was flushed, and every interval re-applies
// the posts changed recently (whatever a failed update left behind) and
// refills the capped boards that shrank (see cap.go).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now().Add(-time.Hour)
	for {
		if err := s.dropLegacy(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("ranking: clearing boards of the old format failed; retrying", "err", err)
		}
		if !s.Ready(ctx) {
			started := time.Now()
			if err := s.Rebuild(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("ranking: rebuild failed; retrying", "err", err)
			} else if err == nil && s.Ready(ctx) {
				lastReconcile.Store(started.UnixNano())
			}
		} else {
			started := time.Now()
			if n, err := s.Reconcile(ctx, last.Add(-2*interval)); err != nil && ctx.Err() == nil {
				slog.Warn("ranking: reconcile failed", "err", err)
			} else {
				last = started
				reconcileSeconds.Set(time.Since(started).Seconds())
				lastReconcile.Store(started.UnixNano())
				if n > 0 {
					slog.Debug("ranking: reconciled", "posts", n)
				}
			}
			if err := s.maintainBoards(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("ranking: trimming or refilling capped boards failed; retrying", "err", err)
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
// version-guarded, so this changes nothing that is already right; what it
// does apply is announced: when the reconcile reads a rating's commit and
// writes it before the rating's own writer, that writer finds its version
// applied already and stays silent, so the reconcile must speak for it.
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
		if err := s.syncIDs(ctx, ids[start:min(start+500, len(ids))], true); err != nil {
			return start, err
		}
	}
	return len(ids), nil
}

// Rebuild fills every board from PostgreSQL. One node rebuilds at a time
// (a Redis lock); the others keep reading from PostgreSQL meanwhile. Posts
// are applied one by one as a rating applies them, so each post board
// keeps its top as it fills and ends with its floor (after a flush, which
// took the floors with the boards, it starts from none).
func (s *Service) Rebuild(ctx context.Context) error {
	l, ok, err := s.lock(ctx, "rebuild")
	if err != nil || !ok {
		return err // another node is rebuilding
	}
	defer l.release(context.WithoutCancel(ctx))
	start := time.Now()
	var after int64
	n := 0
	for {
		// Still ours? Redis may have lost its data (and the lock) since,
		// and another node may be rebuilding from the start: stop.
		if err := l.renew(ctx); err != nil {
			return err
		}
		rows, err := s.db.Query(ctx, selectRow+`WHERE p.id > $1 AND `+store.Ready("p")+` ORDER BY p.id LIMIT 1000`, after)
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
	if err := l.renew(ctx); err != nil {
		return err
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT author_id FROM posts p WHERE p.status = 'culled' OR (p.status = 'ready' AND `+store.CullPending("p")+`)`)
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
	// The authors of the posts applied above may still be waiting for the
	// flusher (creatorsChanged defers them while ratings are queued): the
	// creators board must be whole before it is marked ready.
	if err := s.creatorsChanged(ctx, nil, true); err != nil {
		return err
	}
	// If Redis lost its data while we worked, the lock is gone with it (or
	// another node's by now) and the boards are incomplete: they are marked
	// ready only while the lock is still this rebuild's. The value is
	// unique per rebuild: page caches key on it (Generation).
	if err := l.markReady(ctx, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
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
// a FLUSHALL would do to the ranking's keys (the boards' floors go with the
// version hash, after the boards), under the rebuild lock, and deletes
// rank:v last, so a clearing that stops half-way is done again.
// Meanwhile reads come from PostgreSQL, as after a flush.
func (s *Service) dropLegacy(ctx context.Context) error {
	legacy := s.k.p + "rank:v"
	if n, err := s.rdb.Exists(ctx, legacy).Result(); err != nil || n == 0 {
		return err
	}
	l, ok, err := s.lock(ctx, "clearing the old format")
	if err != nil || !ok {
		return err // another node is at it
	}
	defer l.release(context.WithoutCancel(ctx))
	slog.Info("ranking: boards of the old format found; clearing them for a rebuild")
	if err := s.rdb.Del(ctx, s.k.ready()).Err(); err != nil {
		return err
	}
	for _, pattern := range []string{s.k.p + "board:*", s.k.p + "rank:m:*"} {
		iter := s.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := l.renew(ctx); err != nil {
					return err
				}
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
	return s.rdb.Unlink(ctx, s.k.versions(), s.k.gen(), s.k.floor(), s.k.wfloor(), legacy+":gen", legacy).Err()
}

// rebuildLock is one node's hold on the rebuild lock (keys.lock): its value
// is a token of this holder's own, so that a holder whose lock expired or
// was flushed away can neither mark another holder's boards ready nor
// release another holder's lock.
type rebuildLock struct {
	s     *Service
	token string
}

// lockTTL bounds how long a crashed holder blocks the others' rebuild
// (boards are served from PostgreSQL meanwhile); a rebuild renews the lock
// after every batch of a thousand posts, which takes well under a second.
// It was a minute: a node killed mid-rebuild kept the boards down that long.
const lockTTL = 15 * time.Second

// errLockLost stops a rebuild whose lock is no longer its own.
var errLockLost = errors.New("ranking: the rebuild lock was lost (Redis lost its data, or the lock expired); the boards are rebuilt again")

// lock takes the rebuild lock for what, if no one holds it.
func (s *Service) lock(ctx context.Context, what string) (*rebuildLock, bool, error) {
	l := &rebuildLock{s: s, token: what + " " + strconv.FormatInt(time.Now().UnixNano(), 36) + " " + strconv.FormatUint(rand.Uint64(), 36)}
	ok, err := s.rdb.SetNX(ctx, s.k.lock(), l.token, lockTTL).Result()
	return l, ok, err
}

// lockScript runs an action only while KEYS[1] holds ARGV[1] (the token):
// ARGV[2] "renew" (ARGV[3] milliseconds), "release", or "ready" (set
// KEYS[2] to ARGV[3]). Returns 1 if it did, 0 if the lock is not ours.
var lockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'renew' then redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[2] == 'release' then redis.call('DEL', KEYS[1])
elseif ARGV[2] == 'ready' then redis.call('SET', KEYS[2], ARGV[3]) end
return 1
`)

func (l *rebuildLock) run(ctx context.Context, op string, arg any) error {
	n, err := lockScript.Run(ctx, l.s.rdb, []string{l.s.k.lock(), l.s.k.ready()}, l.token, op, arg).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return errLockLost
	}
	return nil
}

func (l *rebuildLock) renew(ctx context.Context) error {
	return l.run(ctx, "renew", lockTTL.Milliseconds())
}

// markReady marks the boards complete, with value, if the lock is still ours.
func (l *rebuildLock) markReady(ctx context.Context, value string) error {
	return l.run(ctx, "ready", value)
}

// release gives the lock up if it is still ours.
func (l *rebuildLock) release(ctx context.Context) {
	if err := l.run(ctx, "release", ""); err != nil && !errors.Is(err, errLockLost) {
		slog.Warn("ranking: releasing the rebuild lock failed; it expires by itself", "err", err)
	}
}
