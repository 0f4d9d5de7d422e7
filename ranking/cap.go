package ranking

// Capped boards: each post board keeps its top posts in Redis, at most the
// cap, and a floor (see keys in boards.go for the invariant and why).
//
// A board shrinks below its cap when posts leave its top (culled, removed,
// rated below its floor). Run refills every board that has a floor and
// fewer than half its cap of members (the hysteresis spares a board that
// loses a post now and then a refill after every loss). A refill runs under
// the rebuild lock, so never during a rebuild nor two at once, and every
// script of it checks that the lock is still its own. Two floors keep it
// right while ratings go on: the write floor, which syncScript uses to
// decide whether a post goes in, and the (read) floor, the only one reads
// trust. In steps:
//
//  1. From PostgreSQL, the score of the board's (cap+1)-th post in board
//     order is the target t (no such post: the board fits whole, t = −inf).
//  2. A script sets the write floor to t, if t is below the floor. From
//     then on every sync lets a post in above t, so no post that moves
//     above t from now on is missed.
//  3. Then the board's top cap+1 posts are read from PostgreSQL, their rows
//     loaded (version, histogram, tags), and each is put in, refillPerCall
//     posts a script call, only if rank:pv holds exactly the version loaded
//     and this board, and its score is above the write floor: its own sync
//     applied that version, maybe before step 2 with the higher floor, and
//     so may have left it out. A post at another version is left to its own
//     sync, which ran or runs after step 2 and so decides with the write
//     floor. (A sync stores the post's scores in PostgreSQL before it
//     applies them, so a post synced before step 2 is read here with that
//     version's score or a newer version.)
//  4. A script makes the write floor the floor and deletes the write floor;
//     if step 3's read was full, the floor is at least the score of its
//     last post: posts that rose above t between steps 1 and 3 may have
//     pushed others above t out of that read, while every post above its
//     last one is in it. Members at or below the new floor go, so the
//     sorted set is again exactly the board above its floor.
//
// Trimming (a board over its cap drops its lowest posts) raises the write
// floor with the floor, so a board that fills up during a refill stays
// right; a refill that died half-way leaves a write floor behind, which the
// next holder of the lock drops (abandonScript).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/store"
)

// DefaultBoardCap is how many posts each post board keeps in Redis unless
// SetBoardCap says otherwise (BOARD_CAP).
const DefaultBoardCap = 10000

const (
	// refillPerCall is how many posts one refill script call puts in: a
	// hash read and a ZADD each, a fraction of a millisecond of Redis.
	refillPerCall = 200
	// trimPerSync bounds how many posts one sync drops from a board over
	// its cap (normally one: it put one in); trimPerCall how many one call
	// of trimScript drops. A board far over the cap (the cap was lowered,
	// or the boards predate caps) is trimmed by Run in calls of
	// trimPerCall, not by the next sync at once: a ZPOPMIN of 990,000
	// members would hold Redis for most of a second.
	trimPerSync = 256
	trimPerCall = 1000
)

// SetBoardCap sets how many posts each post board keeps in Redis (at least
// 1); the creators board is whole whatever the cap. Call it once at
// start-up, before Start and Run. Nodes with different caps are still
// right (floors keep reads right whatever trimmed the boards), only
// wasteful.
func (s *Service) SetBoardCap(k int) { s.boardCap.Store(int64(max(k, 1))) }

func (s *Service) cap() int64 { return s.boardCap.Load() }

// fmtScore writes a board score for Redis: exactly, or "-inf".
func fmtScore(f float64) string {
	if math.IsInf(f, -1) {
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// refillStartScript is a refill's step 2.
// KEYS[1] the floors, KEYS[2] the write floors, KEYS[3] the rebuild lock.
// ARGV[1] the lock's token, ARGV[2] the board's name, ARGV[3] the target
// floor ("-inf": the board fits whole). Returns -1 if the lock is not ours,
// 0 if the board needs no refill (no floor, or one at or below the target:
// Redis is behind PostgreSQL, which the reconcile repairs), 1 once the
// write floor is the target.
var refillStartScript = redis.NewScript(luaFloors + `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
local f = redis.call('HGET', KEYS[1], ARGV[2])
if not f or num(ARGV[3]) >= num(f) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`)

// refillScript is a refill's step 3 for a batch of posts.
// KEYS[1] the version hash, KEYS[2] the floors, KEYS[3] the write floors,
// KEYS[4] the board, KEYS[5] the generation, KEYS[6] the rebuild lock.
// ARGV[1] the lock's token, ARGV[2] the board's name, ARGV[3] the cap, then
// per post ARGV[i] its id, ARGV[i+1] the version loaded, ARGV[i+2] its
// score on the board at that version. Returns -1 if the lock is not ours,
// -2 if the board has no write floor (no refill is under way), else how
// many posts it put in.
var refillScript = redis.NewScript(luaParse + luaFloors + `
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return -1 end
local w = redis.call('HGET', KEYS[3], ARGV[2])
if not w then return -2 end
local cap, n, trimmed = tonumber(ARGV[3]), 0, false
for i = 4, #ARGV, 3 do
  local cur, on = parse(redis.call('HGET', KEYS[1], ARGV[i]))
  if cur == tonumber(ARGV[i+1]) and has(on, ARGV[2]) and tonumber(ARGV[i+2]) > num(w) then
    redis.call('ZADD', KEYS[4], ARGV[i+2], ARGV[i])
    n = n + 1
    if trim(KEYS[4], ARGV[2], cap, KEYS[2], KEYS[3], ` + strconv.Itoa(trimPerSync) + `) then
      trimmed = true
      w = redis.call('HGET', KEYS[3], ARGV[2])
    end
  end
end
if trimmed then redis.call('INCR', KEYS[5]) end
return n
`)

// refillEndScript is a refill's step 4.
// KEYS[1] the floors, KEYS[2] the write floors, KEYS[3] the board, KEYS[4]
// the generation, KEYS[5] the rebuild lock. ARGV[1] the lock's token,
// ARGV[2] the board's name, ARGV[3] the least the floor may be ("-inf":
// step 3 read the whole board). Returns -1 if the lock is not ours, -2 if
// the board has no write floor, 1 once done.
var refillEndScript = redis.NewScript(luaFloors + `
if redis.call('GET', KEYS[5]) ~= ARGV[1] then return -1 end
local w = redis.call('HGET', KEYS[2], ARGV[2])
if not w then return -2 end
redis.call('HDEL', KEYS[2], ARGV[2])
if num(ARGV[3]) > num(w) then w = ARGV[3] end
if w == '-inf' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], w)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', w)
end
redis.call('INCR', KEYS[4])
return 1
`)

// abandonScript drops the write floor of a refill that died half-way (its
// node stopped, or lost the lock): syncs go back to the floor, and the
// members at or below the floor, which that refill let in and reads never
// trusted, go.
// KEYS[1] the floors, KEYS[2] the write floors, KEYS[3] the board, KEYS[4]
// the rebuild lock. ARGV[1] the lock's token, ARGV[2] the board's name.
// Returns -1 if the lock is not ours, else 1.
var abandonScript = redis.NewScript(`
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return -1 end
redis.call('HDEL', KEYS[2], ARGV[2])
local f = redis.call('HGET', KEYS[1], ARGV[2])
if f then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', f) end
return 1
`)

// trimScript drops up to ARGV[4] of the lowest members of a board over the
// cap, as syncScript does after adding a post.
// KEYS[1] the board, KEYS[2] the floors, KEYS[3] the write floors, KEYS[4]
// the generation, KEYS[5] the rebuild lock. ARGV[1] the lock's token,
// ARGV[2] the board's name, ARGV[3] the cap, ARGV[4] the most to drop.
// Returns -1 if the lock is not ours, else how many members the board
// still holds over the cap.
var trimScript = redis.NewScript(luaFloors + `
if redis.call('GET', KEYS[5]) ~= ARGV[1] then return -1 end
local cap = tonumber(ARGV[3])
if trim(KEYS[1], ARGV[2], cap, KEYS[2], KEYS[3], tonumber(ARGV[4])) then
  redis.call('INCR', KEYS[4])
end
return math.max(redis.call('ZCARD', KEYS[1]) - cap, 0)
`)

// errRefillGone stops a refill whose write floor went while the lock was
// still its own (nothing in the package does that).
var errRefillGone = errors.New("ranking: a refill's write floor went while it ran")

// scriptStatus turns a lock-guarded script's reply into an error.
func scriptStatus(n int, err error) (int, error) {
	switch {
	case err != nil:
		return n, err
	case n == -1:
		return n, errLockLost
	case n == -2:
		return n, errRefillGone
	}
	return n, nil
}

// maintainBoards is Run's care of the capped boards after each reconcile
// pass: once per process it trims the boards that are over the cap, and
// it refills every board with a floor that holds fewer than half its cap.
// It takes the rebuild lock only when there is work, and skips a pass
// while another node holds it.
func (s *Service) maintainBoards(ctx context.Context) error {
	k := s.cap()
	due, refilling, err := s.boardsDue(ctx, k)
	if err != nil {
		return err
	}
	if len(due) == 0 && !refilling && s.trimmed.Load() {
		return nil
	}
	l, ok, err := s.lock(ctx, "refill")
	if err != nil || !ok {
		return err
	}
	defer l.release(context.WithoutCancel(ctx))
	// What a refill left behind is stale now that the lock is ours.
	stale, err := s.rdb.HKeys(ctx, s.k.wfloor()).Result()
	if err != nil {
		return err
	}
	for _, name := range stale {
		if _, err := scriptStatus(abandonScript.Run(ctx, s.rdb, []string{s.k.floor(), s.k.wfloor(), s.k.board(name), s.k.lock()},
			l.token, name).Int()); err != nil {
			return err
		}
	}
	if !s.trimmed.Load() {
		if err := s.trimOversized(ctx, l, k); err != nil {
			return err
		}
		s.trimmed.Store(true)
	}
	// Again, under the lock: another node may have refilled meanwhile.
	if due, _, err = s.boardsDue(ctx, k); err != nil {
		return err
	}
	for _, name := range due {
		if err := s.refill(ctx, l, name, k); err != nil {
			return fmt.Errorf("refill of board %s: %w", name, err)
		}
	}
	return nil
}

// boardsDue returns the boards with a floor and fewer than k/2 members, and
// whether any board has a write floor (a refill is under way, or died).
func (s *Service) boardsDue(ctx context.Context, k int64) ([]string, bool, error) {
	pipe := s.rdb.Pipeline()
	floors := pipe.HKeys(ctx, s.k.floor())
	refills := pipe.HLen(ctx, s.k.wfloor())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, err
	}
	names := floors.Val()
	sort.Strings(names)
	if len(names) == 0 {
		return nil, refills.Val() > 0, nil
	}
	pipe = s.rdb.Pipeline()
	cards := make([]*redis.IntCmd, len(names))
	for i, name := range names {
		cards[i] = pipe.ZCard(ctx, s.k.board(name))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, err
	}
	var due []string
	for i, name := range names {
		if 2*cards[i].Val() < k {
			due = append(due, name)
		}
	}
	return due, refills.Val() > 0, nil
}

// refill brings board name back to its top k posts (see the steps above);
// l is the rebuild lock, held.
func (s *Service) refill(ctx context.Context, l *rebuildLock, name string, k int64) error {
	pending, err := store.CullsUnsettled(ctx, s.db)
	if err != nil {
		return err
	}
	sql, args, err := boardSQL(name, pending)
	if err != nil || sql == "" || fromPostgresOnly(name) || name == "creators" {
		return err
	}
	step := func(what string) {
		if s.refillStep != nil {
			s.refillStep(name, what)
		}
	}
	// 1. The target: the score of the (k+1)-th post.
	target := math.Inf(-1)
	var id int64
	var score float64
	a := append(slices.Clone(args), k)
	err = s.db.QueryRow(ctx, sql+` LIMIT 1 OFFSET $`+strconv.Itoa(len(a)), a...).Scan(&id, &score)
	switch {
	case err == nil:
		target = BoardScore(score, id)
	case !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	// 2. The write floor.
	n, err := scriptStatus(refillStartScript.Run(ctx, s.rdb, []string{s.k.floor(), s.k.wfloor(), s.k.lock()},
		l.token, name, fmtScore(target)).Int())
	if err != nil || n == 0 {
		return err
	}
	step("started")
	// 3. The top k+1 posts, read after step 2.
	a = append(slices.Clone(args), k+1)
	rows, err := s.db.Query(ctx, sql+` LIMIT $`+strconv.Itoa(len(a)), a...)
	if err != nil {
		return err
	}
	type entry struct {
		id    int64
		score float64
	}
	top, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
		var e entry
		err := r.Scan(&e.id, &e.score)
		return e, err
	})
	if err != nil {
		return err
	}
	least := math.Inf(-1)
	if int64(len(top)) == k+1 {
		least = BoardScore(top[k].score, top[k].id)
	}
	for start := 0; start < len(top); start += s.refillBatch {
		if err := l.renew(ctx); err != nil {
			return err
		}
		part := top[start:min(start+s.refillBatch, len(top))]
		ids := make([]int64, len(part))
		for i, e := range part {
			ids[i] = e.id
		}
		loaded, err := loadRows(ctx, s.db, ids)
		if err != nil {
			return err
		}
		argv := []any{l.token, name, k}
		for _, r := range loaded {
			if r.status != "ready" {
				continue
			}
			pl := place(r)
			if i := slices.Index(pl.boards, name); i >= 0 {
				argv = append(argv, r.id, r.version, pl.scores[i])
			}
		}
		step("batch")
		if _, err := scriptStatus(refillScript.Run(ctx, s.rdb,
			[]string{s.k.versions(), s.k.floor(), s.k.wfloor(), s.k.board(name), s.k.gen(), s.k.lock()}, argv...).Int()); err != nil {
			return err
		}
	}
	// 4. The write floor becomes the floor.
	_, err = scriptStatus(refillEndScript.Run(ctx, s.rdb, []string{s.k.floor(), s.k.wfloor(), s.k.board(name), s.k.gen(), s.k.lock()},
		l.token, name, fmtScore(least)).Int())
	return err
}

// trimOversized trims every post board over cap k (l, the rebuild lock, is
// held) in calls of trimPerCall posts.
func (s *Service) trimOversized(ctx context.Context, l *rebuildLock, k int64) error {
	base := s.k.board("")
	var names []string
	iter := s.rdb.Scan(ctx, 0, base+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if name := strings.TrimPrefix(iter.Val(), base); name != "creators" {
			names = append(names, name)
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for _, name := range names {
		for calls := 1; ; calls++ {
			over, err := scriptStatus(trimScript.Run(ctx, s.rdb, []string{s.k.board(name), s.k.floor(), s.k.wfloor(), s.k.gen(), s.k.lock()},
				l.token, name, k, trimPerCall).Int())
			if err != nil {
				return err
			}
			if over == 0 {
				break
			}
			if calls%50 == 0 {
				if err := l.renew(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
