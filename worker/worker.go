package worker

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
)

// Periodic is one scheduled task.
type Periodic struct {
	Spec string // cron spec or "@every 1m"
	Task func() *asynq.Task
	// Unique stops a second copy from being enqueued while one is still
	// pending or running. Across worker processes, whose schedulers fire
	// "@every" specs out of phase, a task of an "@every" spec also runs at
	// most once per period slot (see periodicOnce); periodic tasks must
	// still be idempotent.
	Unique time.Duration
	// AtStart also enqueues the task when the worker starts, for work a
	// returning worker should catch up on without waiting a whole period
	// (a cull missed while no worker ran). It counts as its slot's run.
	AtStart bool
}

// every is the period of an "@every" spec, 0 for other specs.
func (p Periodic) every() time.Duration {
	d, err := time.ParseDuration(strings.TrimPrefix(p.Spec, "@every "))
	if err != nil || !strings.HasPrefix(p.Spec, "@every ") {
		return 0
	}
	return d
}

// periodicOnce runs a periodic task at most once per slot of its period
// (the Unix time divided by the period), whichever worker's scheduler
// fired it: asynq's Unique lock ends when the task succeeds, so N workers
// whose schedulers fire out of phase would otherwise run it N times a
// period. Firings of a slot after the first are done at once.
type periodicOnce struct {
	next   asynq.Handler
	rdb    redis.UniversalClient
	prefix string                   // REDIS_PREFIX, as every key Jokster owns
	period map[string]time.Duration // task type → period
}

func (p periodicOnce) ProcessTask(ctx context.Context, t *asynq.Task) error {
	d, ok := p.period[t.Type()]
	if !ok {
		return p.next.ProcessTask(ctx, t)
	}
	slot := time.Now().UnixMilli() / d.Milliseconds()
	key := fmt.Sprintf("%speriodic:%s:%d", p.prefix, t.Type(), slot)
	first, err := p.rdb.SetNX(ctx, key, 1, d).Result()
	if err != nil {
		return err
	}
	if !first {
		return nil
	}
	if err := p.next.ProcessTask(ctx, t); err != nil {
		// The slot did not get its run: let the retry, or another
		// worker's firing, have it.
		_ = p.rdb.Del(context.WithoutCancel(ctx), key).Err()
		return err
	}
	return nil
}

// DefaultPeriodic is the housekeeping every deployment runs. The hourly
// purge also runs at start: workers restarted more often than hourly
// (deploys) would otherwise never expire tokens and old notifications; its
// period slot keeps restarts within an hour from purging again.
func DefaultPeriodic() []Periodic {
	return []Periodic{
		{Spec: "@every 1m", Task: func() *asynq.Task { return asynq.NewTask(TypeRequeueLost, nil, asynq.Queue(QueueLow)) }, Unique: 50 * time.Second, AtStart: true},
		{Spec: "@every 1h", Task: func() *asynq.Task { return asynq.NewTask(TypePurge, nil, asynq.Queue(QueueLow)) }, Unique: 50 * time.Minute, AtStart: true},
		{Spec: "@every 1m", Task: NewNotifyRatingsTask, Unique: 50 * time.Second},
	}
}

// Worker is the asynq server and scheduler of one process.
type Worker struct {
	srv     *asynq.Server
	sched   *asynq.Scheduler
	handler asynq.Handler
	redis   asynq.RedisConnOpt
	rdb     redis.UniversalClient // periodicOnce's
	atStart []*asynq.Task
}

// Config is what New builds a worker with: the asynq server's
// configuration, and the prefix of the keys of Jokster's own the worker
// writes (asynq's have none).
type Config struct {
	asynq.Config
	KeyPrefix string
}

// Option adjusts the configuration New builds (tests use it to shorten
// retry delays and polling intervals).
type Option func(*Config)

// ShutdownTimeout bounds how long Shutdown lets running tasks finish
// (SHUTDOWN_TIMEOUT; tasks not finished by then go back to the queue).
func ShutdownTimeout(d time.Duration) Option {
	return func(c *Config) { c.ShutdownTimeout = d }
}

// KeyPrefix is REDIS_PREFIX (default "jokster:").
func KeyPrefix(p string) Option {
	return func(c *Config) { c.KeyPrefix = p }
}

// New builds a worker on Redis r running concurrency tasks at once.
func New(r asynq.RedisConnOpt, concurrency int, mux *asynq.ServeMux, periodic []Periodic, options ...Option) (*Worker, error) {
	log := slogLogger{}
	cfg := Config{KeyPrefix: "jokster:", Config: asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		Logger:          log,
		ShutdownTimeout: 15 * time.Second,
		ErrorHandler: asynq.ErrorHandlerFunc(func(_ context.Context, t *asynq.Task, err error) {
			slog.Warn("task failed", "type", t.Type(), "err", err)
		}),
		// Tasks scheduled for a time (the next cull, at its cycle's start)
		// and retries become due within a second rather than asynq's
		// default five.
		DelayedTaskCheckInterval: time.Second,
	}}
	for _, o := range options {
		o(&cfg)
	}
	srv := asynq.NewServer(r, cfg.Config)
	sched := asynq.NewScheduler(r, &asynq.SchedulerOpts{Logger: log, Location: time.UTC})
	rdb, ok := r.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("worker: no Redis client for %T", r)
	}
	once := periodicOnce{next: mux, rdb: rdb, prefix: cfg.KeyPrefix, period: map[string]time.Duration{}}
	w := &Worker{srv: srv, sched: sched, handler: once, redis: r, rdb: rdb}
	for _, p := range periodic {
		opts := []asynq.Option{}
		if p.Unique > 0 {
			opts = append(opts, asynq.Unique(p.Unique))
		}
		if _, err := sched.Register(p.Spec, p.Task(), opts...); err != nil {
			return nil, fmt.Errorf("worker: schedule %s: %w", p.Spec, err)
		}
		if d := p.every(); d >= time.Millisecond {
			once.period[p.Task().Type()] = d
		}
		if p.AtStart {
			w.atStart = append(w.atStart, p.Task())
		}
	}
	return w, nil
}

// Start begins processing tasks and firing the schedule, and enqueues the
// AtStart tasks.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.handler); err != nil {
		return err
	}
	if err := w.sched.Start(); err != nil {
		return err
	}
	if len(w.atStart) > 0 {
		c := asynq.NewClient(w.redis)
		defer c.Close()
		for _, t := range w.atStart {
			if _, err := c.Enqueue(t); err != nil {
				// The schedule still fires it within its period.
				slog.Warn("worker: enqueue at start failed", "type", t.Type(), "err", err)
			}
		}
	}
	return nil
}

// Shutdown stops the scheduler, then lets running tasks finish (up to the
// server's shutdown timeout; unfinished ones return to the queue).
func (w *Worker) Shutdown() {
	w.sched.Shutdown()
	w.srv.Shutdown()
	_ = w.rdb.Close()
}

// Monitor returns asynqmon mounted at root ("/monitor"), behind basic auth
// when password is set. Without a password it answers loopback clients
// only: an operations listener bound to a network address (as in compose,
// where nginx and Prometheus reach it) would otherwise let any neighbour
// pause queues or delete tasks.
func Monitor(r asynq.RedisConnOpt, root, user, password string) http.Handler {
	h := asynqmon.New(asynqmon.Options{RootPath: root, RedisConnOpt: r})
	if password == "" {
		return loopbackOnly{h}
	}
	return BasicAuth(h, user, password)
}

// loopbackOnly serves clients on this machine and refuses the others.
type loopbackOnly struct{ h *asynqmon.HTTPHandler }

func (l loopbackOnly) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "the monitor has no password (OPS_PASSWORD): it answers this machine only", http.StatusForbidden)
		return
	}
	l.h.ServeHTTP(w, req)
}

// Close releases asynqmon's connections.
func (l loopbackOnly) Close() error { return l.h.Close() }

// BasicAuth puts h behind HTTP basic auth with user and password; with no
// password h is returned as it is (the operations listener is loopback by
// default).
func BasicAuth(h http.Handler, user, password string) http.Handler {
	if password == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="jokster monitor"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// slogLogger adapts asynq's logger to log/slog.
type slogLogger struct{}

func msg(args []any) string {
	return strings.TrimSpace(fmt.Sprintln(args...))
}

func (slogLogger) Debug(args ...any) { slog.Debug(msg(args), "component", "asynq") }
func (slogLogger) Info(args ...any)  { slog.Info(msg(args), "component", "asynq") }
func (slogLogger) Warn(args ...any)  { slog.Warn(msg(args), "component", "asynq") }
func (slogLogger) Error(args ...any) { slog.Error(msg(args), "component", "asynq") }
func (slogLogger) Fatal(args ...any) { slog.Error(msg(args), "component", "asynq", "fatal", true) }
