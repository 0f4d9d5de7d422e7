package store_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// TestMigrateConcurrently starts several "nodes" at once on a database that
// does not exist yet: one creates it, one migrates, all succeed.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testkit.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the database is dropped before this
	// connection closes (a deferred Close ran before the drop, which then
	// failed unseen and left a database behind after every run).
	t.Cleanup(func() { _ = admin.Close(ctx) })
	name := fmt.Sprintf("jokster_migrate_%d", os.Getpid())
	cfg, _ := pgx.ParseConfig(testkit.AdminURL())
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	t.Cleanup(func() { _, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := store.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = store.Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	pool, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var applied, tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name IN ('users', 'profiles', 'follows', 'outbox_mail')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if applied < 1 || tables != 4 {
		t.Fatalf("applied %d migrations, %d tables", applied, tables)
	}
	// Every migration is applied exactly once.
	var dups int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1) d`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Fatalf("%d migrations applied twice", dups)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	pool, _ := testkit.Pool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('a', 'a@x.io', 'h')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('A', 'b@x.io', 'h')`)
	if !store.IsUniqueViolation(err, "users_username_key") || store.IsUniqueViolation(err, "users_email_key") {
		t.Fatalf("err = %v", err)
	}
	if store.IsUniqueViolation(nil, "") {
		t.Fatal("nil is no violation")
	}
}
