package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
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
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/testkit"
	"github.com/jokster/jokster/worker"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// env is one running server on its own database and Redis database.
type env struct {
	t          *testing.T
	cfg        config.Config
	db         *pgxpool.Pool
	rdb        *redis.Client
	base       string
	acc        *accounts.Service
	posts      *posts.Service
	ropt       asynq.RedisConnOpt
	out        *mail.Outbox
	rank       *ranking.Service
	heard      *ranking.Memory
	notes      *notifications.Service
	hub        *realtime.Hub
	rankPrefix string
	deps       api.Deps
	hcfg       realtime.Config
	parse      realtime.TokenParser
	cull       *cull.Service
}

// fastHash keeps argon2id's shape with a test-friendly cost; production
// cost is measured in docs/benchmarks.md.
var fastHash = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newEnv(t *testing.T, tweak ...func(*config.Config)) *env {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.MediaRoot = t.TempDir()
	cfg.PublicURL = "http://jokster.test"
	for _, f := range tweak {
		f(&cfg)
	}
	dbURL := testkit.DB(t)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	rdb, redisURL, prefix := (*redis.Client)(nil), cfg.RedisURL, "t:"
	if redisURL == config.Default().RedisURL {
		rdb, redisURL, prefix = testkit.Redis(t)
	} else { // the test brought its own server
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
	}
	ropt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	qc := asynq.NewClient(ropt)
	t.Cleanup(func() { _ = qc.Close() })
	qi := asynq.NewInspector(ropt)
	t.Cleanup(func() { _ = qi.Close() })
	key, err := accounts.SigningKey(ctx, db, cfg.JWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := accounts.NewTokens(key, cfg.AccessTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(db, worker.NewQueue(qc, qi), cfg.MailFrom)
	acc := accounts.New(db, tokens, outbox, ratelimit.NewBackoff(rdb, prefix, cfg.LoginMaxDelay), accounts.Settings{
		PublicURL: cfg.PublicURL, RefreshTTL: cfg.RefreshTokenTTL, VerifyTTL: cfg.VerifyTokenTTL, ResetTTL: cfg.ResetTokenTTL,
		RequireVerifiedEmail: cfg.RequireVerifiedEmail, LoginFreeAttempts: cfg.LoginFreeAttempts, LoginIPFreeAttempts: cfg.LoginIPFreeAttempts,
		Hash: fastHash,
	})
	notify := notifications.New(db, nil)
	prof := profiles.New(db, notify, profiles.Settings{MediaRoot: cfg.MediaRoot, PhotoSize: cfg.PhotoSize,
		PhotoLimit: media.Limits{MaxBytes: cfg.PhotoMaxBytes, MaxPixels: cfg.PhotoMaxPixels}})
	ps := posts.New(db, worker.NewQueue(qc, qi), notify, posts.Settings{MediaRoot: cfg.MediaRoot, Tools: media.FindTools(),
		Limits: media.UploadLimits{MaxBytes: cfg.UploadMaxBytes, MaxPixels: cfg.UploadMaxPixels, MaxGIFFrames: cfg.GIFMaxFrames,
			MaxGIFPixels: cfg.GIFMaxPixels, MaxVideoSeconds: cfg.VideoMaxSeconds}})
	heard := &ranking.Memory{}
	rank := ranking.New(db, rdb, prefix, heard)
	ps.SetRanker(rank)
	// Live updates through a Redis broker under this test's prefix.
	broker := realtime.NewRedisBroker(rdb, prefix)
	pub := realtime.NewPublisher(broker)
	live := realtime.Bridge{Pub: pub}
	rank.SetAnnouncer(teeAnnouncer{heard, live})
	notify.SetAnnouncer(live)
	ps.SetAnnouncer(live)
	hcfg := realtime.DefaultConfig()
	hcfg.BoardRate = 10
	for _, f := range hubTweaks {
		f(&hcfg)
	}
	parse := func(token string) (int64, time.Time, error) {
		c, err := tokens.Parse(token)
		return c.UserID, c.Expires, err
	}
	hub := realtime.NewHub(broker, hcfg, parse)
	pub.DeliverLocally(hub)
	liveCtx, stopLive := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.Run(liveCtx) }()
	go hub.Run(liveCtx)
	t.Cleanup(func() { hub.Close(); stopLive(); <-pubDone })
	rank.Start()
	rctx, stopRank := context.WithCancel(context.Background())
	rankDone := make(chan struct{})
	go func() { defer close(rankDone); rank.Run(rctx, 200*time.Millisecond) }()
	t.Cleanup(func() { stopRank(); <-rankDone; rank.Stop() })
	cl := cull.New(db, cullSettings(cfg), cull.Deps{Boards: rank, Files: ps, Queue: worker.NewQueue(qc, qi), Notify: notify, Now: cullClock})
	deps := api.Deps{Config: cfg, DB: db, Redis: rdb, Accounts: acc, Profiles: prof, Notifications: notify, Posts: ps, Ranking: rank, Cull: cl,
		Hub: hub, ReadyChecks: map[string]func(context.Context) error{"live": hub.Ready}}
	app := api.New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return &env{t: t, cfg: cfg, db: db, rdb: rdb, base: "http://" + ln.Addr().String(), acc: acc, posts: ps, ropt: ropt, out: outbox,
		rank: rank, heard: heard, notes: notify, hub: hub, deps: deps, hcfg: hcfg, parse: parse, rankPrefix: prefix, cull: cl}
}

// sibling starts a second API node on the same PostgreSQL and Redis, with
// its own hub and Redis subscription, as a second `jokster serve` would.
func (e *env) sibling() *env {
	e.t.Helper()
	ropt, _ := redis.ParseURL(e.cfg.RedisURL)
	var rdb *redis.Client
	if e.cfg.RedisURL != config.Default().RedisURL {
		rdb = redis.NewClient(ropt)
	} else {
		rdb = redis.NewClient(e.rdb.Options())
	}
	e.t.Cleanup(func() { _ = rdb.Close() })
	prefix := e.rankPrefix
	hub := realtime.NewHub(realtime.NewRedisBroker(rdb, prefix), e.hcfg, e.parse)
	ctx, stop := context.WithCancel(context.Background())
	go hub.Run(ctx)
	d := e.deps
	d.Hub = hub
	d.ReadyChecks = map[string]func(context.Context) error{"live": hub.Ready}
	app := api.New(d)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	e.t.Cleanup(func() { hub.Close(); _ = app.ShutdownWithTimeout(5 * time.Second); stop() })
	s := *e
	s.base = "http://" + ln.Addr().String()
	s.hub = hub
	return &s
}

// cullClock, when set, is the clock of the cull in envs made meanwhile
// (nil: time.Now).
var cullClock func() time.Time

// hubTweaks adjust the live hub's settings of envs made while they are set.
var hubTweaks []func(*realtime.Config)

// teeAnnouncer tells two announcers.
type teeAnnouncer struct{ a, b ranking.Announcer }

func (t teeAnnouncer) StatsChanged(ctx context.Context, post, v int64, st ranking.Stats) {
	t.a.StatsChanged(ctx, post, v, st)
	t.b.StatsChanged(ctx, post, v, st)
}

func (t teeAnnouncer) BoardChanged(ctx context.Context, board string) {
	t.a.BoardChanged(ctx, board)
	t.b.BoardChanged(ctx, board)
}

// startWorker runs a real asynq worker for this env (media processing,
// collection, mail) until the test ends.
func (e *env) startWorker() {
	e.t.Helper()
	h := &worker.Handlers{Outbox: e.out, Sender: mail.LogSender{}, Posts: e.posts, Ranking: e.rank, Notify: e.notes, Cull: e.cull, Log: func(string, ...any) {}}
	w, err := worker.New(e.ropt, 4, h.Mux(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Shutdown)
}

// eventually polls cond until it holds or a generous deadline passes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	specDoc    *openapi3.T
	specRouter routers.Router
)

func spec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	if specDoc == nil {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			t.Fatalf("openapi.yaml: %v", err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("openapi.yaml: %v", err)
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatal(err)
		}
		specDoc, specRouter = doc, r
	}
	return specDoc, specRouter
}

// client is a real HTTP client that checks every response against the
// OpenAPI document, so the document cannot drift from the server.
type client struct {
	e     *env
	http  *http.Client
	token string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	t      *testing.T
	Status int
	Header http.Header
	Body   []byte
}

// undocumented paths are not part of the API contract.
var undocumented = regexp.MustCompile(`^/(media/|redoc/|assets/)|^/$`)

func (c *client) send(req *http.Request) *resp {
	t := c.e.t
	t.Helper()
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &resp{t: t, Status: res.StatusCode, Header: res.Header, Body: body}
	if !undocumented.MatchString(req.URL.Path) {
		c.validate(req, reqBody, r)
	}
	return r
}

func (c *client) validate(req *http.Request, reqBody []byte, r *resp) {
	t := c.e.t
	t.Helper()
	_, router := spec(t)
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(vreq)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		// Not part of the contract; it must still be a JSON error.
		if r.Status != 404 && r.Status != 405 {
			t.Errorf("%s %s (not in openapi.yaml) answered %d", req.Method, req.URL.Path, r.Status)
		}
		r.errCode()
		return
	} else if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  r.Status,
		Header:  r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}

func (c *client) do(method, path string, body any) *resp {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		case []byte:
			rd = bytes.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				c.e.t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, c.e.base+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req)
}

func (c *client) get(path string) *resp            { c.e.t.Helper(); return c.do("GET", path, nil) }
func (c *client) post(path string, body any) *resp { c.e.t.Helper(); return c.do("POST", path, body) }

// upload sends one file in a multipart form field.
func (c *client) upload(method, path, field, filename string, data []byte) *resp {
	c.e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile(field, filename)
	_, _ = fw.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest(method, c.e.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.send(req)
}

// want fails the test unless the response has the status.
func (r *resp) want(status int) *resp {
	r.t.Helper()
	if r.Status != status {
		r.t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

func (r *resp) json(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (r *resp) m() map[string]any {
	r.t.Helper()
	var v map[string]any
	r.json(&v)
	return v
}

// errCode returns the error body's code (and checks the body's shape).
func (r *resp) errCode() string {
	r.t.Helper()
	var v struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(&v)
	if v.Error.Code == "" || v.Error.Message == "" {
		r.t.Fatalf("error body without code or message: %s", r.Body)
	}
	return v.Error.Code
}

func (r *resp) field(name string) string {
	r.t.Helper()
	var v struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(&v)
	return v.Error.Fields[name]
}

const testPassword = "correct horse battery staple"

// signup registers username and logs in, returning a signed-in client.
func (e *env) signup(username string) *client {
	e.t.Helper()
	c := e.client()
	c.post("/api/v1/auth/register", map[string]string{"username": username, "email": username + "@example.com", "password": testPassword}).want(201)
	c.login(username, testPassword)
	return c
}

// login signs c in as username and keeps the access token.
func (c *client) login(username, password string) {
	c.e.t.Helper()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	c.post("/api/v1/auth/login", map[string]string{"username": username, "password": password}).want(200).json(&s)
	c.token = s.AccessToken
}

// count runs a count(*) query.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

var tokenInMail = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

// mailedToken returns the token in the newest outbox mail to addr whose
// subject contains subject.
func (e *env) mailedToken(addr, subject string) string {
	e.t.Helper()
	var body string
	err := e.db.QueryRow(context.Background(), `SELECT body FROM outbox_mail WHERE to_addr = $1 AND subject LIKE '%' || $2 || '%' ORDER BY created_at DESC LIMIT 1`,
		addr, subject).Scan(&body)
	if err != nil {
		e.t.Fatalf("no mail to %s about %q: %v", addr, subject, err)
	}
	m := tokenInMail.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no token in mail: %s", body)
	}
	return m[1]
}
