package cull_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// queue records what the cull enqueues.
type queue struct {
	mu        sync.Mutex
	cycles    []int64
	at        []time.Time
	followups []int64
}

func (q *queue) EnqueueCull(_ context.Context, _ cull.Settings, c cull.Cycle, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cycles, q.at = append(q.cycles, c.Number), append(q.at, at)
	return nil
}

func (q *queue) EnqueueCullFollowup(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.followups = append(q.followups, id)
	return nil
}

// files records collected paths.
type files struct {
	mu    sync.Mutex
	paths []string
}

func (f *files) Collect(_ context.Context, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, p)
	return nil
}

type env struct {
	t      *testing.T
	ctx    context.Context
	db     *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	rank   *ranking.Service
	clock  *clock
	queue  *queue
	files  *files
	heard  *cull.Memory
	set    cull.Settings
	svc    *cull.Service
	author int64
}

// hourly is the settings most tests use: hourly cycles, a day's grace.
var hourly = cull.Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.2, Floor: 0, Board: "top"}

// newEnv is a database and Redis of the test's own, with the clock a
// minute into a cycle. rdb, if given, replaces testkit's Redis.
func newEnv(t *testing.T, set cull.Settings, rdb *redis.Client) *env {
	t.Helper()
	ctx := context.Background()
	db, _ := testkit.Pool(t)
	prefix := "t" + strconv.Itoa(rand.IntN(1e9)) + ":"
	if rdb == nil {
		rdb, _, prefix = testkit.Redis(t)
	}
	e := &env{t: t, ctx: ctx, db: db, rdb: rdb, prefix: prefix, clock: &clock{}, queue: &queue{}, files: &files{}, heard: &cull.Memory{}, set: set}
	e.clock.Set(time.Now().UTC().Truncate(set.Interval).Add(set.Interval / 60))
	e.rank = ranking.New(db, rdb, prefix, nil)
	e.svc = cull.New(db, set, cull.Deps{Boards: e.rank, Files: e.files, Queue: e.queue, Notify: notifications.New(db, nil),
		Announce: e.heard, Now: e.clock.Now})
	e.author = e.user("author")
	return e
}

func (e *env) user(name string) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(e.ctx, `INSERT INTO users (username, email, password_hash) VALUES ($1, $1 || '@example.com', 'x') RETURNING id`, name).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Exec(e.ctx, `INSERT INTO profiles (user_id) VALUES ($1)`, id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// post inserts a ready text post by author, age old (relative to the
// clock), with the given 5-star and 1-star counts.
func (e *env) post(author int64, age time.Duration, fives, ones int) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(e.ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h1, h5)
		VALUES ($1, 'joke', 'text', 'ready', $2, $3, $4) RETURNING id`, author, e.clock.Now().Add(-age), ones, fives).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// rebuild scores every post and fills the boards from PostgreSQL.
func (e *env) rebuild() {
	e.t.Helper()
	_ = e.rdb.Del(e.ctx, e.prefix+"rank:ready").Err()
	if err := e.rank.Rebuild(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// rate changes a post's histogram the way a rating does and syncs it.
func (e *env) rate(id int64, fives, ones int) {
	e.t.Helper()
	if _, err := e.db.Exec(e.ctx, `UPDATE posts SET h5 = h5 + $2, h1 = h1 + $3, rank_version = rank_version + 1, rank_changed_at = now() WHERE id = $1`,
		id, fives, ones); err != nil {
		e.t.Fatal(err)
	}
	e.rank.PostChanged(e.ctx, id)
}

func (e *env) ids(sql string, args ...any) []int64 {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, sql, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// cull runs the current cycle.
func (e *env) cull() (cull.Run, bool) {
	e.t.Helper()
	c := e.set.CycleAt(e.clock.Now())
	run, created, err := e.svc.RunCycle(e.ctx, c.Number)
	if err != nil {
		e.t.Fatal(err)
	}
	return run, created
}

// victims are the run's victims' post ids, best-ranked first.
func (e *env) victims(run int64) []int64 {
	return e.ids(`SELECT post_id FROM cull_victims WHERE run_id = $1 ORDER BY rank`, run)
}

// danger is the whole danger zone, best-ranked first.
func (e *env) danger() (cull.Zone, []int64) {
	e.t.Helper()
	z, err := e.svc.Danger(e.ctx, 0, 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]int64, len(z.Items))
	for i, it := range z.Items {
		ids[i] = it.PostID
	}
	return z, ids
}

func sorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestQuota(t *testing.T) {
	for _, c := range []struct {
		set             cull.Settings
		ready, eligible int
		want            int
	}{
		{cull.Settings{Share: 0.1}, 100, 100, 10},
		{cull.Settings{Share: 0.1}, 100, 9, 0},     // rounded down
		{cull.Settings{Share: 0.29}, 100, 100, 29}, // 0.29 × 100 is 28.999999999999996 in float64
		{cull.Settings{Share: 0.5, Max: 3}, 100, 100, 3},
		{cull.Settings{Share: 0.5, Floor: 95}, 100, 100, 5},
		{cull.Settings{Share: 0.5, Floor: 200}, 100, 100, 0},
		{cull.Settings{Share: 1}, 100, 40, 40},
		{cull.Settings{Share: 0}, 100, 100, 0},
	} {
		if got := c.set.Quota(c.ready, c.eligible); got != c.want {
			t.Errorf("%+v Quota(%d, %d) = %d, want %d", c.set, c.ready, c.eligible, got, c.want)
		}
	}
}

func TestCycles(t *testing.T) {
	set := cull.Settings{Interval: 30 * time.Second}
	at := time.Date(2026, 3, 1, 12, 0, 45, 0, time.UTC)
	c := set.CycleAt(at)
	if c.Number != at.Unix()/30 || !c.Start.Equal(time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)) {
		t.Fatalf("CycleAt = %+v", c)
	}
	if got := set.CycleAt(c.Start); got != c {
		t.Fatalf("a cycle's start belongs to it: %+v", got)
	}
	if got := set.CycleAt(c.Start.Add(-time.Nanosecond)); got.Number != c.Number-1 {
		t.Fatalf("just before the start is the cycle before: %+v", got)
	}
}

// The grace period, the share and the floor: the cull takes the lowest
// eligible posts, never a young one however low, never more than the share,
// never below the floor; it marks and records them in one go.
func TestCull_GraceShareFloor(t *testing.T) {
	e := newEnv(t, hourly, nil)
	var old, young []int64
	for i := range 30 {
		old = append(old, e.post(e.author, 48*time.Hour, i, 0)) // i five-star ratings: post i is worse than i+1
	}
	for range 10 {
		young = append(young, e.post(e.author, 23*time.Hour, 0, 50)) // much worse, but young
	}
	// The grace is measured from the cycle's start: a post 24h old at the
	// clock (a minute into the cycle) was 23h59m old at the start.
	young = append(young, e.post(e.author, 24*time.Hour, 0, 50))
	e.rebuild()

	run, created := e.cull()
	if !created {
		t.Fatal("the cycle did not run")
	}
	// ⌊0.2 × 30⌋ = 6 of the 30 eligible posts: the six worst old ones.
	if run.Ready != 41 || run.Eligible != 30 || run.Victims != 6 {
		t.Fatalf("run: ready %d, eligible %d, victims %d; want 41, 30, 6", run.Ready, run.Eligible, run.Victims)
	}
	got := e.victims(run.ID)
	if want := []int64{old[5], old[4], old[3], old[2], old[1], old[0]}; !slices.Equal(got, want) {
		t.Fatalf("victims %v, want %v", got, want)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE id = ANY($1) AND status <> 'ready'`, young); n != 0 {
		t.Fatalf("%d young posts culled", n)
	}
	// Each victim: culled at once — by its record, which every reader
	// consults (store.Status) before the follow-up marks its row — with
	// its recorded rank its place on the board (the 11 young posts rank
	// below every old one); then, once the follow-up has settled the run,
	// its row says so too: the run, the rank, its rank version bumped.
	checkVictims := func(settled bool) {
		t.Helper()
		rows, err := e.db.Query(e.ctx, `SELECT p.id, `+store.Status("p")+`, p.status, coalesce(p.culled_run_id, 0), coalesce(p.culled_rank, 0),
			p.rank_version, v.rank, v.score, p.score_top
			FROM posts p JOIN cull_victims v ON v.post_id = p.id WHERE v.run_id = $1 ORDER BY v.rank`, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for rows.Next() {
			var id, runID, version int64
			var status, row string
			var rank, vrank int
			var score, stored float64
			if err := rows.Scan(&id, &status, &row, &runID, &rank, &version, &vrank, &score, &stored); err != nil {
				t.Fatal(err)
			}
			if status != "culled" || vrank != 25+i || score != stored {
				t.Errorf("victim %d: status %s rank %d score %v/%v", id, status, vrank, score, stored)
			}
			if settled && (row != "culled" || runID != run.ID || rank != vrank || version < 2) {
				t.Errorf("victim %d settled: row %s run %d rank %d/%d version %d", id, row, runID, rank, vrank, version)
			}
			if !settled && (row != "ready" || runID != 0) {
				t.Errorf("victim %d before settling: row %s run %d", id, row, runID)
			}
			i++
		}
		if i != 6 {
			t.Fatalf("%d victims recorded", i)
		}
	}
	checkVictims(false)
	if n := e.count(`SELECT count(*) FROM posts p WHERE ` + store.Ready("p")); n != 35 {
		t.Fatalf("%d posts ready after the cull; want 35", n)
	}
	if err := e.svc.Followup(e.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	checkVictims(true)
	if n := e.count(`SELECT count(*) FROM posts WHERE status = 'ready'`); n != 35 {
		t.Fatalf("%d rows ready after settling; want 35", n)
	}

	// The floor: 35 ready posts are left; a floor of 33 allows only 2 more.
	e.svc = cull.New(e.db, cull.Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.5, Floor: 33, Board: "top"},
		cull.Deps{Boards: e.rank, Now: e.clock.Now})
	e.clock.Add(time.Hour)
	run, _ = e.cull()
	if run.Victims != 2 || e.count(`SELECT count(*) FROM posts p WHERE `+store.Ready("p")) != 33 {
		t.Fatalf("with a floor of 33: %d victims, %d ready", run.Victims, e.count(`SELECT count(*) FROM posts p WHERE `+store.Ready("p")))
	}
	// The cap.
	e.svc = cull.New(e.db, cull.Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.5, Max: 3, Board: "top"},
		cull.Deps{Boards: e.rank, Now: e.clock.Now})
	e.clock.Add(time.Hour)
	if run, _ = e.cull(); run.Victims != 3 {
		t.Fatalf("with a cap of 3: %d victims", run.Victims)
	}
}

// Ties: at equal score the older post goes first, the boards' tie-break
// read backwards; the recorded ranks are the posts' ranks on the Redis
// board; the hot board works the same way.
func TestCull_TieBreakMatchesTheBoards(t *testing.T) {
	for _, board := range []string{"top", "hot"} {
		t.Run(board, func(t *testing.T) {
			set := hourly
			set.Board, set.Share = board, 0.5
			e := newEnv(t, set, nil)
			created := e.clock.Now().Add(-48 * time.Hour)
			for i := range 20 {
				// Pairs of posts with the same histogram and creation time.
				var id int64
				if err := e.db.QueryRow(e.ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h5)
					VALUES ($1, 'tie', 'text', 'ready', $2, $3) RETURNING id`, e.author, created, i/2).Scan(&id); err != nil {
					t.Fatal(err)
				}
			}
			e.rebuild()
			key := e.prefix + "board:" + map[string]string{"top": "top:all", "hot": "hot"}[board]
			// The board from the bottom: its ten lowest, with their ranks.
			zs, err := e.rdb.ZRangeWithScores(e.ctx, key, 0, 9).Result()
			if err != nil {
				t.Fatal(err)
			}
			card := int(e.rdb.ZCard(e.ctx, key).Val())
			_, zone := e.danger()
			run, _ := e.cull()
			rows, err := e.db.Query(e.ctx, `SELECT post_id, rank FROM cull_victims WHERE run_id = $1 ORDER BY rank DESC`, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			type vr struct {
				id   int64
				rank int
			}
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vr, error) {
				var v vr
				return v, r.Scan(&v.id, &v.rank)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 10 {
				t.Fatalf("%d victims", len(got))
			}
			for i, z := range zs {
				id, _ := strconv.ParseInt(z.Member.(string), 10, 64)
				if got[i].id != id || got[i].rank != card-i {
					t.Fatalf("victim %d: post %d rank %d; the board's %d-th from the bottom is %d at rank %d", i, got[i].id, got[i].rank, i+1, id, card-i)
				}
			}
			// Within each tied pair the older (smaller id) went first.
			for i := 0; i+1 < len(got); i += 2 {
				if got[i].id > got[i+1].id {
					t.Fatalf("tie broken towards the newer post: %v", got)
				}
			}
			if want := sorted(e.victims(run.ID)); !slices.Equal(sorted(zone), want) {
				t.Fatalf("danger zone %v, victims %v", zone, want)
			}
		})
	}
}

// The same cycle run many times, at once, culls once.
func TestCull_OncePerCycle(t *testing.T) {
	e := newEnv(t, hourly, nil)
	for i := range 50 {
		e.post(e.author, 48*time.Hour, i%7, i%3)
	}
	e.rebuild()
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created := e.cull()
			if created {
				mu.Lock()
				made++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if made != 1 {
		t.Fatalf("%d calls culled; want exactly 1", made)
	}
	if n := e.count(`SELECT count(*) FROM cull_runs`); n != 1 {
		t.Fatalf("%d runs", n)
	}
	if n := e.count(`SELECT count(*) FROM posts p WHERE ` + store.Status("p") + ` = 'culled'`); n != 10 {
		t.Fatalf("%d culled; want ⌊0.2 × 50⌋ = 10", n)
	}
	if len(e.queue.followups) != 1 {
		t.Fatalf("follow-ups enqueued: %v", e.queue.followups)
	}
}

// Cycles missed while no worker ran are not made up: a stale cycle's task
// is skipped, the tick enqueues the current cycle once and schedules the
// next for its start; a cycle that has not started is refused.
func TestCull_MissedCyclesRunOnce(t *testing.T) {
	e := newEnv(t, hourly, nil)
	for i := range 20 {
		e.post(e.author, 48*time.Hour, i, 0)
	}
	e.rebuild()
	first := e.set.CycleAt(e.clock.Now())
	if _, created := e.cull(); !created {
		t.Fatal("first cycle did not run")
	}
	e.clock.Add(5*time.Hour + 20*time.Minute) // the workers were down for five cycles
	now := e.set.CycleAt(e.clock.Now())
	for n := first.Number + 1; n < now.Number; n++ {
		if run, created, err := e.svc.RunCycle(e.ctx, n); err != nil || created || run.ID != 0 {
			t.Fatalf("stale cycle %d: %+v %v %v", n, run, created, err)
		}
	}
	if _, _, err := e.svc.RunCycle(e.ctx, now.Number+1); err == nil {
		t.Fatal("a cycle that has not started ran")
	}
	if err := e.svc.Tick(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := []int64{now.Number, now.Number + 1}
	if !slices.Equal(e.queue.cycles, want) || !e.queue.at[0].IsZero() || !e.queue.at[1].Equal(e.set.Cycle(now.Number+1).Start) {
		t.Fatalf("tick enqueued cycles %v at %v; want %v, now and at the next start", e.queue.cycles, e.queue.at, want)
	}
	// The follow-up of the first run was never done: the tick re-enqueues it.
	if len(e.queue.followups) != 2 || e.queue.followups[0] != e.queue.followups[1] {
		t.Fatalf("follow-ups enqueued: %v", e.queue.followups)
	}
	if _, created := e.cull(); !created {
		t.Fatal("the current cycle did not run")
	}
	if n := e.count(`SELECT count(*) FROM cull_runs`); n != 2 {
		t.Fatalf("%d runs after the outage; want 2 (one before, one on return)", n)
	}
	e.queue.cycles = nil
	if err := e.svc.Tick(e.ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.queue.cycles, []int64{now.Number + 1}) {
		t.Fatalf("after the run the tick enqueued %v; want only the next cycle", e.queue.cycles)
	}
}

// Redis empty at cull time (flushed): the cull reads PostgreSQL and takes
// exactly the posts it takes with Redis full — the bottom of the Redis
// board as it was.
func TestCull_EmptyRedisSameVictims(t *testing.T) {
	rdb, _ := testkit.OwnRedis(t)
	e := newEnv(t, hourly, rdb)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 60 {
		e.post(e.author, time.Duration(12+rng.IntN(48))*time.Hour, rng.IntN(4), rng.IntN(4))
	}
	e.rebuild()
	// What the boards say: the eligible posts from the bottom of top:all.
	zs, err := rdb.ZRange(e.ctx, e.prefix+"board:top:all", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	cutoff := e.set.Cutoff(e.set.CycleAt(e.clock.Now()))
	eligible := map[int64]bool{}
	for _, id := range e.ids(`SELECT id FROM posts WHERE created_at < $1`, cutoff) {
		eligible[id] = true
	}
	quota := e.set.Quota(len(zs), len(eligible))
	var want []int64
	for _, m := range zs {
		id, _ := strconv.ParseInt(m, 10, 64)
		if eligible[id] && len(want) < quota {
			want = append(want, id)
		}
	}
	if quota == 0 || len(want) != quota {
		t.Fatalf("quota %d, %d from the board", quota, len(want))
	}
	if err := rdb.FlushAll(e.ctx).Err(); err != nil {
		t.Fatal(err)
	}
	run, _ := e.cull()
	if got := sorted(e.victims(run.ID)); !slices.Equal(got, sorted(want)) {
		t.Fatalf("with Redis empty the cull took %v; the board's bottom was %v", got, want)
	}
	// The follow-up works on the empty Redis too, and the rebuild leaves
	// the victims out.
	if err := e.svc.Followup(e.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	e.rebuild()
	for _, id := range want {
		if _, err := rdb.ZScore(e.ctx, e.prefix+"board:top:all", strconv.FormatInt(id, 10)).Result(); err != redis.Nil {
			t.Fatalf("victim %d is on the rebuilt board (%v)", id, err)
		}
	}
}

// The danger zone is exactly what the next cycle culls (no ratings in
// between), and it is computed for the next cycle's cutoff; a rating moves
// a post out of it.
func TestDangerZoneIsTheNextCull(t *testing.T) {
	e := newEnv(t, hourly, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	var posts []int64
	for range 40 {
		posts = append(posts, e.post(e.author, time.Duration(20+rng.IntN(30))*time.Hour, rng.IntN(5), rng.IntN(5)))
	}
	// Created a few minutes after the current cycle's start minus the
	// grace: not eligible in this cycle, eligible in the next.
	late := e.post(e.author, 24*time.Hour-30*time.Second, 0, 40)
	e.rebuild()
	if _, created := e.cull(); !created { // the current cycle
		t.Fatal("no cull")
	}
	z, zone := e.danger()
	next := e.set.CycleAt(e.clock.Now()).Number + 1
	if z.Cycle.Number != next || !z.CullAt.Equal(e.set.Cycle(next).Start) || !z.Cutoff.Equal(e.set.Cycle(next).Start.Add(-24*time.Hour)) {
		t.Fatalf("zone for cycle %d at %s cutoff %s; want the next cycle %d", z.Cycle.Number, z.CullAt, z.Cutoff, next)
	}
	if !slices.Contains(zone, late) {
		t.Fatalf("the post eligible from the next cycle on is not in its danger zone %v", zone)
	}
	if z.Count != len(zone) || z.Count != e.set.Quota(z.Ready, z.Eligible) {
		t.Fatalf("count %d, %d items, quota %d", z.Count, len(zone), e.set.Quota(z.Ready, z.Eligible))
	}
	// Ranks ascend, places count down to 1 at the edge, distances are the
	// gap to the first safe post.
	for i, it := range z.Items {
		if i > 0 && it.Rank <= z.Items[i-1].Rank {
			t.Fatalf("ranks not ascending: %+v", z.Items)
		}
		if it.Places != i+1 || it.Distance == nil || *it.Distance != max(*z.SafeScore-it.Score, 0) {
			t.Fatalf("item %d: %+v (safe score %v)", i, it, *z.SafeScore)
		}
	}
	// Paging gives the same list.
	var paged []int64
	for off := 0; ; off += 3 {
		pz, err := e.svc.Danger(e.ctx, off, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range pz.Items {
			paged = append(paged, it.PostID)
		}
		if !pz.More {
			break
		}
	}
	if !slices.Equal(paged, zone) {
		t.Fatalf("paged %v, whole %v", paged, zone)
	}
	// A rating lifts the best post of the zone out of it.
	saved := zone[0]
	e.rate(saved, 30, 0)
	_, zone = e.danger()
	if slices.Contains(zone, saved) {
		t.Fatalf("post %d still in danger after 30 five-star ratings", saved)
	}
	e.clock.Add(time.Hour)
	run, created := e.cull()
	if !created {
		t.Fatal("the next cycle did not run")
	}
	if got := e.victims(run.ID); !slices.Equal(got, zone) {
		t.Fatalf("culled %v; the danger zone said %v", got, zone)
	}
	_ = posts
}

// The follow-up takes the victims off every board, tells each author once,
// announces, collects the files, refreshes the danger zone — and a second
// run of it (a retried task) repeats nothing.
func TestFollowup_IdempotentAndComplete(t *testing.T) {
	e := newEnv(t, hourly, nil)
	bob := e.user("bob")
	var victims []int64
	for i := range 10 {
		author := e.author
		if i%2 == 1 {
			author = bob
		}
		id := e.post(author, 48*time.Hour, i, 0)
		if i < 2 { // the two lowest have files
			if _, err := e.db.Exec(e.ctx, `UPDATE posts SET kind = 'image', original = $2, display = $3, thumb = $4 WHERE id = $1`,
				id, fmt.Sprintf("o/%d.jpg", id), fmt.Sprintf("d/%d.jpg", id), fmt.Sprintf("t/%d.jpg", id)); err != nil {
				t.Fatal(err)
			}
			victims = append(victims, id)
		}
		if _, err := e.db.Exec(e.ctx, `INSERT INTO post_tags (post_id, tag) VALUES ($1, 'cats')`, id); err != nil {
			t.Fatal(err)
		}
	}
	e.rebuild()
	run, _ := e.cull()
	if run.Victims != 2 {
		t.Fatalf("%d victims", run.Victims)
	}
	// The files go in the follow-up: until then the culled posts keep them.
	if n := e.count(`SELECT count(*) FROM media_garbage`); n != 0 {
		t.Fatalf("%d files queued for collection by the cull itself", n)
	}
	// Until the follow-up, the victims are still on the Redis boards.
	member := func(board string, id int64) bool {
		_, err := e.rdb.ZScore(e.ctx, e.prefix+"board:"+board, strconv.FormatInt(id, 10)).Result()
		return err == nil
	}
	if !member("top:all", victims[0]) {
		t.Fatal("the victim was not on the board before the follow-up")
	}
	for range 2 {
		if err := e.svc.Followup(e.ctx, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Settling recorded each victim's files, which its row gave up after.
	if n := e.count(`SELECT count(*) FROM cull_victims WHERE run_id = $1 AND cardinality(files) = 3`, run.ID); n != 2 {
		t.Fatalf("%d victims recorded with their 3 files", n)
	}
	boards, err := e.rdb.Keys(e.ctx, e.prefix+"board:*").Result()
	if err != nil || len(boards) < 6 {
		t.Fatalf("boards %v %v", boards, err)
	}
	for _, b := range boards {
		if b == e.prefix+"board:creators" { // user ids
			continue
		}
		for _, id := range victims {
			if _, err := e.rdb.ZScore(e.ctx, b, strconv.FormatInt(id, 10)).Result(); err != redis.Nil {
				t.Fatalf("victim %d still on %s", id, b)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM notifications WHERE kind = 'culled'`); n != 2 {
		t.Fatalf("%d culled notifications; want one per victim", n)
	}
	if n := e.count(`SELECT count(*) FROM notifications WHERE kind = 'culled' AND user_id = $1 AND data->>'post_id' = $2 AND data->>'run_id' = $3 AND data->>'caption' = 'joke'`,
		e.author, strconv.FormatInt(victims[0], 10), strconv.FormatInt(run.ID, 10)); n != 1 {
		t.Fatal("the lowest post's author was not told")
	}
	// The posts let go of their files, which were queued and collected.
	if got := len(e.files.paths); got != 6 {
		t.Fatalf("%d files collected: %v", got, e.files.paths)
	}
	if n := e.count(`SELECT count(*) FROM media_garbage`); n != 6 {
		t.Fatalf("%d files queued for collection; want 6", n)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE id = ANY($1) AND (original <> '' OR display <> '' OR thumb <> '')`, victims); n != 0 {
		t.Fatal("culled posts still refer to their files")
	}
	culled, danger := e.heard.Snapshot()
	if len(culled) != 1 || culled[0].Run != run.ID || !slices.Equal(sorted(culled[0].IDs), sorted(victims)) || danger < 1 {
		t.Fatalf("announced %+v, danger %d", culled, danger)
	}
	var done *time.Time
	if err := e.db.QueryRow(e.ctx, `SELECT followup_done_at FROM cull_runs WHERE id = $1`, run.ID).Scan(&done); err != nil || done == nil {
		t.Fatalf("follow-up not recorded done: %v", err)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE status = 'culled'`); n != 2 {
		t.Fatalf("the follow-up culled: %d culled", n)
	}
	// The run's follow-up also refreshed the danger zone for the next cycle.
	if n := e.count(`SELECT count(*) FROM cull_danger`); n != 1 {
		t.Fatalf("%d posts remembered in danger; want ⌊0.2 × 8⌋ = 1", n)
	}
}

// Authors hear when their post enters the danger zone and when it leaves
// it by climbing; a post that leaves by being culled gets no "left".
func TestCheckDanger_Notifications(t *testing.T) {
	e := newEnv(t, hourly, nil)
	var posts []int64
	for i := range 10 {
		posts = append(posts, e.post(e.author, 48*time.Hour, i, 0))
	}
	e.rebuild()
	notes := func(state string) []string {
		rows, err := e.db.Query(e.ctx, `SELECT data->>'post_id' FROM notifications WHERE kind = 'danger' AND data->>'state' = $1 ORDER BY id`, state)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	id := func(i int) string { return strconv.FormatInt(posts[i], 10) }
	if n, err := e.svc.CheckDanger(e.ctx); err != nil || n != 2 {
		t.Fatalf("CheckDanger = %d, %v; want 2 entered", n, err)
	}
	if got := notes("entered"); !slices.Equal(got, []string{id(1), id(0)}) {
		t.Fatalf("entered: %v", got)
	}
	if n, _ := e.svc.CheckDanger(e.ctx); n != 0 {
		t.Fatalf("a second check changed %d", n)
	}
	e.rate(posts[1], 20, 0) // climbs out; post 2 enters
	if n, _ := e.svc.CheckDanger(e.ctx); n != 2 {
		t.Fatalf("after the rating: %d changes; want 2", n)
	}
	if got := notes("left"); !slices.Equal(got, []string{id(1)}) {
		t.Fatalf("left: %v", got)
	}
	if got := notes("entered"); !slices.Equal(got, []string{id(1), id(0), id(2)}) {
		t.Fatalf("entered: %v", got)
	}
	_, danger := e.heard.Snapshot()
	if danger != 2 {
		t.Fatalf("DangerChanged announced %d times; want 2", danger)
	}
	// A rating that moves a post within the zone tells no author (nobody
	// entered or left) but is announced to those watching the zone.
	e.rate(posts[0], 1, 0)
	if n, _ := e.svc.CheckDanger(e.ctx); n != 0 {
		t.Fatalf("a move within the zone: %d entered or left", n)
	}
	if _, danger = e.heard.Snapshot(); danger != 3 {
		t.Fatalf("DangerChanged announced %d times after a move within the zone; want 3", danger)
	}
	if n, _ := e.svc.CheckDanger(e.ctx); n != 0 {
		t.Fatal("a check with nothing new changed something")
	}
	if _, danger = e.heard.Snapshot(); danger != 3 {
		t.Fatalf("a check with nothing new was announced (%d)", danger)
	}
	run, _ := e.cull()
	if err := e.svc.Followup(e.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if got := notes("left"); !slices.Equal(got, []string{id(1)}) {
		t.Fatalf("culled posts were told they left: %v", got)
	}
	var data map[string]any
	if err := e.db.QueryRow(e.ctx, `SELECT data FROM notifications WHERE kind = 'danger' ORDER BY id LIMIT 1`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"post_id", "state", "rank", "score", "distance", "cycle", "cull_at"} {
		if _, ok := data[k]; !ok {
			t.Errorf("danger notification without %s: %v", k, data)
		}
	}
}

// Author statistics: survived counts ready posts that faced a cull.
func TestAuthorStats(t *testing.T) {
	e := newEnv(t, hourly, nil)
	for i := range 10 {
		e.post(e.author, 48*time.Hour, i, 0)
	}
	e.post(e.author, time.Hour, 0, 0)
	e.rebuild()
	st, err := e.svc.AuthorStats(e.ctx, e.author)
	if err != nil || st.Survived != 0 || st.Culled != 0 {
		t.Fatalf("before any cull: %+v %v", st, err)
	}
	e.cull()
	st, err = e.svc.AuthorStats(e.ctx, e.author)
	if err != nil || st.Survived != 8 || st.Culled != 2 {
		t.Fatalf("after a cull: %+v %v; want 8 survived (the young one has not faced one), 2 culled", st, err)
	}
}

// A post whose scores were never stored (its board update failed) is
// scored before the cull orders it.
func TestCull_ScoresMissingScores(t *testing.T) {
	e := newEnv(t, hourly, nil)
	var posts []int64
	for i := range 10 {
		posts = append(posts, e.post(e.author, 48*time.Hour, i, 0))
	}
	e.rebuild()
	// The best post loses its stored scores.
	if _, err := e.db.Exec(e.ctx, `UPDATE posts SET score_top = NULL, score_hot = NULL WHERE id = $1`, posts[9]); err != nil {
		t.Fatal(err)
	}
	run, _ := e.cull()
	if got := e.victims(run.ID); !slices.Equal(got, []int64{posts[1], posts[0]}) {
		t.Fatalf("victims %v", got)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE score_top IS NULL`); n != 0 {
		t.Fatal("the missing score was not stored")
	}
}

// A change of CULL_INTERVAL does not cull again at once: the hourly run
// stands for the half-hourly cycle it falls in (also for a worker still on
// the old setting, as during a deploy), and the next cull is the new
// interval's next cycle.
func TestCull_IntervalChangeCullsOnce(t *testing.T) {
	e := newEnv(t, hourly, nil)
	for i := range 50 {
		e.post(e.author, 48*time.Hour, i%7, i%3)
	}
	e.rebuild()
	if _, created := e.cull(); !created {
		t.Fatal("the hourly cycle did not run")
	}
	e.clock.Add(10 * time.Minute) // 11 minutes into the hour
	half := hourly
	half.Interval = 30 * time.Minute
	svc := cull.New(e.db, half, cull.Deps{Boards: e.rank, Queue: e.queue, Now: e.clock.Now})
	cur := half.CycleAt(e.clock.Now())
	if run, created, err := svc.RunCycle(e.ctx, cur.Number); err != nil || created || run.ID != 0 {
		t.Fatalf("half-hourly cycle %d right after the hourly run: %+v %v %v", cur.Number, run, created, err)
	}
	if next, err := svc.NextCycle(e.ctx); err != nil || next.Number != cur.Number+1 {
		t.Fatalf("next cycle %+v %v; want %d", next, err, cur.Number+1)
	}
	e.queue.cycles = nil
	if err := svc.Tick(e.ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.queue.cycles, []int64{cur.Number + 1}) {
		t.Fatalf("the tick enqueued %v; want only the next half-hour", e.queue.cycles)
	}
	if n := e.count(`SELECT count(*) FROM cull_runs`); n != 1 {
		t.Fatalf("%d runs; want the hourly one only", n)
	}
	// The new interval's cycles cull from then on (x:30, then x+1:00); a
	// worker still on the old setting finds the hour covered.
	for range 2 {
		e.clock.Add(30 * time.Minute)
		if _, created, err := svc.RunCycle(e.ctx, half.CycleAt(e.clock.Now()).Number); err != nil || !created {
			t.Fatalf("the half-hourly cycle at %v: %v %v", e.clock.Now(), created, err)
		}
	}
	if run, created, err := e.svc.RunCycle(e.ctx, hourly.CycleAt(e.clock.Now()).Number); err != nil || created || run.ID != 0 {
		t.Fatalf("an hourly worker culled the hour again: %+v %v %v", run, created, err)
	}
	if n := e.count(`SELECT count(*) FROM cull_runs`); n != 3 {
		t.Fatalf("%d runs; want 3", n)
	}
}
