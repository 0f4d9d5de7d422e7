package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/api"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/media"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/profiles"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/realtime"
	"github.com/jokster/jokster/seed"
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/web"
	"github.com/jokster/jokster/worker"
)

type roles struct{ api, worker bool }

// deps are the long-lived clients and services of one process.
type deps struct {
	cfg      config.Config
	db       *pgxpool.Pool
	rdb      *redis.Client
	redisOpt asynq.RedisConnOpt
	queue    *asynq.Client
	inspect  *asynq.Inspector
	tasks    *worker.Queue
	outbox   *mail.Outbox
	accounts *accounts.Service
	profiles *profiles.Service
	notify   *notifications.Service
	posts    *posts.Service
	ranking  *ranking.Service
	cull     *cull.Service
	broker   *realtime.RedisBroker
	pub      *realtime.Publisher
}

func connect(ctx context.Context, cfg config.Config, migrate bool) (*deps, error) {
	d := &deps{cfg: cfg}
	var err error
	if d.db, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if migrate {
		if err := store.Migrate(ctx, d.db); err != nil {
			d.db.Close()
			return nil, err
		}
	}
	ropt, err := redisOptions(cfg.RedisURL)
	if err != nil {
		d.db.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	d.rdb = redis.NewClient(ropt)
	if d.redisOpt, err = asynq.ParseRedisURI(cfg.RedisURL); err != nil {
		d.close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	d.queue = asynq.NewClient(d.redisOpt)
	d.inspect = asynq.NewInspector(d.redisOpt)
	d.tasks = worker.NewQueue(d.queue, d.inspect)
	key, err := accounts.SigningKey(ctx, d.db, cfg.JWTSecret)
	if err != nil {
		d.close()
		return nil, err
	}
	tokens, err := accounts.NewTokens(key, cfg.AccessTokenTTL)
	if err != nil {
		d.close()
		return nil, err
	}
	d.outbox = mail.NewOutbox(d.db, d.tasks, cfg.MailFrom)
	d.accounts = accounts.New(d.db, tokens, d.outbox, ratelimit.NewBackoff(d.rdb, cfg.RedisPrefix, cfg.LoginMaxDelay), accounts.Settings{
		PublicURL: cfg.PublicURL, RefreshTTL: cfg.RefreshTokenTTL, VerifyTTL: cfg.VerifyTokenTTL, ResetTTL: cfg.ResetTokenTTL,
		RequireVerifiedEmail: cfg.RequireVerifiedEmail, LoginFreeAttempts: cfg.LoginFreeAttempts, LoginIPFreeAttempts: cfg.LoginIPFreeAttempts,
	})
	d.notify = notifications.New(d.db, nil)
	d.profiles = profiles.New(d.db, d.notify, profiles.Settings{
		MediaRoot: cfg.MediaRoot, PhotoSize: cfg.PhotoSize,
		PhotoLimit: media.Limits{MaxBytes: cfg.PhotoMaxBytes, MaxPixels: cfg.PhotoMaxPixels},
	})
	tools := media.FindTools()
	if tools.FFmpeg == "" {
		slog.Warn("ffmpeg is not installed: video uploads are refused (make run installs it)")
	}
	d.posts = posts.New(d.db, d.tasks, d.notify, posts.Settings{
		MediaRoot: cfg.MediaRoot, Tools: tools,
		Limits: media.UploadLimits{MaxBytes: cfg.UploadMaxBytes, MaxPixels: cfg.UploadMaxPixels,
			MaxGIFFrames: cfg.GIFMaxFrames, MaxGIFPixels: cfg.GIFMaxPixels, MaxVideoSeconds: cfg.VideoMaxSeconds},
	})
	d.ranking = ranking.New(d.db, d.rdb, cfg.RedisPrefix, nil)
	d.ranking.SetBoardCap(cfg.BoardCap)
	d.posts.SetRanker(d.ranking)
	// Every process publishes live events; API nodes also deliver them.
	d.broker = realtime.NewRedisBroker(d.rdb, cfg.RedisPrefix)
	d.pub = realtime.NewPublisher(d.broker)
	live := realtime.Bridge{Pub: d.pub}
	d.cull = cull.New(d.db, cullSettings(cfg), cull.Deps{Boards: d.ranking, Files: d.posts, Queue: d.tasks,
		Notify: d.notify, Announce: live})
	registerMetrics(d.cull.Metrics())
	d.ranking.SetAnnouncer(live)
	d.notify.SetAnnouncer(live)
	d.posts.SetAnnouncer(live)
	return d, nil
}

// registerMetrics adds collectors built at start-up to /metrics (the
// packages register their plain counters themselves).
func registerMetrics(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := prometheus.Register(c); err != nil {
			slog.Warn("metrics: not registered", "err", err)
		}
	}
}

func (d *deps) close() {
	if d.queue != nil {
		_ = d.queue.Close()
	}
	if d.inspect != nil {
		_ = d.inspect.Close()
	}
	if d.rdb != nil {
		_ = d.rdb.Close()
	}
	d.db.Close()
}

// run starts the roles of this process and stops them in the documented
// order when ctx ends (README, "Shutdown"):
//  1. the public listener stops accepting and finishes in-flight requests;
//  2. the scheduler stops, then the worker finishes running tasks
//     (unfinished ones go back to the queue);
//  3. the Redis clients and then the PostgreSQL pool close;
//  4. the operations listener closes last, so metrics stay readable to the end.
func run(ctx context.Context, cfg config.Config, r roles) error {
	d, err := connect(ctx, cfg, cfg.MigrateOnStart)
	if err != nil {
		return err
	}
	closed := false
	closeStores := func() {
		if !closed {
			closed = true
			d.close()
			slog.Info("shutdown: Redis and PostgreSQL clients closed")
		}
	}
	defer closeStores()

	ops := &http.Server{Addr: cfg.OpsAddr, Handler: opsMux(d), ReadHeaderTimeout: 10 * time.Second}
	opsLn, err := net.Listen("tcp", cfg.OpsAddr)
	if err != nil {
		return fmt.Errorf("operations listener: %w", err)
	}
	go func() {
		if err := ops.Serve(opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("operations listener failed", "err", err)
		}
	}()
	slog.Info("operations listener up", "addr", opsLn.Addr().String(), "paths", "/metrics /monitor/")
	defer func() {
		closeStores()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		_ = ops.Shutdown(sctx)
		slog.Info("shutdown: operations listener closed; bye")
	}()

	var w *worker.Worker
	if r.worker {
		sender, err := mailSender(cfg)
		if err != nil {
			return err
		}
		h := &worker.Handlers{Outbox: d.outbox, Sender: sender, Posts: d.posts, Ranking: d.ranking, Notify: d.notify,
			Log: func(m string, a ...any) { slog.Info(m, a...) },
			Purgers: map[string]func(context.Context) (int64, error){"tokens": d.accounts.Purge, "notifications": d.notify.Purge,
				"post tombstones": d.ranking.PurgeTombstones,
				"media temporary files": func(context.Context) (int64, error) {
					n, err := media.CleanTemp(cfg.MediaRoot, time.Hour) // left by a crash mid-upload
					return int64(n), err
				}}}
		h.Cull = d.cull
		periodic := append(worker.DefaultPeriodic(), worker.CullPeriodic(cfg.CullInterval))
		if w, err = worker.New(d.redisOpt, cfg.WorkerConcurrency, h.Mux(), periodic, worker.ShutdownTimeout(cfg.ShutdownTimeout),
			worker.KeyPrefix(cfg.RedisPrefix)); err != nil {
			return err
		}
		if err := w.Start(); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		registerMetrics(worker.QueueMetrics(d.redisOpt))
		slog.Info("worker up", "concurrency", cfg.WorkerConcurrency)
	}

	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); d.pub.Run(pubCtx) }()
	defer func() { stopPub(); <-pubDone }()

	errc := make(chan error, 1)
	var app interface{ ShutdownWithTimeout(time.Duration) error }
	var hub *realtime.Hub
	rankCtx, stopRank := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRank()
	rankDone := make(chan struct{})
	if r.api {
		// Rating writers, and the loop that rebuilds and reconciles boards.
		d.ranking.Start()
		go func() { defer close(rankDone); d.ranking.Run(rankCtx, 10*time.Second) }()
		hub = realtime.NewHub(d.broker, hubConfig(cfg), func(token string) (int64, time.Time, error) {
			c, err := d.accounts.Tokens().Parse(token)
			return c.UserID, c.Expires, err
		})
		go hub.Run(rankCtx)
		d.pub.DeliverLocally(hub)
		a := api.New(api.Deps{Config: cfg, DB: d.db, Redis: d.rdb, Accounts: d.accounts, Profiles: d.profiles,
			Notifications: d.notify, Posts: d.posts, Ranking: d.ranking, Cull: d.cull, Hub: hub, Web: web.Dist(),
			ReadyChecks: map[string]func(context.Context) error{"live": hub.Ready}})
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			if w != nil {
				w.Shutdown()
			}
			d.ranking.Stop()
			return fmt.Errorf("public listener: %w", err)
		}
		app = a
		go func() { errc <- a.Listener(ln) }()
		slog.Info("public listener up", "addr", ln.Addr().String(), "url", cfg.PublicURL)
	}

	select {
	case <-ctx.Done():
		slog.Info("shutdown: signal received")
	case err = <-errc:
		slog.Error("public listener failed", "err", err)
	}
	if app != nil {
		hub.Close() // WebSocket clients reconnect to another node
		if err := app.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
			slog.Warn("shutdown: public listener", "err", err)
		}
		slog.Info("shutdown: public listener closed")
		d.ranking.Stop() // commits every queued rating
		stopRank()
		<-rankDone
		slog.Info("shutdown: rating writers drained")
	} else {
		stopRank()
	}
	if w != nil {
		w.Shutdown()
		slog.Info("shutdown: worker stopped")
	}
	return err
}

func hubConfig(cfg config.Config) realtime.Config {
	hc := realtime.DefaultConfig()
	hc.Origins = append(cfg.WSOrigins, cfg.PublicURL)
	hc.MaxPerIP, hc.MaxPerUser, hc.QueueSize, hc.BoardRate = cfg.WSMaxPerIP, cfg.WSMaxPerUser, cfg.WSQueue, cfg.WSBoardRate
	return hc
}

// cullSettings are the cull's CULL_* settings.
func cullSettings(cfg config.Config) cull.Settings {
	return cull.Settings{Interval: cfg.CullInterval, Grace: cfg.CullGrace, Share: cfg.CullShare, Max: cfg.CullMax,
		Floor: cfg.CullFloor, Board: cfg.CullBoard}
}

func opsMux(d *deps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.Handle("/monitor/", worker.Monitor(d.redisOpt, "/monitor", d.cfg.OpsUser, d.cfg.OpsPassword))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	if d.cfg.OpsPprof {
		prof := http.NewServeMux()
		prof.HandleFunc("/debug/pprof/", pprof.Index)
		prof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
		prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/debug/pprof/", worker.BasicAuth(prof, d.cfg.OpsUser, d.cfg.OpsPassword))
	}
	return mux
}

// mailSender is the SMTP server of SMTP_URL, or the log when it is unset.
// A URL that cannot be used stops the start: falling back to the log would
// mark every mail sent that went nowhere.
func mailSender(cfg config.Config) (mail.Sender, error) {
	if cfg.SMTPURL == "" {
		slog.Info("SMTP_URL is not set: mails are written to the log")
		return mail.LogSender{}, nil
	}
	return mail.NewSMTPSender(cfg.SMTPURL)
}

func migrate(ctx context.Context, cfg config.Config) error {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return store.Migrate(ctx, db)
}

func seedDemo(ctx context.Context, cfg config.Config) error {
	d, err := connect(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer d.close()
	d.ranking.Start()
	err = seed.Run(ctx, d.db, d.accounts, d.profiles, d.posts, d.ranking)
	d.ranking.Stop()
	if err != nil {
		return err
	}
	fmt.Printf("demo users alice (admin), bob, carol, dave, erin — password %q\n", seed.Password)
	return nil
}

func admin(ctx context.Context, cfg config.Config, args []string) error {
	if len(args) != 2 || (args[0] != "grant" && args[0] != "revoke") {
		return errors.New("usage: jokster admin grant|revoke <username>")
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Exec(ctx, `UPDATE users SET is_admin = $2 WHERE lower(username) = lower($1)`, args[1], args[0] == "grant")
	if err != nil {
		return err
	}
	if t.RowsAffected() == 0 {
		return fmt.Errorf("no user %q", args[1])
	}
	fmt.Printf("%s: admin %s\n", args[1], map[bool]string{true: "granted", false: "revoked"}[args[0] == "grant"])
	return nil
}

// redisOptions are the Redis client's: go-redis's defaults ignore a
// request's deadline and wait up to 3 s a read, three times over, so a
// Redis that hangs (rather than refusing connections) held every request
// for its whole deadline and more. Calls now end with their context's
// deadline, a read waits at most 2 s, and a failed call is tried once more.
func redisOptions(url string) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.MaxRetries = 1
	return opt, nil
}
