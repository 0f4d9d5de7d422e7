package main

import (
	"bytes"
	"context"
	"fmt"
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
	addrPort, _ := testkit.FreePort()
	opsPort, _ := testkit.FreePort()
	dbURL := testkit.DB(t)
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix,
		fmt.Sprintf("ADDR=127.0.0.1:%d", addrPort), fmt.Sprintf("OPS_ADDR=127.0.0.1:%d", opsPort),
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
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	base := fmt.Sprintf("http://127.0.0.1:%d", addrPort)
	ops := fmt.Sprintf("http://127.0.0.1:%d", opsPort)
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
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
	if code, body := get(ops + "/metrics"); code != 200 || !strings.Contains(body, "jokster_http_request_duration_seconds") {
		t.Fatalf("metrics: %d", code)
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
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
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
