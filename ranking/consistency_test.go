package ranking

// PostgreSQL is the truth and Redis may lose everything at any moment:
// these tests flush and restart a redis-server of their own while users
// rate, and check that no acknowledged rating is lost, that reads never
// fail nor come back wrongly empty, and that the boards converge.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/testkit"
)

// ownRedis starts a redis-server for this test alone (see testkit.OwnRedis).
func ownRedis(t *testing.T) (*redis.Client, *testkit.RedisServer) { return testkit.OwnRedis(t) }

// run starts the reconcile and rebuild loop until the test ends.
func (f *fixture) run(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.s.Run(ctx, interval) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond with a generous deadline.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged waits until Redis is ready and every board in it equals the
// truth, then checks reads from both Redis and PostgreSQL.
func (f *fixture) converged() {
	f.t.Helper()
	ctx := context.Background()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		tr := f.truth()
		if f.s.Ready(ctx) {
			if last = f.capDiff(tr); last == "" {
				f.checkRead(tr, "Redis")
				break
			}
		} else {
			last = "not ready"
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("boards did not converge to PostgreSQL within 60 s:\n%s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The PostgreSQL fallback's order (the stored scores) converged too.
	tr := f.truth()
	for b, want := range tr.boards {
		got, _, err := f.s.boardFromPostgres(ctx, b, 0, len(want)+1)
		if err != nil || len(got) != len(want) {
			f.t.Fatalf("PostgreSQL board %s: %v, %v; want %d entries", b, got, err, len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].Score != display(b, want[i]) {
				f.t.Fatalf("PostgreSQL board %s differs at %d:\n got %v\nwant %v", b, i, got, want)
			}
		}
	}
}

// reader reads boards until stop closes and records every read that failed
// or came back short: the set of ready posts does not change during the
// load, so hot, top:all, new and the tag board always hold all of theirs.
type reader struct {
	f     *fixture
	want  map[string]int
	reads atomic.Int64
	mu    sync.Mutex
	bad   []string
}

func (f *fixture) reader(stop <-chan struct{}, wg *sync.WaitGroup) *reader {
	tr := f.truth()
	r := &reader{f: f, want: map[string]int{}}
	for _, b := range []string{"hot", "top:all", "new", "tag:cats:top", "tag:puns:hot"} {
		r.want[b] = len(tr.boards[b])
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for b, n := range r.want {
				select {
				case <-stop:
					return
				default:
				}
				got, _, err := f.s.Board(context.Background(), b, 0, 100)
				if err == nil {
					_, _, err = f.s.Board(context.Background(), "creators", 0, 10)
				}
				r.reads.Add(1)
				if err != nil || len(got) != n {
					r.mu.Lock()
					r.bad = append(r.bad, fmt.Sprintf("board %s: %d entries, want %d, err %v", b, len(got), n, err))
					r.mu.Unlock()
				}
			}
		}
	}()
	return r
}

func (r *reader) check() {
	r.f.t.Helper()
	if len(r.bad) > 0 {
		r.f.t.Fatalf("%d of %d board reads failed or were short, e.g.:\n%v", len(r.bad), r.reads.Load(), r.bad[:min(10, len(r.bad))])
	}
	if r.reads.Load() == 0 {
		r.f.t.Fatal("no board was read")
	}
}

// waitAcked waits until the raters had n ratings acknowledged.
func (f *fixture) waitAcked(r *rater, n int64) {
	f.t.Helper()
	f.eventually(fmt.Sprintf("%d ratings are acknowledged", n), func() bool { return r.acked.Load() >= n })
}

func TestFlushAllDuringLoad(t *testing.T) { flushAllDuringLoad(t, 0) }

// The same with post boards capped at 5 posts (the world has 30): ratings
// move posts across the boards' floors all the time, the flush takes the
// floors with the boards, and Run refills the boards that shrank.
func TestFlushAllDuringLoadCapped(t *testing.T) { flushAllDuringLoad(t, 5) }

// flushAllDuringLoad flushes Redis while users rate, with post boards
// capped at k posts (0: the default).
func flushAllDuringLoad(t *testing.T, k int) {
	rdb, _ := ownRedis(t)
	f := newCappedFixture(t, rdb, "f:", k)
	w := f.world(40, 30)
	f.run(100 * time.Millisecond)
	f.eventually("the first rebuild is done", func() bool { return f.s.Ready(context.Background()) })
	f.converged()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	rd := f.reader(stop, &wg)
	wg.Add(1)
	go func() { defer wg.Done(); w.r.run(w.users, w.posts, 0, stop) }()
	f.waitAcked(w.r, 400)
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flushedAt := w.r.acked.Load()
	f.waitAcked(w.r, flushedAt+400)
	f.eventually("the boards are rebuilt after the flush", func() bool { return f.s.Ready(context.Background()) })
	f.waitAcked(w.r, w.r.acked.Load()+300) // and rating goes on after the rebuild
	close(stop)
	wg.Wait()
	t.Logf("%d ratings acknowledged (flush after %d), %d board reads", w.r.acked.Load(), flushedAt, rd.reads.Load())

	w.r.check()
	rd.check()
	f.converged()
}

func TestRedisRestartDuringLoad(t *testing.T) {
	rdb, srv := ownRedis(t)
	cur := srv
	t.Cleanup(func() { cur.Stop() }) // the restarted one
	f := newFixture(t, rdb, "r:")
	w := f.world(40, 30)
	f.run(100 * time.Millisecond)
	f.eventually("the first rebuild is done", func() bool { return f.s.Ready(context.Background()) })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	rd := f.reader(stop, &wg)
	wg.Add(1)
	go func() { defer wg.Done(); w.r.run(w.users, w.posts, 0, stop) }()
	f.waitAcked(w.r, 300)
	srv.Stop()
	downAt := w.r.acked.Load()
	// Ratings keep being acknowledged while Redis is down: PostgreSQL is
	// the truth, and the boards are repaired once Redis is back.
	f.waitAcked(w.r, downAt+100)
	var err error
	cur, err = testkit.StartRedisOn(srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	upAt := w.r.acked.Load()
	f.eventually("the boards are rebuilt after the restart", func() bool { return f.s.Ready(context.Background()) })
	f.waitAcked(w.r, w.r.acked.Load()+300)
	close(stop)
	wg.Wait()
	t.Logf("%d ratings acknowledged (%d while Redis was down), %d board reads", w.r.acked.Load(), upAt-downAt, rd.reads.Load())

	w.r.check()
	rd.check()
	f.converged()
}

// flushingAnnouncer flushes Redis the first time it hears that the creators
// board changed while armed: Rebuild announces that after placing a batch
// of posts, so the flush lands in the middle of a rebuild.
type flushingAnnouncer struct {
	Memory
	rdb   *redis.Client
	armed atomic.Bool
}

func (a *flushingAnnouncer) BoardChanged(ctx context.Context, board string) {
	a.Memory.BoardChanged(ctx, board)
	if board == "creators" && a.armed.CompareAndSwap(true, false) {
		_ = a.rdb.FlushAll(ctx).Err()
	}
}

func TestFlushDuringRebuild(t *testing.T) {
	rdb, _ := ownRedis(t)
	f := newFixture(t, rdb, "b:")
	w := f.world(20, 10)
	for i, p := range w.posts[:10] {
		f.rate(p, w.users[10+i], 1+i%5)
		w.r.seed(w.users[10+i], p, 1+i%5)
	}
	a := &flushingAnnouncer{rdb: rdb}
	s := New(f.db, rdb, f.prefix, a)
	ctx := context.Background()

	a.armed.Store(true)
	err := s.Rebuild(ctx)
	if a.armed.Load() {
		t.Fatal("the test did not flush during the rebuild")
	}
	got, rerr := f.redisBoards()
	if rerr != nil {
		t.Fatal(rerr)
	}
	tr := f.truth()
	if d := diffBoards(tr.inRedis(), got); s.Ready(ctx) && d != "" {
		t.Fatalf("Redis is marked ready after a rebuild it lost half of (Rebuild error %v):\n%s", err, d)
	}
	for b, want := range tr.boards {
		if l, _, err := s.Board(ctx, b, 0, 100); err != nil || len(l) != len(want) {
			t.Fatalf("Board(%s) after a flushed rebuild: %d entries, %v; want %d", b, len(l), err, len(want))
		}
	}
	// The next pass of the loop rebuilds for good.
	f.s = s
	f.run(100 * time.Millisecond)
	f.converged()
}

// A flush can land between Board's readiness check and its read; the read
// must still not come back empty.
func TestBoardReadsAcrossFlushes(t *testing.T) {
	rdb, _ := ownRedis(t)
	f := newFixture(t, rdb, "x:")
	f.world(16, 8)
	f.run(20 * time.Millisecond)
	ctx := context.Background()
	f.eventually("the first rebuild is done", func() bool { return f.s.Ready(ctx) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	rd := f.reader(stop, &wg)
	for range 30 {
		n := rd.reads.Load()
		f.eventually("boards are read", func() bool { return rd.reads.Load() > n+20 })
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		f.eventually("the boards are rebuilt", func() bool { return f.s.Ready(ctx) })
	}
	close(stop)
	wg.Wait()
	rd.check()
	f.converged()
}

// Boards written in the format before rank:pv (bare versions in rank:v, a
// set of boards per post) are cleared and rebuilt by Run: the new scripts
// could not take such a post off the boards it is on. Here the old data
// also holds a post culled since (still on its boards, as if its update was
// lost), which the rebuild must leave off.
func TestRunRebuildsOldFormat(t *testing.T) {
	rdb, _ := ownRedis(t)
	f := newFixture(t, rdb, "old:")
	ctx := context.Background()
	u := f.users(3)
	a := f.post(u[0], time.Now().Add(-30*time.Hour), "ready", "cats")
	b := f.post(u[1], time.Now(), "ready")
	f.rate(a, u[2], 4)
	f.rate(b, u[2], 2)
	// The old format, as the old sync script left it.
	rows, err := loadRows(ctx, f.db, []int64{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range rows {
		pl := place(p)
		id := strconv.FormatInt(p.id, 10)
		rdb.HSet(ctx, "old:rank:v", id, p.version)
		for i, name := range pl.boards {
			rdb.ZAdd(ctx, f.s.k.board(name), redis.Z{Score: pl.scores[i], Member: id})
			rdb.SAdd(ctx, "old:rank:m:"+id, f.s.k.board(name))
		}
	}
	rdb.Set(ctx, f.s.k.ready(), "old", 0)
	f.exec(`UPDATE posts SET status = 'culled' WHERE id = $1`, a)
	f.run(50 * time.Millisecond)
	f.converged()
	for _, k := range []string{"old:rank:v", "old:rank:m:" + strconv.FormatInt(a, 10), "old:rank:m:" + strconv.FormatInt(b, 10)} {
		if n := rdb.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("%s is still there after the rebuild", k)
		}
	}
	if v, boards := f.placed(b); v == "" || len(boards) < 4 {
		t.Fatalf("post %d after the rebuild: version %q, boards %v", b, v, boards)
	}
}

// Two nodes and one rebuild lock: a node whose lock went (Redis flushed,
// or it expired) and was taken by another node can neither call the
// boards ready nor release the other node's lock, and its rebuild stops.
func TestRebuildLockIsOwned(t *testing.T) {
	rdb, _ := testkit.OwnRedis(t)
	ctx := context.Background()
	a := New(nil, rdb, "l:", nil)
	b := New(nil, rdb, "l:", nil)
	la, ok, err := a.lock(ctx, "rebuild")
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if _, ok, _ := b.lock(ctx, "rebuild"); ok {
		t.Fatal("b took a lock a holds")
	}
	if err := la.renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil { // Redis loses its data mid-rebuild
		t.Fatal(err)
	}
	lb, ok, err := b.lock(ctx, "rebuild")
	if err != nil || !ok {
		t.Fatalf("b after the flush: %v %v", ok, err)
	}
	if err := la.renew(ctx); !errors.Is(err, errLockLost) {
		t.Fatalf("a renewed a lock it lost: %v", err)
	}
	if err := la.markReady(ctx, "a's boards"); !errors.Is(err, errLockLost) {
		t.Fatalf("a marked the boards ready without its lock: %v", err)
	}
	if a.Ready(ctx) {
		t.Fatal("the boards are called ready")
	}
	la.release(ctx)
	if err := lb.renew(ctx); err != nil {
		t.Fatalf("a released b's lock: %v", err)
	}
	if ttl := rdb.PTTL(ctx, "l:rank:rebuilding").Val(); ttl <= 0 || ttl > lockTTL {
		t.Fatalf("lock TTL %v", ttl)
	}
	if err := lb.markReady(ctx, "b's boards"); err != nil || !b.Ready(ctx) {
		t.Fatalf("b: %v", err)
	}
	lb.release(ctx)
	if n := rdb.Exists(ctx, "l:rank:rebuilding").Val(); n != 0 {
		t.Fatal("b's release left the lock")
	}
}

// The reconcile lag metric follows Run's passes: once a pass has run it
// is the time since that pass began, a number (NaN means no pass yet).
func TestReconcileLagFollowsPasses(t *testing.T) {
	f := newFixture(t, nil, "")
	u := f.users(2)
	f.rate(f.post(u[0], time.Now(), "ready"), u[1], 3)
	began := time.Now()
	f.run(50 * time.Millisecond)
	f.eventually("a reconcile pass that began after the test", func() bool { return lastReconcile.Load() >= began.UnixNano() })
	lag := testutil.ToFloat64(reconcileLag)
	if math.IsNaN(lag) || lag < 0 || lag > time.Since(began).Seconds() {
		t.Fatalf("lag %v s, %v after the test began", lag, time.Since(began))
	}
}

// Board pages served from PostgreSQL (while Redis rebuilds) walk the
// board's index and stop at the page, rather than sort every ready post:
// they must be in the index's order exactly.
func TestBoardsFromPostgresUseTheirIndexes(t *testing.T) {
	f := newFixture(t, nil, "")
	u := f.users(1)
	f.exec(`INSERT INTO posts (author_id, caption, kind, status, created_at, score_top, score_hot)
		SELECT $1, 'joke', 'text', 'ready', now() - g * interval '1 minute', random(), random() FROM generate_series(1, 5000) g`, u[0])
	f.exec(`ANALYZE posts`)
	for _, board := range []string{"hot", "top:all"} {
		sql, args, err := boardSQL(board, true)
		if err != nil || sql == "" {
			t.Fatalf("%s: %q %v", board, sql, err)
		}
		rows, err := f.db.Query(context.Background(), `EXPLAIN `+sql+` LIMIT 21 OFFSET 0`, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan := ""
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan += line + "\n"
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index") {
			t.Errorf("%s: the page is not read off an index:\n%s", board, plan)
		}
	}
}
