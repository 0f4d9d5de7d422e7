// Package config reads Jokster's settings from environment variables. Every
// setting has a default that suits `make run` on a developer machine; the
// README lists them (a test keeps that table in step with this struct).
package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/jokster/jokster/ratelimit"
)

// Config is every setting of every process. Fields are grouped by concern.
type Config struct {
	// Listeners.
	Addr      string `env:"ADDR" envDefault:":8080" doc:"public listener: REST API, WebSocket, web UI, /healthz, /readyz"`
	OpsAddr   string `env:"OPS_ADDR" envDefault:"127.0.0.1:8081" doc:"operations listener: /metrics, /monitor/ (asynqmon)"`
	PublicURL string `env:"PUBLIC_URL" envDefault:"http://localhost:8080" doc:"base of links in e-mails"`

	// Backing services.
	DatabaseURL    string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/jokster?sslmode=disable" doc:"PostgreSQL; the database is created if missing"`
	RedisURL       string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0" doc:"Redis for rankings, fan-out, rate limits and the asynq queues"`
	RedisPrefix    string `env:"REDIS_PREFIX" envDefault:"jokster:" doc:"prefix of every Redis key Jokster owns (asynq keeps its own)"`
	MigrateOnStart bool   `env:"MIGRATE_ON_START" envDefault:"true" doc:"apply pending migrations when serve/worker/all start"`

	// Accounts and tokens.
	JWTSecret            string        `env:"JWT_SECRET" doc:"HS256 key, 32+ bytes; when empty a random key is generated once and kept in PostgreSQL so every node shares it"`
	AccessTokenTTL       time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m" doc:"lifetime of JWT access tokens"`
	RefreshTokenTTL      time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h" doc:"lifetime of refresh tokens"`
	RequireVerifiedEmail bool          `env:"REQUIRE_VERIFIED_EMAIL" envDefault:"false" doc:"refuse log-in until the e-mail address is verified"`
	VerifyTokenTTL       time.Duration `env:"VERIFY_TOKEN_TTL" envDefault:"48h" doc:"lifetime of e-mail verification and change links"`
	ResetTokenTTL        time.Duration `env:"RESET_TOKEN_TTL" envDefault:"1h" doc:"lifetime of password-reset links"`
	LoginFreeAttempts    int           `env:"LOGIN_FREE_ATTEMPTS" envDefault:"5" doc:"failed log-ins per account before delays start"`
	LoginIPFreeAttempts  int           `env:"LOGIN_IP_FREE_ATTEMPTS" envDefault:"50" doc:"failed log-ins per client IP before delays start"`
	LoginMaxDelay        time.Duration `env:"LOGIN_MAX_DELAY" envDefault:"15m" doc:"longest delay imposed after repeated failures (it doubles from 1s)"`

	// Mail.
	SMTPURL  string `env:"SMTP_URL" doc:"smtp://user:pass@host:port (smtps:// for TLS); empty: mails are written to the log"`
	MailFrom string `env:"MAIL_FROM" envDefault:"Jokster <no-reply@jokster.localhost>" doc:"From: of every mail"`

	// Media.
	MediaRoot      string `env:"MEDIA_ROOT" envDefault:"./data/media" doc:"folder of uploaded files, served at /media/"`
	PhotoMaxBytes  int64  `env:"PHOTO_MAX_BYTES" envDefault:"8388608" doc:"largest profile photo upload, in bytes"`
	PhotoMaxPixels int64  `env:"PHOTO_MAX_PIXELS" envDefault:"40000000" doc:"largest profile photo, in pixels (width × height), checked before decoding"`
	PhotoSize      int    `env:"PHOTO_SIZE" envDefault:"512" doc:"profile photos are resized to fit this square"`

	// Posts and their media.
	UploadMaxBytes  int64   `env:"UPLOAD_MAX_BYTES" envDefault:"52428800" doc:"largest post upload, in bytes (streamed to disk, never held in memory)"`
	UploadMaxPixels int64   `env:"UPLOAD_MAX_PIXELS" envDefault:"40000000" doc:"largest image or GIF frame, in pixels, checked from the header before decoding"`
	GIFMaxFrames    int     `env:"GIF_MAX_FRAMES" envDefault:"500" doc:"most frames in a GIF"`
	GIFMaxPixels    int64   `env:"GIF_MAX_PIXELS" envDefault:"200000000" doc:"most pixels in all of a GIF's frames together (its decoded cost)"`
	VideoMaxSeconds float64 `env:"VIDEO_MAX_SECONDS" envDefault:"60" doc:"longest video"`

	// Live updates (WebSocket /ws).
	WSOrigins    []string `env:"WS_ORIGINS" envSeparator:"," doc:"browser origins allowed to open /ws besides the server's own; requests without Origin (non-browsers) are accepted"`
	WSMaxPerIP   int      `env:"WS_MAX_PER_IP" envDefault:"200" doc:"live connections per client IP per node"`
	WSMaxPerUser int      `env:"WS_MAX_PER_USER" envDefault:"20" doc:"live connections per signed-in user per node"`
	WSQueue      int      `env:"WS_QUEUE" envDefault:"256" doc:"messages buffered per connection; a client further behind is disconnected as slow"`
	WSBoardRate  float64  `env:"WS_BOARD_RATE" envDefault:"2" doc:"most board messages per second per board"`

	// HTTP.
	JSONBodyLimit  int           `env:"JSON_BODY_LIMIT" envDefault:"65536" doc:"largest JSON request body, in bytes"`
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT" envDefault:"15s" doc:"how long an API request may wait for the database and Redis before it is answered 503 (uploads and data exports excepted)"`
	TrustedProxies []string      `env:"TRUSTED_PROXIES" envSeparator:"," doc:"addresses or CIDRs of proxies whose X-Forwarded-For is believed (nginx)"`
	CORSOrigins    []string      `env:"CORS_ORIGINS" envSeparator:"," doc:"origins allowed by CORS; empty: CORS off"`

	// Operations.
	OpsUser           string        `env:"OPS_USER" envDefault:"admin" doc:"basic-auth user of /monitor/"`
	OpsPassword       string        `env:"OPS_PASSWORD" doc:"basic-auth password of /monitor/; empty: /monitor/ answers clients on this machine only"`
	OpsPprof          bool          `env:"OPS_PPROF" envDefault:"false" doc:"serve Go's profiler at /debug/pprof/ on the operations listener (behind the /monitor/ credentials)"`
	WorkerConcurrency int           `env:"WORKER_CONCURRENCY" envDefault:"10" doc:"asynq tasks run at once per worker process"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" doc:"how long each shutdown step may take"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info" doc:"debug, info, warn or error"`
	LogFormat         string        `env:"LOG_FORMAT" envDefault:"text" doc:"text or json"`

	// Boards.
	BoardCap int `env:"BOARD_CAP" envDefault:"10000" doc:"posts each post board (hot, top, tag) keeps in Redis, its top: deeper pages are read from PostgreSQL, and a post below it has no rank on that board (ranks); the creators board is kept whole"`

	// The cull (see README, "The cull").
	CullInterval time.Duration `env:"CULL_INTERVAL" envDefault:"1h" doc:"length of a cull cycle: the lowest-ranked posts are culled once per cycle, at its start (whole seconds, e.g. 30s for a demo; at 1s an occasional cycle is skipped, as a cycle is due within a second of its start and one that is over is not made up)"`
	CullGrace    time.Duration `env:"CULL_GRACE" envDefault:"24h" doc:"posts younger than this at the start of a cycle are never culled"`
	CullShare    float64       `env:"CULL_SHARE" envDefault:"0.1" doc:"most a cycle culls, as a share of the eligible posts (ready and past the grace period), rounded down; 0 turns the cull off"`
	CullMax      int           `env:"CULL_MAX" envDefault:"0" doc:"most posts a cycle culls, whatever the share; 0: no cap"`
	CullFloor    int           `env:"CULL_FLOOR" envDefault:"10" doc:"a cycle never leaves fewer ready posts than this (young ones included)"`
	CullBoard    string        `env:"CULL_BOARD" envDefault:"top" doc:"board whose bottom is culled: top (all-time top score) or hot"`

	// Rate limits, shared by every API node through Redis: "N/period" with
	// period s, m, h or d (or a Go duration such as 30s), optionally
	// "burst B" (requests allowed at once; default N); "0" is unlimited.
	// Over the limit a request gets 429 with Retry-After.
	RateIP       ratelimit.Rule `env:"RATE_IP" envDefault:"6000/m burst 1000" doc:"every API request, per client IP"`
	RateRegister ratelimit.Rule `env:"RATE_REGISTER" envDefault:"120/h burst 60" doc:"registrations, per client IP"`
	RateLogin    ratelimit.Rule `env:"RATE_LOGIN" envDefault:"300/m burst 100" doc:"log-in requests, per client IP (on top of the back-off after failed log-ins)"`
	RateUpload   ratelimit.Rule `env:"RATE_UPLOAD" envDefault:"120/h burst 60" doc:"new posts (uploads and text posts), per user"`
	RateComment  ratelimit.Rule `env:"RATE_COMMENT" envDefault:"300/h burst 60" doc:"comments, per user"`
	RateReport   ratelimit.Rule `env:"RATE_REPORT" envDefault:"60/h burst 20" doc:"reports of posts, per user"`
	RateReact    ratelimit.Rule `env:"RATE_REACT" envDefault:"1200/m burst 300" doc:"reactions set or removed, per user"`
	RateRate     ratelimit.Rule `env:"RATE_RATE" envDefault:"1200/m burst 300" doc:"ratings given, changed or withdrawn, per user"`
	RateWrite    ratelimit.Rule `env:"RATE_WRITE" envDefault:"600/m burst 200" doc:"any other signed-in write (profile, follow, password, …), per user"`
}

// Load reads the environment.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Validate rejects settings that would make the service unsafe or unusable.
func (c Config) Validate() error {
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return fmt.Errorf("config: JWT_SECRET must be at least 32 bytes (256 bits)")
	}
	if c.AccessTokenTTL <= 0 || c.RefreshTokenTTL <= 0 {
		return fmt.Errorf("config: token lifetimes must be positive")
	}
	if c.RequestTimeout < 100*time.Millisecond {
		return fmt.Errorf("config: REQUEST_TIMEOUT below 100ms")
	}
	if c.JSONBodyLimit < 1024 {
		return fmt.Errorf("config: JSON_BODY_LIMIT below 1024 bytes")
	}
	if c.PhotoMaxBytes <= 0 || c.PhotoMaxPixels <= 0 || c.PhotoSize < 16 {
		return fmt.Errorf("config: photo limits must be positive")
	}
	if c.UploadMaxBytes <= 0 || c.UploadMaxPixels <= 0 || c.GIFMaxFrames <= 0 || c.GIFMaxPixels <= 0 || c.VideoMaxSeconds <= 0 {
		return fmt.Errorf("config: upload limits must be positive")
	}
	if c.CullInterval < time.Second || c.CullInterval%time.Second != 0 {
		return fmt.Errorf("config: CULL_INTERVAL must be a whole number of seconds, at least 1s")
	}
	if c.CullGrace < 0 || c.CullShare < 0 || c.CullShare > 1 || c.CullMax < 0 || c.CullFloor < 0 {
		return fmt.Errorf("config: CULL_GRACE, CULL_MAX and CULL_FLOOR must not be negative, and CULL_SHARE lies in 0..1")
	}
	if c.BoardCap < 1 {
		return fmt.Errorf("config: BOARD_CAP must be at least 1")
	}
	if c.CullBoard != "top" && c.CullBoard != "hot" {
		return fmt.Errorf("config: CULL_BOARD must be top or hot")
	}
	// A mail server that cannot be reached must stop the start, not make
	// every mail "sent" to the log.
	if c.SMTPURL != "" {
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return fmt.Errorf("config: SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://…")
		}
	}
	for name, r := range map[string]ratelimit.Rule{"RATE_IP": c.RateIP, "RATE_REGISTER": c.RateRegister,
		"RATE_LOGIN": c.RateLogin, "RATE_UPLOAD": c.RateUpload, "RATE_COMMENT": c.RateComment, "RATE_REPORT": c.RateReport,
		"RATE_REACT": c.RateReact, "RATE_RATE": c.RateRate, "RATE_WRITE": c.RateWrite} {
		if !r.Unlimited() && (r.Per <= 0 || r.Burst < 0) {
			return fmt.Errorf("config: %s must be a rate such as \"30/h burst 10\" (or \"0\" for unlimited)", name)
		}
	}
	return nil
}

// Default returns the configuration with every default and no environment:
// tests start from it.
func Default() Config {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		panic(err)
	}
	return c
}
