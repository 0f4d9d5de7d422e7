package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/testkit"
	"github.com/jokster/jokster/worker"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

const waitFor = 20 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordingSender counts sends; fail, if set, decides per call (1-based)
// whether that call fails.
type recordingSender struct {
	mu    sync.Mutex
	calls int
	sent  []mail.Message
	fail  func(call int) error
}

func (s *recordingSender) Send(_ context.Context, _ string, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(s.calls); err != nil {
			return err
		}
	}
	s.sent = append(s.sent, m)
	return nil
}

func (s *recordingSender) counts() (calls, sent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, len(s.sent)
}

// env is one test's PostgreSQL database and Redis, with an asynq client and
// an Outbox that enqueues through worker.Queue.
type env struct {
	pool   *pgxpool.Pool
	redis  asynq.RedisConnOpt
	client *asynq.Client
	insp   *asynq.Inspector
	outbox *mail.Outbox
}

// newEnv uses testkit's shared redis-server unless redisURL is given.
func newEnv(t *testing.T, redisURL string) *env {
	t.Helper()
	pool, _ := testkit.Pool(t)
	if redisURL == "" {
		_, redisURL, _ = testkit.Redis(t)
	}
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { _ = insp.Close() })
	return &env{
		pool:   pool,
		redis:  opt,
		client: client,
		insp:   insp,
		outbox: mail.NewOutbox(pool, worker.NewQueue(client, insp), "noreply@jokster.example"),
	}
}

func logf(msg string, args ...any) { slog.Info(msg, args...) }

// fast makes retries and the move of retried tasks back to pending quick.
func fast(cfg *worker.Config) {
	cfg.RetryDelayFunc = func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond }
	cfg.DelayedTaskCheckInterval = 100 * time.Millisecond
	cfg.TaskCheckInterval = 100 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
}

// mux is the real task handlers, sending through s.
func (e *env) mux(s mail.Sender) *asynq.ServeMux {
	h := &worker.Handlers{Outbox: e.outbox, Sender: s, Log: logf}
	return h.Mux()
}

// startWorker runs a worker until the test ends.
func (e *env) startWorker(t *testing.T, mux *asynq.ServeMux, periodic []worker.Periodic) *worker.Worker {
	t.Helper()
	w, err := worker.New(e.redis, 4, mux, periodic, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

// record adds a message in a transaction and dispatches it after commit,
// the way the application does.
func (e *env) record(t *testing.T, m mail.Message) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		id, err = e.outbox.Add(ctx, tx, m)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.outbox.Dispatch(ctx, id)
	return id
}

type outboxRow struct {
	sentAt    *time.Time
	attempts  int
	lastError *string
}

func (e *env) row(t *testing.T, id uuid.UUID) outboxRow {
	t.Helper()
	var r outboxRow
	if err := e.pool.QueryRow(context.Background(), `SELECT sent_at, attempts, last_error FROM outbox_mail WHERE id = $1`, id).
		Scan(&r.sentAt, &r.attempts, &r.lastError); err != nil {
		t.Fatalf("outbox row %s: %v", id, err)
	}
	return r
}

func (e *env) sent(t *testing.T, id uuid.UUID) bool {
	t.Helper()
	return e.row(t, id).sentAt != nil
}

// queueEmpty reports whether the critical queue holds no task in any state.
func (e *env) queueEmpty(t *testing.T) bool {
	t.Helper()
	queues, err := e.insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(queues, worker.QueueCritical) {
		return true // FLUSHALL removed even the queue
	}
	qi, err := e.insp.GetQueueInfo(worker.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	return qi.Size == 0
}

var msg = mail.Message{To: "alice@example.org", Subject: "Welcome", Body: "Hello Alice"}

func TestSendMailEndToEnd(t *testing.T) {
	e := newEnv(t, "")
	s := &recordingSender{}
	e.startWorker(t, e.mux(s), nil)
	id := e.record(t, msg)
	eventually(t, "the mail to be sent", func() bool { return e.sent(t, id) })
	eventually(t, "the task to leave the queue", func() bool { return e.queueEmpty(t) })
	calls, n := s.counts()
	if calls != 1 || n != 1 {
		t.Fatalf("sender: %d calls, %d sent; want 1, 1", calls, n)
	}
	s.mu.Lock()
	got := s.sent[0]
	s.mu.Unlock()
	if got.To != msg.To || got.Subject != msg.Subject || got.Body != msg.Body {
		t.Fatalf("sent %+v, want %+v", got, msg)
	}
	if r := e.row(t, id); r.attempts != 1 || r.lastError != nil {
		t.Fatalf("row = %+v", r)
	}
}

func TestEnqueueTwiceIsNoop(t *testing.T) {
	e := newEnv(t, "")
	q := worker.NewQueue(e.client, e.insp)
	id := uuid.New()
	for i := range 3 {
		if err := q.EnqueueMail(context.Background(), id); err != nil {
			t.Fatalf("EnqueueMail #%d: %v", i+1, err)
		}
	}
	tasks, err := e.insp.ListPendingTasks(worker.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].ID != "mail:"+id.String() || tasks[0].Type != worker.TypeSendMail {
		t.Fatalf("pending tasks = %+v, want one mail:%s", tasks, id)
	}
	var p struct{ ID uuid.UUID }
	if err := json.Unmarshal(tasks[0].Payload, &p); err != nil || p.ID != id {
		t.Fatalf("payload %s: %v", tasks[0].Payload, err)
	}
}

// Redis loses the task (FLUSHALL); the row in PostgreSQL brings it back and
// the mail goes out exactly once.
func TestLostTaskIsRequeued(t *testing.T) {
	rs, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	e := newEnv(t, "redis://"+rs.Addr+"/0")
	ctx := context.Background()

	id := e.record(t, msg) // no worker runs yet
	if _, err := e.insp.GetTaskInfo(worker.QueueCritical, "mail:"+id.String()); err != nil {
		t.Fatalf("task not queued after Dispatch: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if !e.queueEmpty(t) {
		t.Fatal("task survived FLUSHALL")
	}

	// Re-enqueue twice, as two runs of the periodic job would: the task id
	// makes the second a no-op.
	for i := range 2 {
		n, err := e.outbox.Requeue(ctx, 0)
		if err != nil || n != 1 {
			t.Fatalf("Requeue #%d = %d, %v; want 1", i+1, n, err)
		}
	}
	// The Inspector cannot list the queue now: asynq's client registers a
	// queue name in Redis only the first time it uses it, so after FLUSHALL
	// the queue is unlisted (the server still works it). Read Redis directly.
	pending := func() []string {
		ids, err := rdb.LRange(ctx, "asynq:{"+worker.QueueCritical+"}:pending", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := pending(); !slices.Equal(got, []string{"mail:" + id.String()}) {
		t.Fatalf("pending tasks after Requeue: %q; want just mail:%s", got, id)
	}

	s := &recordingSender{}
	e.startWorker(t, e.mux(s), nil)
	eventually(t, "the mail to be sent", func() bool { return e.sent(t, id) })
	eventually(t, "the task to leave the queue", func() bool {
		n, err := rdb.Exists(ctx, "asynq:{"+worker.QueueCritical+"}:t:mail:"+id.String()).Result()
		return err == nil && n == 0 && len(pending()) == 0
	})
	// Nothing left to re-enqueue, and nothing is sent again.
	if n, err := e.outbox.Requeue(ctx, 0); err != nil || n != 0 {
		t.Fatalf("Requeue after delivery = %d, %v; want 0", n, err)
	}
	if calls, n := s.counts(); calls != 1 || n != 1 {
		t.Fatalf("sender: %d calls, %d sent; want exactly one", calls, n)
	}
}

// A process that dies between commit and Dispatch leaves a row and no task.
// The periodic job's handler, run by the worker, re-enqueues rows older
// than two minutes.
func TestRequeueLostHandler(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	add := func(m mail.Message) uuid.UUID { // Add without Dispatch
		var id uuid.UUID
		if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			var err error
			id, err = e.outbox.Add(ctx, tx, m)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	lost := add(msg)
	fresh := add(mail.Message{To: "bob@example.org", Subject: "s", Body: "b"})
	if _, err := e.pool.Exec(ctx, `UPDATE outbox_mail SET created_at = now() - interval '5 minutes' WHERE id = $1`, lost); err != nil {
		t.Fatal(err)
	}

	s := &recordingSender{}
	e.startWorker(t, e.mux(s), nil)
	if _, err := e.client.Enqueue(asynq.NewTask(worker.TypeRequeueLost, nil, asynq.Queue(worker.QueueLow))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lost mail to be sent", func() bool { return e.sent(t, lost) })
	eventually(t, "the queues to drain", func() bool {
		qi, err := e.insp.GetQueueInfo(worker.QueueLow)
		return err == nil && qi.Size == 0 && e.queueEmpty(t)
	})
	if e.sent(t, fresh) {
		t.Fatal("a row younger than the threshold was re-enqueued")
	}
	if calls, n := s.counts(); calls != 1 || n != 1 {
		t.Fatalf("sender: %d calls, %d sent; want 1", calls, n)
	}
}

func TestFailedSendIsRetried(t *testing.T) {
	e := newEnv(t, "")
	s := &recordingSender{fail: func(call int) error {
		if call == 1 {
			return errors.New("421 service not available")
		}
		return nil
	}}
	e.startWorker(t, e.mux(s), nil)
	id := e.record(t, msg)
	eventually(t, "the mail to be sent after a retry", func() bool { return e.sent(t, id) })
	eventually(t, "the task to leave the queue", func() bool { return e.queueEmpty(t) })
	if calls, n := s.counts(); calls != 2 || n != 1 {
		t.Fatalf("sender: %d calls, %d sent; want 2 calls, 1 sent", calls, n)
	}
	if r := e.row(t, id); r.attempts != 2 || r.lastError != nil {
		t.Fatalf("row = %+v, want 2 attempts and no error", r)
	}
}

func TestBadPayloadIsArchived(t *testing.T) {
	e := newEnv(t, "")
	s := &recordingSender{}
	e.startWorker(t, e.mux(s), nil)
	nilID, _ := json.Marshal(map[string]any{"id": uuid.Nil})
	for _, p := range [][]byte{[]byte("not json"), nilID, nil} {
		if _, err := e.client.Enqueue(asynq.NewTask(worker.TypeSendMail, p), asynq.Queue(worker.QueueCritical), asynq.MaxRetry(25)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three archived tasks", func() bool {
		qi, err := e.insp.GetQueueInfo(worker.QueueCritical)
		return err == nil && qi.Archived == 3 && qi.Pending == 0 && qi.Active == 0
	})
	retry, err := e.insp.ListRetryTasks(worker.QueueCritical)
	if err != nil || len(retry) != 0 {
		t.Fatalf("retry tasks: %d, %v; want none", len(retry), err)
	}
	archived, err := e.insp.ListArchivedTasks(worker.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range archived {
		if a.Retried != 0 || !strings.Contains(a.LastErr, "bad "+worker.TypeSendMail+" payload") {
			t.Errorf("archived task %s: retried %d, last error %q", a.ID, a.Retried, a.LastErr)
		}
	}
	if calls, _ := s.counts(); calls != 0 {
		t.Fatalf("sender called %d times", calls)
	}
}

// Mail whose row is gone (the account was deleted) completes without
// sending and without retries.
func TestGoneMailCompletes(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	var uid int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('dora', 'dora@example.org', 'x') RETURNING id`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	id := e.record(t, mail.Message{UserID: uid, To: "dora@example.org", Subject: "s", Body: "b"})
	if _, err := e.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, uid); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM outbox_mail WHERE id = $1`, id).Scan(&left); err != nil || left != 0 {
		t.Fatalf("outbox row not deleted with its user: %d, %v", left, err)
	}
	if _, err := e.insp.GetTaskInfo(worker.QueueCritical, "mail:"+id.String()); err != nil {
		t.Fatalf("task not queued: %v", err)
	}
	s := &recordingSender{}
	e.startWorker(t, e.mux(s), nil)
	eventually(t, "the task to be processed", func() bool { return e.queueEmpty(t) })
	qi, err := e.insp.GetQueueInfo(worker.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	if qi.Failed != 0 || qi.Retry != 0 || qi.Archived != 0 {
		t.Fatalf("queue: failed %d, retry %d, archived %d; want a clean completion", qi.Failed, qi.Retry, qi.Archived)
	}
	if calls, _ := s.counts(); calls != 0 {
		t.Fatalf("sender called %d times for gone mail", calls)
	}
}

func get(t *testing.T, url, user, pass string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestMonitor(t *testing.T) {
	_, u, _ := testkit.Redis(t)
	opt, err := asynq.ParseRedisURI(u)
	if err != nil {
		t.Fatal(err)
	}
	isPage := func(t *testing.T, res *http.Response, body string) {
		t.Helper()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200: %.200s", res.StatusCode, body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("Content-Type %q, want text/html", ct)
		}
		if !strings.Contains(strings.ToLower(body), "<html") {
			t.Fatalf("body is not an HTML page: %.200s", body)
		}
	}

	t.Run("open", func(t *testing.T) {
		h := worker.Monitor(opt, "/monitor", "", "")
		if c, ok := h.(io.Closer); ok {
			t.Cleanup(func() { _ = c.Close() })
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		res, body := get(t, srv.URL+"/monitor/", "", "")
		isPage(t, res, body)
		res, body = get(t, srv.URL+"/monitor/api/queues", "", "")
		var queues struct{ Queues []any }
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &queues) != nil {
			t.Fatalf("API: status %d: %.200s", res.StatusCode, body)
		}
		// Without a password, only this machine is served.
		for _, from := range []string{"192.0.2.7:40000", "[2001:db8::1]:40000", "10.0.0.3:5000"} {
			req := httptest.NewRequest("GET", "/monitor/api/queues", nil)
			req.RemoteAddr = from
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("a client at %s got %d, want 403", from, rec.Code)
			}
		}
	})

	t.Run("password", func(t *testing.T) {
		srv := httptest.NewServer(worker.Monitor(opt, "/monitor", "admin", "hunter2"))
		t.Cleanup(srv.Close)
		for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"root", "hunter2"}, {"admin", ""}} {
			res, _ := get(t, srv.URL+"/monitor/", c.user, c.pass)
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("credentials %q/%q: status %d, want 401", c.user, c.pass, res.StatusCode)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("401 without a Basic challenge: %q", res.Header.Get("WWW-Authenticate"))
			}
		}
		res, _ := get(t, srv.URL+"/monitor/api/queues", "", "")
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API without credentials: status %d, want 401", res.StatusCode)
		}
		res, body := get(t, srv.URL+"/monitor/", "admin", "hunter2")
		isPage(t, res, body)
	})
}

// tickRuns registers a periodic task handler that counts its runs and takes
// a moment, like real work.
func tickRuns(work time.Duration) (*asynq.ServeMux, *atomic.Int64) {
	var runs atomic.Int64
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:tick", func(ctx context.Context, _ *asynq.Task) error {
		runs.Add(1)
		select {
		case <-time.After(work):
		case <-ctx.Done():
		}
		return nil
	})
	return mux, &runs
}

func tickTask() *asynq.Task { return asynq.NewTask("test:tick", nil, asynq.Queue(worker.QueueLow)) }

// Two workers run schedulers on the same Redis. "@every 1s" fires on whole
// seconds in both, and the Unique window makes them enqueue each firing
// once between them.
//
// asynq releases a Unique lock as soon as the task succeeds, so the window
// only covers schedulers that fire while the task is still queued or
// running. Here no run ends while the test watches: each lock lasts its
// whole second, whatever the machine's load, so the schedulers together
// enqueue at most once a second. Schedulers out of phase with work that
// ends are TestSchedulersOutOfPhase.
func TestSchedulersDoNotDuplicate(t *testing.T) {
	e := newEnv(t, "")
	var runs atomic.Int64
	release := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:tick", func(ctx context.Context, _ *asynq.Task) error {
		runs.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	periodic := []worker.Periodic{{Spec: "@every 1s", Task: tickTask, Unique: time.Second}}
	start := time.Now()
	e.startWorker(t, mux, periodic)
	e.startWorker(t, mux, periodic)
	eventually(t, "the periodic task to run", func() bool { return runs.Load() >= 1 })
	// Observe a few firings of both schedulers.
	time.Sleep(time.Until(start.Add(3500 * time.Millisecond)))
	n := runs.Load()
	elapsed := time.Since(start)
	close(release)
	t.Logf("%d runs in %v", n, elapsed)
	if limit := int64(elapsed/time.Second) + 1; n > limit {
		t.Fatalf("%d runs in %v with two schedulers; want at most %d (one per second)", n, elapsed, limit)
	}
}

// Schedulers started at different times fire "@every" specs out of phase:
// with DefaultPeriodic's "@every 1m", every process fires once a minute at
// its own second. Each run finishes long before another process fires, so
// asynq has already released the Unique lock; the task still runs once per
// period slot between them (periodicOnce), not once per process.
func TestSchedulersOutOfPhase(t *testing.T) {
	e := newEnv(t, "")
	mux, runs := tickRuns(0)
	periodic := []worker.Periodic{{Spec: "@every 3s", Task: tickTask, Unique: 2 * time.Second}}
	start := time.Now()
	e.startWorker(t, mux, periodic)
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	e.startWorker(t, mux, periodic)
	time.Sleep(time.Until(start.Add(9500 * time.Millisecond)))
	n := runs.Load()
	elapsed := time.Since(start)
	if limit := int64(elapsed/(3*time.Second)) + 1; n > limit {
		t.Fatalf("%d runs in %v with two schedulers on @every 3s; want at most %d", n, elapsed, limit)
	}
	// Nor does the dedup swallow whole periods: each 3 s slot the
	// schedulers fired in had a run (a firing can be late, so the first
	// and the last slot may be missed).
	if n < int64(elapsed/(3*time.Second))-1 {
		t.Fatalf("%d runs in %v with two schedulers on @every 3s; want about one every 3 s", n, elapsed)
	}
}

// A periodic run that fails gives its slot back: the retry (or another
// worker's firing) runs it, instead of finding the slot taken and
// counting as done.
func TestPeriodicFailureGivesTheSlotBack(t *testing.T) {
	e := newEnv(t, "")
	var runs atomic.Int64
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:tick", func(ctx context.Context, _ *asynq.Task) error {
		if runs.Add(1) == 1 {
			return errors.New("the first run fails")
		}
		return nil
	})
	task := func() *asynq.Task {
		return asynq.NewTask("test:tick", nil, asynq.Queue(worker.QueueLow), asynq.MaxRetry(3))
	}
	e.startWorker(t, mux, []worker.Periodic{{Spec: "@every 1h", Task: task, AtStart: true}})
	eventually(t, "the retry of the failed hourly run", func() bool { return runs.Load() >= 2 })
}

// An AtStart task runs when its worker starts, not a whole period later.
func TestPeriodicAtStart(t *testing.T) {
	e := newEnv(t, "")
	mux, runs := tickRuns(0)
	e.startWorker(t, mux, []worker.Periodic{{Spec: "@every 1h", Task: tickTask, AtStart: true}})
	eventually(t, "the hourly task to run at start", func() bool { return runs.Load() == 1 })
}

// The keys the worker writes for itself (a periodic task's slot) live
// under REDIS_PREFIX, as every key Jokster owns.
func TestPeriodicSlotKeysUnderPrefix(t *testing.T) {
	e := newEnv(t, "")
	mux, runs := tickRuns(0)
	w, err := worker.New(e.redis, 4, mux, []worker.Periodic{{Spec: "@every 1h", Task: tickTask, AtStart: true}}, fast,
		worker.KeyPrefix("pfx7:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	eventually(t, "the hourly task to run at start", func() bool { return runs.Load() == 1 })
	rdb := e.redis.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "*periodic*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "pfx7:periodic:test:tick:") {
		t.Fatalf("periodic slot keys %q, want one under pfx7:", keys)
	}
}

// A task asynq archived (its retries ran out, or its worker died on the
// last one) does not swallow the re-enqueue of work that is still to do:
// it is replaced by a pending one. A pending one is left alone.
func TestEnqueueReplacesArchived(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	q := worker.NewQueue(e.client, e.insp)
	mailID := uuid.New()
	if err := q.EnqueueMail(ctx, mailID); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueProcess(ctx, 42); err != nil {
		t.Fatal(err)
	}
	for _, task := range []struct{ queue, id string }{{worker.QueueCritical, "mail:" + mailID.String()}, {worker.QueueDefault, "media:process:42"}} {
		if err := e.insp.ArchiveTask(task.queue, task.id); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.EnqueueMail(ctx, mailID); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueProcess(ctx, 42); err != nil {
		t.Fatal(err)
	}
	for _, task := range []struct{ queue, id string }{{worker.QueueCritical, "mail:" + mailID.String()}, {worker.QueueDefault, "media:process:42"}} {
		info, err := e.insp.GetTaskInfo(task.queue, task.id)
		if err != nil || info.State != asynq.TaskStatePending {
			t.Fatalf("%s after the re-enqueue: %+v %v; want pending", task.id, info, err)
		}
	}
	if n, _ := e.insp.ListArchivedTasks(worker.QueueDefault); len(n) != 0 {
		t.Fatalf("archived tasks left: %d", len(n))
	}
}

// The re-enqueue job reaches every unsent row, however many wait ahead of
// it (before, only the oldest thousand were looked at, so rows still
// retrying kept newer lost ones from their turn).
func TestRequeueReachesEveryRow(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `INSERT INTO outbox_mail (id, to_addr, subject, body, created_at)
		SELECT gen_random_uuid(), 'x' || g || '@example.com', 'hi', 'body', now() - interval '1 hour' + g * interval '1 ms'
		FROM generate_series(1, 2500) g`); err != nil {
		t.Fatal(err)
	}
	n, err := e.outbox.Requeue(ctx, time.Minute)
	if err != nil || n != 2500 {
		t.Fatalf("Requeue = %d, %v; want all 2500", n, err)
	}
	tasks, err := e.insp.ListPendingTasks(worker.QueueCritical, asynq.PageSize(5000))
	if err != nil || len(tasks) != 2500 {
		t.Fatalf("%d pending tasks, %v; want 2500", len(tasks), err)
	}
}

// Queue sizes are on /metrics: tasks waiting in a queue no worker serves
// are counted as pending there, with the age of the oldest, and Jokster's
// other queues are reported empty.
func TestQueueMetrics(t *testing.T) {
	e := newEnv(t, "")
	for i := range 3 {
		if _, err := e.client.Enqueue(asynq.NewTask("test:waiting", []byte{byte(i)}, asynq.Queue(worker.QueueLow))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.Enqueue(asynq.NewTask("test:later", nil, asynq.Queue(worker.QueueLow), asynq.ProcessIn(time.Hour))); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(worker.QueueMetrics(e.redis))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{"jokster_queue_tasks low pending": 3, "jokster_queue_tasks low scheduled": 1,
		"jokster_queue_tasks low active": 0, "jokster_queue_tasks critical pending": 0, "jokster_queue_paused low": 0} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (reported: %v), want %v", key, v, ok, want)
		}
	}
	if v := got["jokster_queue_latency_seconds low"]; v <= 0 {
		t.Errorf("latency of a queue with pending tasks: %v, want above 0", v)
	}
}
