package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster/cluster"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listenerAddr waits until the binary's log says that a listener (msg:
// "public listener up" or "operations listener up") is up, and returns the
// address it reports. Tests start the binary on port 0 for this: a free port
// picked beforehand could be taken by another process before the binary
// binds it. The log is text or JSON (LOG_FORMAT), at level info or lower.
func listenerAddr(t *testing.T, logs *syncBuffer, msg string, exited <-chan struct{}, deadline time.Time) string {
	t.Helper()
	for {
		if addr := cluster.ListenerAddr(logs.String(), msg); addr != "" {
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("exited before %q:\n%s", msg, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", msg, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBinary builds the real binary and drives it like an operator:
// migrate, seed twice, start `all`, use it over HTTP, stop it with SIGTERM
// and check the documented shutdown order.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "jokster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	_, redisURL, prefix := testkit.Redis(t)
	dbURL := testkit.DB(t)
	// Port 0: the listeners' addresses come from the log (see listenerAddr).
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix,
		"ADDR=127.0.0.1:0", "OPS_ADDR=127.0.0.1:0",
		"MEDIA_ROOT="+t.TempDir(), "SHUTDOWN_TIMEOUT=10s", "LOG_LEVEL=info")
	runCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("jokster %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	runCmd("migrate")
	runCmd("seed")
	// Seeding again (make run does, on every start) leaves alone the posts
	// of people who used the service since, and copes with a demo user
	// banned meanwhile.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var zoePost int64
	if err := conn.QueryRow(context.Background(), `WITH u AS (INSERT INTO users (username, email, password_hash) VALUES ('zoe', 'zoe@example.com', 'x') RETURNING id),
		pr AS (INSERT INTO profiles (user_id) SELECT id FROM u)
		INSERT INTO posts (author_id, caption, kind, status) SELECT id, 'zoe''s joke', 'text', 'ready' FROM u RETURNING id`).Scan(&zoePost); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `INSERT INTO bans (user_id, until) SELECT id, now() + interval '1 day' FROM users WHERE username = 'dave'`); err != nil {
		t.Fatal(err)
	}
	if out := runCmd("seed"); !strings.Contains(out, "seed: user exists") {
		t.Fatalf("second seed did not find the users:\n%s", out)
	}
	var rated int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM ratings WHERE post_id = $1`, zoePost).Scan(&rated); err != nil || rated != 0 {
		t.Fatalf("seed rated someone else's post %d times (%v)", rated, err)
	}
	if out := runCmd("admin", "grant", "bob"); !strings.Contains(out, "granted") {
		t.Fatal(out)
	}

	var logs syncBuffer
	cmd := exec.Command(bin, "all")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(30 * time.Second)
	ops := "http://" + listenerAddr(t, &logs, "operations listener up", exited, deadline)
	base := "http://" + listenerAddr(t, &logs, "public listener up", exited, deadline)
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for {
		if code, _ := get(base + "/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"bob","password":"laughing-out-loud-42"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login of a seeded user: %v %v", res, err)
	}
	res.Body.Close()
	if code, body := get(base + "/"); code != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("home page: %d", code)
	}
	code, metrics := get(ops + "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	// What operators watch (issue 6): HTTP latency, live connections,
	// the cull, the danger zone, the reconcile's lag and the queues.
	for _, m := range []string{"jokster_http_request_duration_seconds", "jokster_websocket_connections", "jokster_cull_runs_total",
		"jokster_cull_victims_total", "jokster_cull_danger_posts", "jokster_reconcile_lag_seconds", `jokster_queue_tasks{queue="critical",state="pending"}`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
	if code, _ := get(ops + "/monitor/"); code != 200 {
		t.Fatalf("asynqmon: %d", code)
	}
	// The registration mails reach the log (no SMTP_URL) through the worker.
	for !strings.Contains(logs.String(), "confirm your e-mail address by opening this link") {
		if time.Now().After(deadline) {
			t.Fatalf("no mail was logged:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("exit: %v\n%s", exitErr, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("did not stop on SIGTERM:\n%s", logs.String())
	}
	out := logs.String()
	last := -1
	for _, step := range []string{"shutdown: signal received", "shutdown: public listener closed", "shutdown: worker stopped", "shutdown: Redis and PostgreSQL clients closed", "shutdown: operations listener closed"} {
		i := strings.Index(out, step)
		if i < 0 || i < last {
			t.Fatalf("shutdown step %q missing or out of order:\n%s", step, out)
		}
		last = i
	}
}
