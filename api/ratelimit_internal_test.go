package api

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/testkit"
)

// limitApp serves POST /x behind the given middlewares (built from s) on
// a real listener. A request's X-Test-User header signs it in as that user
// id, standing in for s.auth.
func limitApp(t *testing.T, mw ...fiber.Handler) string {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler, DisableStartupMessage: true})
	handlers := []fiber.Handler{func(c *fiber.Ctx) error {
		if id, err := strconv.ParseInt(c.Get("X-Test-User"), 10, 64); err == nil {
			c.Locals("claims", accounts.Claims{UserID: id})
		}
		return c.Next()
	}}
	handlers = append(handlers, mw...)
	handlers = append(handlers, func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Post("/x", handlers...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String() + "/x"
}

type limitResp struct {
	status     int
	retry      string
	remaining  string
	code, text string
}

func hit(t *testing.T, url string, user int64) limitResp {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	if user != 0 {
		req.Header.Set("X-Test-User", strconv.FormatInt(user, 10))
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := limitResp{status: res.StatusCode, retry: res.Header.Get("Retry-After"), remaining: res.Header.Get("X-RateLimit-Remaining")}
	if res.StatusCode != 200 {
		var e errorBody
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%d with a body that is not a JSON error: %s", res.StatusCode, body)
		}
		r.code, r.text = e.Error.Code, e.Error.Message
	}
	return r
}

func limitServer(t *testing.T, rdb redis.UniversalClient, prefix string, tweak ...func(*config.Config)) *server {
	cfg := config.Default()
	cfg.RedisPrefix = prefix
	for _, f := range tweak {
		f(&cfg)
	}
	return &server{Deps: Deps{Config: cfg, Redis: rdb}, cfg: cfg}
}

func TestRateLimitPerUser429WithRetryAfter(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	s := limitServer(t, rdb, prefix)
	url := limitApp(t, s.limit("comment", ratelimit.Rule{Rate: 2, Per: time.Hour, Burst: 2}, true))

	for i, want := range []string{"1", "0"} {
		if r := hit(t, url, 7); r.status != 200 || r.remaining != want {
			t.Fatalf("request %d: %+v, want 200 with %s remaining", i+1, r, want)
		}
	}
	r := hit(t, url, 7)
	if r.status != 429 || r.code != "rate_limited" {
		t.Fatalf("3rd request: %+v, want 429 rate_limited", r)
	}
	secs, err := strconv.Atoi(r.retry)
	if err != nil || secs < 1700 || secs > 1800 { // one comment every 30 minutes
		t.Fatalf("Retry-After %q, want about 1800", r.retry)
	}
	if r.text != "too many comment requests; try again in "+r.retry+" s" {
		t.Fatalf("message %q", r.text)
	}
	// Other users, and anonymous callers (counted per IP), have their own.
	if r := hit(t, url, 8); r.status != 200 {
		t.Fatalf("user 8: %+v", r)
	}
	if r := hit(t, url, 0); r.status != 200 {
		t.Fatalf("anonymous: %+v", r)
	}
	if n, _ := rdb.Exists(t.Context(), prefix+"rl:comment:u:7", prefix+"rl:comment:ip:127.0.0.1").Result(); n != 2 {
		t.Fatalf("%d of the expected keys exist", n)
	}
}

func TestRateLimitPerIPFromSettingsSharedAcrossNodes(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	tight := func(c *config.Config) { c.RateRegister = ratelimit.Rule{Rate: 3, Per: time.Hour, Burst: 3} }
	// Two API nodes on one Redis share the count.
	node1 := limitApp(t, limitServer(t, rdb, prefix, tight).rate("register"))
	node2 := limitApp(t, limitServer(t, rdb, prefix, tight).rate("register"))
	for i, url := range []string{node1, node2, node1} {
		if r := hit(t, url, int64(i+1)); r.status != 200 { // per IP: the user does not matter
			t.Fatalf("request %d: %+v", i+1, r)
		}
	}
	r := hit(t, node2, 9)
	if r.status != 429 || r.code != "rate_limited" || r.retry == "" || !strings.HasPrefix(r.text, "too many registration requests") {
		t.Fatalf("4th registration: %+v, want 429", r)
	}
	// Another deployment prefix on the same Redis counts apart.
	if r := hit(t, limitApp(t, limitServer(t, rdb, prefix+"b:", tight).rate("register")), 0); r.status != 200 {
		t.Fatalf("other prefix: %+v", r)
	}
}

func TestRateLimitSmallestRemainingWins(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	s := limitServer(t, rdb, prefix)
	url := limitApp(t, s.limit("ip", ratelimit.Rule{Rate: 100, Per: time.Hour}, false),
		s.limit("upload", ratelimit.Rule{Rate: 5, Per: time.Hour}, true))
	if r := hit(t, url, 1); r.status != 200 || r.remaining != "4" {
		t.Fatalf("%+v, want 4 remaining (the upload limit)", r)
	}
	url = limitApp(t, s.limit("upload2", ratelimit.Rule{Rate: 5, Per: time.Hour}, true),
		s.limit("ip2", ratelimit.Rule{Rate: 100, Per: time.Hour}, false))
	if r := hit(t, url, 1); r.status != 200 || r.remaining != "4" {
		t.Fatalf("%+v, want 4 remaining whatever the order", r)
	}
}

func TestRateLimitUnlimitedAndUnknown(t *testing.T) {
	// Unlimited rules (and a server without Redis) never ask Redis.
	s := limitServer(t, nil, "p:", func(c *config.Config) { c.RateReport = ratelimit.Rule{} })
	url := limitApp(t, s.rate("report"), s.rate("upload"))
	for i := 0; i < 3; i++ {
		if r := hit(t, url, 1); r.status != 200 || r.remaining != "" {
			t.Fatalf("%+v", r)
		}
	}
	for name := range rateActions {
		s.rate(name) // every name is wired to a setting
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown action did not panic")
		}
	}()
	s.rate("uplaod")
}

func TestRateLimitLetsRequestsThroughWhileRedisIsDown(t *testing.T) {
	srv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Stop()
		}
	})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	s := limitServer(t, rdb, "down:")
	url := limitApp(t, s.limit("comment", ratelimit.Rule{Rate: 1, Per: time.Hour, Burst: 1}, true))

	if r := hit(t, url, 1); r.status != 200 {
		t.Fatalf("first: %+v", r)
	}
	if r := hit(t, url, 1); r.status != 429 {
		t.Fatalf("second: %+v, want 429", r)
	}
	srv.Stop()
	stopped = true
	for i := 0; i < 5; i++ {
		if r := hit(t, url, 1); r.status != 200 {
			t.Fatalf("with Redis down: %+v, want 200 (fail open)", r)
		}
	}
	// Redis comes back (empty): limits apply again within moments.
	srv, err = testkit.StartRedisOn(srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	stopped = false
	deadline := time.Now().Add(15 * time.Second)
	for hit(t, url, 1).status != 429 {
		if time.Now().After(deadline) {
			t.Fatal("limits never came back after Redis restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":                    "10.0.0.1",
		"::ffff:10.0.0.1":             "10.0.0.1",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"not an address":              "not an address",
		"fe80::1%eth0":                "fe80::/64",
		"2001:0db8:0001:0002:0:0:0:1": "2001:db8:1:2::/64",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
