// Package store opens the PostgreSQL pool and applies the embedded schema
// migrations. PostgreSQL is the truth: every acknowledged write is here.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to databaseURL, creating the database first when it does not
// exist yet (a fresh machine), and waits up to a few seconds for it to answer.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: DATABASE_URL: %w", err)
	}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: ping: %w", err)
	}
	return pool, nil
}

// ensureDatabase creates the configured database when the server says it
// does not exist. Two nodes racing here is harmless: the loser sees
// duplicate_database and carries on.
func ensureDatabase(ctx context.Context, cc *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("store: connect: %w", err)
	}
	admin := cc.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("store: connect to create %q: %w", cc.Database, err)
	}
	defer conn.Close(ctx)
	slog.Info("creating database", "name", cc.Database)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cc.Database}.Sanitize())
	// A concurrent CREATE DATABASE shows up as duplicate_database, or, in the
	// race inside the catalog, as a unique violation on pg_database.
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	return err
}

// Migrate applies every pending migration. A PostgreSQL session advisory
// lock makes it safe when several nodes start at once: one migrates, the
// others wait and then find nothing to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300)) // up to 5 minutes
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, subFS(), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	start := time.Now()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		slog.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	v, _ := p.GetDBVersion(ctx)
	slog.Info("database schema ready", "version", v, "applied", len(results), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure on
// the named constraint or index ("" matches any).
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" &&
		(constraint == "" || pgErr.ConstraintName == constraint)
}

// IsForeignKeyViolation reports whether err is a foreign-key failure: a row
// refers to one that is gone.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// IsDeadlock reports whether err is a deadlock or serialization failure:
// the transaction wrote nothing and can be run again.
func IsDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// IsSerializationFailure reports whether err is PostgreSQL's "could not
// serialize access" (40001): a repeatable-read or serializable transaction
// met a concurrent change and must be run again from the start.
func IsSerializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40001"
}

// Retry runs fn, a whole transaction, again (up to 5 times in all) while it
// fails as IsDeadlock says: PostgreSQL resolves a deadlock by aborting one
// side, which can simply try again.
func Retry(fn func() error) error {
	err := fn()
	for i := 1; i < 5 && IsDeadlock(err); i++ {
		err = fn()
	}
	return err
}

// LockMediaPath takes, for the rest of transaction tx, the lock that every
// deleter and every new user of media file path holds: a file checked
// unused under it is not taken into use meanwhile, and a file checked
// present stays until the transaction has recorded its use.
func LockMediaPath(ctx context.Context, tx pgx.Tx, path string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('media:' || $1))`, path)
	return err
}

// HoldMediaFile is LockMediaPath for a file about to be taken into use,
// and an error if the file (path under root) is gone: files are named by
// content, so one found stored may have been let go by its last user and
// collected meanwhile.
func HoldMediaFile(ctx context.Context, tx pgx.Tx, root, path string) error {
	if err := LockMediaPath(ctx, tx, path); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(path))); err != nil {
		return fmt.Errorf("media file %s is gone (collected meanwhile): %w", path, err)
	}
	return nil
}

// CullFloorLock is the advisory lock key (a bigint key outside the int4
// range, so no hashtext key such as LockMediaPath's can collide with it)
// that keeps the cull's floor (CULL_FLOOR: never leave fewer ready posts
// than that) and its victims ready until it commits. A cull holds it
// exclusively (pg_advisory_xact_lock) from before it counts the ready
// posts until it commits (a second or so at 10^5 victims); everything else
// that takes posts out of `ready` holds it shared (HoldReadyPosts) until
// it commits, so none of them commits between the cull's count and its
// commit: each waits for the cull, or the cull waits for it and counts
// what it left. The cull does not lock its victims' rows (it only records
// them: CullPending), so without this lock a post removed meanwhile would
// be recorded as culled as well. Removers never wait for each other.
//
// Lock order: this lock comes before any lock on a row of posts, in the
// cull and in every remover alike. A remover that locked a post row first
// and then waited here for a cull could deadlock with that cull waiting
// for the row.
const CullFloorLock int64 = 0x6a6b3a666c6f6f72 // "jk:floor"

// HoldReadyPosts takes CullFloorLock shared for the rest of transaction tx.
// Call it first in any transaction that may take a post out of `ready`
// (remove it, delete it), or that writes to a post only while it is ready
// (rate it, comment on it, react to it, edit it), before it locks a row of
// posts: see CullFloorLock. The cull locks no row of its victims, so
// without it such a write could check a post ready before the cull's
// commit and land after it. It is cheap: it only waits while a cull runs
// (about a second at 10^5 victims).
func HoldReadyPosts(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, CullFloorLock)
	return err
}

// CullPending is an SQL condition, true for a post (alias the posts row's
// alias in the query) that a cull took in a run not yet settled: the cull's
// transaction records its victims in cull_victims and leaves their rows
// saying `ready` until the follow-up marks them (see migration
// 00017_cull_settle), so such a post is culled whatever its row says.
// Every query that asks whether a post is ready asks this too (Ready), and
// every status shown comes from Status. It costs an index probe of
// cull_victims_post_idx per post, which finds nothing for a post never
// culled.
func CullPending(alias string) string {
	return `EXISTS (SELECT 1 ` + pendingVictim(alias) + `)`
}

// pendingVictim is the FROM and WHERE of a query of the cull_victims row
// (cv) that makes post alias a victim of an unsettled run.
func pendingVictim(alias string) string {
	return `FROM cull_victims cv JOIN cull_runs cr ON cr.id = cv.run_id
		WHERE cv.post_id = ` + alias + `.id AND cr.settled_at IS NULL`
}

// Ready is an SQL condition, true for a post (alias) that is ready: its row
// says so and no unsettled cull took it.
func Ready(alias string) string {
	return alias + `.status = 'ready' AND NOT ` + CullPending(alias)
}

// Status is an SQL expression: the status of a post (alias) as everyone
// sees it — `culled` for the victim of an unsettled run, else its row's.
func Status(alias string) string {
	return `(CASE WHEN ` + alias + `.status = 'ready' AND ` + CullPending(alias) + ` THEN 'culled' ELSE ` + alias + `.status END)`
}

// CullsUnsettled reports whether a finished cull run awaits settling. Only
// then does a query need Ready's probe: with it, the planner, which cannot
// know that no run is pending and plans for a run's worth of victims,
// trades a streaming scan of a board's index for a hash anti-join over
// every ready post (a danger-zone or deep board page went from 6 ms to
// 340 ms with nothing pending). Queries that walk a board in order ask
// this first and use ReadyWhen.
func CullsUnsettled(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	var pending bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cull_runs WHERE settled_at IS NULL AND finished_at IS NOT NULL)`).Scan(&pending)
	return pending, err
}

// ReadyWhen is Ready(alias) when pending (CullsUnsettled), else the row's
// status alone, which is then the whole truth.
func ReadyWhen(alias string, pending bool) string {
	if pending {
		return Ready(alias)
	}
	return alias + `.status = 'ready'`
}

// Version is an SQL expression: the rank version of a post (alias) as
// everyone sees it (a post's stats_version, and the version its boards
// are synced at). For the victim of an unsettled run it is the version
// settling will give the row (cull's settleSQL): a copy that says culled
// is then newer than every copy that said ready, in browsers (which keep
// the newer of two copies) and in Redis (whose syncs are version-guarded).
func Version(alias string) string {
	return `(CASE WHEN ` + alias + `.status = 'ready' THEN coalesce((SELECT greatest(` + alias + `.rank_version + 1, cv.rank_version)
		` + pendingVictim(alias) + ` ORDER BY cv.run_id DESC LIMIT 1), ` + alias + `.rank_version) ELSE ` + alias + `.rank_version END)`
}
