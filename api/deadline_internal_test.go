package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/testkit"
)

// TestUnavailableClassifiesRealFailures feeds unavailable the errors the
// drivers really return: a PostgreSQL and a Redis that nothing listens
// on, a statement cancelled by its timeout, a request whose deadline
// passed while it waited for the pool — each a 503 — and errors that
// are the request's or the code's fault, which must stay what they are.
func TestUnavailableClassifiesRealFailures(t *testing.T) {
	ctx := context.Background()
	port, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, pgDown := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", port))
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer rdb.Close()
	redisDown := rdb.Ping(ctx).Err()

	db, _ := testkit.Pool(t)
	cancelled := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 50`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_sleep(2)`)
		return err
	})
	conn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A pool of one, held: the next acquire waits out its deadline.
	cfg := db.Config().Copy()
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	hold, err := one.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, poolWait := one.Exec(short, `SELECT 1`)
	cancel()
	hold.Release()
	_, unique := conn.Exec(ctx, `CREATE TEMP TABLE u (k int PRIMARY KEY); INSERT INTO u VALUES (1), (1)`)
	conn.Release()

	for name, err := range map[string]error{"PostgreSQL down": pgDown, "Redis down": redisDown,
		"statement timeout": cancelled, "pool wait past the deadline": poolWait} {
		if err == nil {
			t.Errorf("%s: no error to classify", name)
			continue
		}
		if u := unavailable(fmt.Errorf("posts: get: %w", err)); u == nil || u.Code != jokster.EUNAVAILABLE || u.RetryAfter != 1 {
			t.Errorf("%s (%v): got %v, want an unavailable error with Retry-After", name, err, u)
		}
	}
	var pe *pgconn.PgError
	if !errors.As(unique, &pe) {
		t.Fatalf("duplicate key: %v", unique)
	}
	_, missing := os.Open(filepath.Join(t.TempDir(), "gone"))
	full := &os.PathError{Op: "write", Path: "/media/x", Err: syscall.ENOSPC}
	// A client whose upload stalls past the read timeout: the read of the
	// request's body fails with the connection's timeout.
	stalled := clientBody{iotest.ErrReader(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})}
	_, stall := io.ReadAll(stalled)
	if code := jokster.ErrorCode(fmt.Errorf("posts: ingest: %w", stall)); code != jokster.EINVALID {
		t.Errorf("a stalled upload: code %q, want invalid (400)", code)
	}
	for name, err := range map[string]error{"duplicate key": unique, "a bug": errors.New("index out of range"),
		"the request's fault": jokster.Errorf(jokster.EINVALID, "no"), "no rows": pgx.ErrNoRows,
		"a missing file": fmt.Errorf("media: %w", missing), "a full disk": fmt.Errorf("media: store: %w", full),
		"a client's stalled upload": fmt.Errorf("posts: ingest: %w", stall)} {
		if u := unavailable(err); u != nil {
			t.Errorf("%s (%v) classified as unavailable", name, err)
		}
	}
}
