// Package testkit gives tests real backing services: a fresh PostgreSQL
// database per test (cloned from a migrated template) and a Redis database
// number plus key prefix per test on a redis-server this test binary starts
// for itself, so no test can disturb another or the developer's data.
//
// A package that uses it calls testkit.Main from its TestMain.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/store"
)

var (
	tplOnce sync.Once
	tplName string
	tplErr  error

	redisMu  sync.Mutex
	redisSrv *RedisServer
	redisDB  atomic.Int32
)

// Main runs the tests and then removes what testkit created.
//
// The servers under test log every request; at that volume a failing test's
// message is lost among thousands of lines (go test prints the whole binary's
// output when a package fails), so only warnings and errors are shown unless
// TEST_LOG_LEVEL says otherwise (debug, info, warn, error).
func Main(m *testing.M) int {
	level := slog.LevelWarn
	if v := os.Getenv("TEST_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			fmt.Fprintf(os.Stderr, "testkit: TEST_LOG_LEVEL=%q: %v\n", v, err)
			return 2
		}
	}
	slog.SetLogLoggerLevel(level)
	code := m.Run()
	if tplName != "" {
		if conn, err := pgx.Connect(context.Background(), AdminURL()); err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+tplName+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	}
	redisMu.Lock()
	if redisSrv != nil {
		redisSrv.Stop()
	}
	redisMu.Unlock()
	return code
}

// AdminURL is a connection to the server's maintenance database, from
// TEST_DATABASE_URL, else DATABASE_URL's server, else local defaults.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	if u := os.Getenv("DATABASE_URL"); u != "" {
		cfg, err := pgx.ParseConfig(u)
		if err == nil {
			return fmt.Sprintf("postgres://%s@%s:%d/postgres?sslmode=disable", cfg.User, cfg.Host, cfg.Port)
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// template migrates one database per test binary; each test clones it,
// which is much faster than migrating every time.
func template() (string, error) {
	tplOnce.Do(func() {
		ctx := context.Background()
		name := "jokster_tpl_" + randomSuffix()
		conn, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			tplErr = fmt.Errorf("testkit: PostgreSQL is not reachable at %s (run `make test`, which starts it): %w", AdminURL(), err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			tplErr = err
			return
		}
		tplName = name
		pool, err := store.Open(ctx, dbURL(name))
		if err != nil {
			tplErr = err
			return
		}
		tplErr = store.Migrate(ctx, pool)
		pool.Close()
	})
	return tplName, tplErr
}

func dbURL(name string) string {
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// DB returns the URL of a new, migrated database that is dropped when the
// test ends.
func DB(t testing.TB) string {
	t.Helper()
	tpl, err := template()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := "jokster_test_" + randomSuffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tpl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return dbURL(name)
}

// Pool opens a pool on a new database (see DB), closed when the test ends.
func Pool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	u := DB(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, u
}

// Redis returns a client on a database number of its own (asynq's keys have
// no prefix, so the number is what separates tests), the matching URL and a
// key prefix of its own.
func Redis(t testing.TB) (*redis.Client, string, string) {
	t.Helper()
	srv, err := sharedRedis()
	if err != nil {
		t.Fatal(err)
	}
	db := int(redisDB.Add(1))
	if db >= redisDatabases {
		t.Fatal("testkit: out of Redis database numbers")
	}
	u := fmt.Sprintf("redis://%s/%d", srv.Addr, db)
	opt, _ := redis.ParseURL(u)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, u, "t" + randomSuffix() + ":"
}

const redisDatabases = 4096

// sharedRedis is the redis-server of this test binary, started by the first
// test that needs it. A failed start is not remembered: one unlucky start
// must not fail every later test of the package.
func sharedRedis() (*RedisServer, error) {
	redisMu.Lock()
	defer redisMu.Unlock()
	if redisSrv == nil {
		s, err := StartRedis()
		if err != nil {
			return nil, err
		}
		redisSrv = s
	}
	return redisSrv, nil
}

// RedisServer is a redis-server process owned by a test.
type RedisServer struct {
	Addr string
	Port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// errPortTaken: another process held the port, so our redis-server could
// not listen on it.
var errPortTaken = errors.New("port taken")

// StartRedis starts a redis-server that keeps nothing on disk on a free
// loopback port. Tests that flush or restart Redis use one of their own.
//
// The port is free when FreePort picks it but may be taken before
// redis-server binds it; then redis-server exits and another port is
// tried.
func StartRedis() (*RedisServer, error) {
	var err error
	for range 5 {
		var port int
		if port, err = FreePort(); err != nil {
			return nil, err
		}
		var s *RedisServer
		if s, err = startRedis(port); !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
	return nil, err
}

// StartRedisOn starts a redis-server on the given port (used to restart one
// at the same address). It fails if something else holds the port: a test
// talking to a stranger's Redis would prove nothing.
func StartRedisOn(port int) (*RedisServer, error) {
	return startRedis(port)
}

func startRedis(port int) (*RedisServer, error) {
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--databases", strconv.Itoa(redisDatabases))
	out := &capBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testkit: start redis-server (run `make test`, which installs it): %w", err)
	}
	s := &RedisServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	// Only an answer from our own process counts: a PING would also be
	// answered by another Redis that holds the port while ours fails to bind.
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	pid := float64(cmd.Process.Pid)
	for i := 0; ; i++ {
		select {
		case <-s.done:
			if strings.Contains(out.String(), "Address already in use") {
				return nil, fmt.Errorf("testkit: redis-server on %s: %w", s.Addr, errPortTaken)
			}
			return nil, fmt.Errorf("testkit: redis-server on %s exited: %s", s.Addr, out.String())
		default:
		}
		if RedisInfo(context.Background(), c, "server", "process_id:") == pid {
			return s, nil
		}
		if i > 400 {
			s.Stop()
			return nil, fmt.Errorf("testkit: redis-server on %s did not answer; its output:\n%s", s.Addr, out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// capBuffer keeps the start of a process's output: enough for the reason
// it failed, bounded however long it runs.
type capBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 64<<10 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.b)
}

// OwnRedis starts a redis-server for this test alone and returns a client
// on it; both are stopped when the test ends.
func OwnRedis(t testing.TB) (*redis.Client, *RedisServer) {
	t.Helper()
	srv, err := StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, srv
}

// RedisInfo is the number on the line of INFO section that starts with
// field ("used_memory:"), 0 if there is none.
func RedisInfo(ctx context.Context, rdb redis.UniversalClient, section, field string) float64 {
	for _, l := range strings.Split(rdb.Info(ctx, section).Val(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), field); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// RedisCPU is the CPU time Redis's main thread has used, in seconds.
func RedisCPU(ctx context.Context, rdb redis.UniversalClient) float64 {
	return RedisInfo(ctx, rdb, "cpu", "used_cpu_user_main_thread:") + RedisInfo(ctx, rdb, "cpu", "used_cpu_sys_main_thread:")
}

// Pid is the redis-server's process id (tests stop and continue it to
// play a Redis that hangs).
func (s *RedisServer) Pid() int { return s.cmd.Process.Pid }

// Stop kills the server and waits for it to exit.
func (s *RedisServer) Stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// FreePort asks the kernel for a loopback port nobody listens on at the
// moment; another process may take it before the caller uses it, so a
// caller that starts a server on it must notice and try again (as
// StartRedis does), or let the server bind port 0 and report its address.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ProbeRedis PINGs the Redis at addr in a loop from a client of its own, as
// a client that wants Redis all the time would, until the returned function
// is called; that returns the slowest round trip seen. The slow log times
// single commands; this sees what other clients wait for, such as a whole
// pipeline, whose commands Redis runs back to back without serving anyone
// in between.
func ProbeRedis(addr string) (stop func() time.Duration) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	done := make(chan struct{})
	slowest := make(chan time.Duration)
	go func() {
		defer c.Close()
		var worst time.Duration
		for {
			select {
			case <-done:
				slowest <- worst
				return
			default:
			}
			t := time.Now()
			_ = c.Ping(context.Background()).Err()
			worst = max(worst, time.Since(t))
		}
	}()
	return func() time.Duration {
		close(done)
		return <-slowest
	}
}
