package worker_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/worker"
)

// cullEnv adds the cull to a worker test env: a ranking service on the
// test's Redis database, and posts to cull.
type cullEnv struct {
	*env
	rdb    *redis.Client
	rank   *ranking.Service
	notify *notifications.Service
	posts  *posts.Service
	set    cull.Settings
	svc    *cull.Service
}

func newCullEnv(t *testing.T, set cull.Settings) *cullEnv {
	t.Helper()
	e := newEnv(t, "")
	opt := e.redis.(asynq.RedisClientOpt)
	rdb := redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB})
	t.Cleanup(func() { _ = rdb.Close() })
	c := &cullEnv{env: e, rdb: rdb, set: set}
	c.rank = ranking.New(e.pool, rdb, "t:", nil)
	c.notify = notifications.New(e.pool, nil)
	c.posts = posts.New(e.pool, worker.NewQueue(e.client, e.insp), c.notify, posts.Settings{MediaRoot: t.TempDir()})
	c.useClock(nil)
	return c
}

// useClock (re)makes the cull with clock now (nil: time.Now).
func (c *cullEnv) useClock(now func() time.Time) {
	c.svc = cull.New(c.pool, c.set, cull.Deps{Boards: c.rank, Files: c.posts, Queue: worker.NewQueue(c.client, c.insp),
		Notify: c.notify, Now: now})
}

// seed inserts n ready text posts, created three hours ago (past the
// grace of any cycle of up to two hours), the i-th with i
// five-star ratings, and puts them on the boards.
func (c *cullEnv) seed(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	var author int64
	if err := c.pool.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('author', 'author@example.com', 'x') RETURNING id`).Scan(&author); err != nil {
		t.Fatal(err)
	}
	if _, err := c.pool.Exec(ctx, `INSERT INTO profiles (user_id) VALUES ($1)`, author); err != nil {
		t.Fatal(err)
	}
	if _, err := c.pool.Exec(ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h5)
		SELECT $1, 'joke ' || g, 'text', 'ready', now() - interval '3 hours', g FROM generate_series(0, $2 - 1) g`, author, n); err != nil {
		t.Fatal(err)
	}
	if err := c.rank.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
}

func (c *cullEnv) mux() *asynq.ServeMux {
	h := &worker.Handlers{Outbox: c.outbox, Sender: mail.LogSender{}, Posts: c.posts, Ranking: c.rank, Notify: c.notify, Cull: c.svc, Log: logf}
	return h.Mux()
}

func (c *cullEnv) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := c.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// onBoard reports how many of the culled posts are still on the all-time
// top board.
func (c *cullEnv) culledOnBoard(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	rows, err := c.pool.Query(ctx, `SELECT id FROM posts p WHERE `+store.Status("p")+` = 'culled'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := c.rdb.ZScore(ctx, "t:board:top:all", strconv.FormatInt(id, 10)).Result(); err == nil {
			n++
		}
	}
	return n
}

// Three worker processes, each with its own scheduler firing the cull tick,
// and the same cycle enqueued by three clients at once: every cycle culls
// exactly once, each run takes exactly its share, and every follow-up
// completes.
func TestCull_ThreeSchedulersCullOnce(t *testing.T) {
	set := cull.Settings{Interval: 2 * time.Second, Grace: time.Minute, Share: 0.1, Board: "top"}
	c := newCullEnv(t, set)
	c.seed(t, 200)
	// The current cycle, enqueued by three schedulers at once: one task.
	cur := set.CycleAt(time.Now())
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := asynq.NewClient(c.redis)
			defer client.Close()
			_, errs[i] = client.Enqueue(worker.NewCullTask(set, cur, time.Time{}))
		}()
	}
	wg.Wait()
	conflicts := 0
	for _, err := range errs {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			conflicts++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if conflicts != 2 {
		t.Fatalf("%d of 3 enqueues of the same cycle conflicted; want 2", conflicts)
	}
	for range 3 {
		c.startWorker(t, c.mux(), []worker.Periodic{worker.CullPeriodic(set.Interval)})
	}
	eventually(t, "three culls with their follow-ups done", func() bool {
		return c.count(t, `SELECT count(*) FROM cull_runs WHERE followup_done_at IS NOT NULL`) >= 3
	})
	// Every run: a distinct cycle, ⌊0.1 × eligible⌋ victims, eligible = the
	// posts left by the runs before it. The workers go on culling: every
	// check reads one snapshot.
	ctx := context.Background()
	tx, err := c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := tx.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows, err := tx.Query(ctx, `SELECT cycle, ready, eligible, victims,
		(SELECT count(*) FROM cull_victims v WHERE v.run_id = r.id) FROM cull_runs r WHERE finished_at IS NOT NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	left := 200
	seen := map[int64]bool{}
	total := 0
	for rows.Next() {
		var cycle int64
		var ready, eligible, victims, recorded int
		if err := rows.Scan(&cycle, &ready, &eligible, &victims, &recorded); err != nil {
			t.Fatal(err)
		}
		if seen[cycle] {
			t.Fatalf("cycle %d ran twice", cycle)
		}
		seen[cycle] = true
		if ready != left || eligible != left || victims != left/10 || recorded != victims {
			t.Fatalf("cycle %d: ready %d eligible %d victims %d (recorded %d); want %d, %d, %d", cycle, ready, eligible, victims, recorded, left, left, left/10)
		}
		left -= victims
		total += victims
	}
	// Runs still in flight may add more; what is finished adds up.
	if n := count(`SELECT count(*) FROM posts p JOIN cull_victims v ON v.post_id = p.id WHERE ` + store.Status("p") + ` = 'culled'`); n != total {
		t.Fatalf("%d posts culled; the runs recorded %d", n, total)
	}
	if n := count(`SELECT count(*) FROM notifications n JOIN cull_runs r ON r.id = (n.data->>'run_id')::bigint
		WHERE n.kind = 'culled' AND r.followup_done_at IS NOT NULL`); n != count(`SELECT coalesce(sum(victims), 0) FROM cull_runs WHERE followup_done_at IS NOT NULL`) {
		t.Fatalf("%d culled notifications for the done runs", n)
	}
}

// A worker killed after the cull's transaction and before its follow-up
// (the run is committed, its follow-up never ran and its task is gone):
// the tick's re-enqueue path completes it, and nothing more is culled.
func TestCull_KilledBeforeFollowupIsCompleted(t *testing.T) {
	set := cull.Settings{Interval: time.Hour, Grace: time.Minute, Share: 0.25, Board: "top"}
	c := newCullEnv(t, set)
	now := time.Now()
	// A clock standing still: the schedulers' ticks keep finding the same
	// cycle even if the test runs across the top of the hour.
	c.useClock(func() time.Time { return now })
	c.seed(t, 40)
	ctx := context.Background()
	// The cull step alone, as a worker that dies right after its commit
	// leaves it.
	run, created, err := c.svc.Cull(ctx, set.CycleAt(now))
	if err != nil || !created || run.Victims != 10 {
		t.Fatalf("cull: %+v %v %v", run, created, err)
	}
	if n := c.culledOnBoard(t); n != 10 {
		t.Fatalf("%d victims on the board before the follow-up; want all 10", n)
	}
	// A worker comes back; its scheduler's tick finds the run unfinished.
	c.startWorker(t, c.mux(), []worker.Periodic{worker.CullPeriodic(time.Second)})
	eventually(t, "the follow-up to complete", func() bool {
		return c.count(t, `SELECT count(*) FROM cull_runs WHERE followup_done_at IS NOT NULL`) == 1
	})
	if n := c.culledOnBoard(t); n != 0 {
		t.Fatalf("%d victims still on the board", n)
	}
	if n := c.count(t, `SELECT count(*) FROM cull_runs`); n != 1 {
		t.Fatalf("%d runs; the current cycle had run already", n)
	}
	if n := c.count(t, `SELECT count(*) FROM posts p WHERE `+store.Status("p")+` = 'culled'`); n != 10 {
		t.Fatalf("%d culled; want the same 10", n)
	}
	if n := c.count(t, `SELECT count(*) FROM notifications WHERE kind = 'culled'`); n != 10 {
		t.Fatalf("%d culled notifications; want one per victim", n)
	}
	// Running the follow-up again (a duplicate task) changes nothing. (A
	// tick that saw the run before its follow-up was stamped may have
	// queued that duplicate already: the same task.)
	if _, err := c.client.Enqueue(worker.NewCullFollowupTask(run.ID)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatal(err)
	}
	eventually(t, "the duplicate follow-up to have run", func() bool {
		_, err := c.insp.GetTaskInfo(worker.QueueDefault, "cull:followup:"+strconv.FormatInt(run.ID, 10))
		return errors.Is(err, asynq.ErrTaskNotFound)
	})
	if n := c.count(t, `SELECT count(*) FROM notifications WHERE kind = 'culled'`); n != 10 {
		t.Fatalf("%d culled notifications after a second follow-up", n)
	}
	if n := c.count(t, `SELECT count(*) FROM posts p WHERE `+store.Status("p")+` = 'culled'`); n != 10 {
		t.Fatalf("%d culled after a second follow-up", n)
	}
}

func TestCullPeriodic(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		spec     string
	}{{time.Hour, "@every 1m0s"}, {30 * time.Second, "@every 30s"}, {time.Second, "@every 1s"}} {
		if p := worker.CullPeriodic(c.interval); p.Spec != c.spec {
			t.Errorf("CullPeriodic(%v).Spec = %q, want %q", c.interval, p.Spec, c.spec)
		}
	}
}
