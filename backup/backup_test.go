package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/backup"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// needTools makes sure pg_dump and pg_restore are here, installing Debian's
// postgresql-client through scripts/services.sh when they are not.
func needTools(t *testing.T) {
	t.Helper()
	if backup.Tool("pg_dump") != "" && backup.Tool("pg_restore") != "" {
		return
	}
	out, err := exec.Command("bash", "../scripts/services.sh", "tools").CombinedOutput()
	if backup.Tool("pg_dump") == "" || backup.Tool("pg_restore") == "" {
		t.Skipf("pg_dump/pg_restore are missing and could not be installed (%v):\n%s", err, out)
	}
}

// TestBackup_RoundTrip creates data, backs it up, loses the database and
// the media, restores them and compares everything.
func TestBackup_RoundTrip(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	pool, dbURL := testkit.Pool(t)
	rdb, redisURL, prefix := testkit.Redis(t)
	media := t.TempDir()
	makeData(ctx, t, pool, media)
	wantDB := dbDigest(ctx, t, pool)
	wantMedia := mediaDigest(t, media)
	if len(wantMedia) != 4 {
		t.Fatalf("test data: %d media files, want 4: %v", len(wantMedia), wantMedia)
	}

	cfg := config.Default()
	cfg.DatabaseURL, cfg.MediaRoot, cfg.RedisURL, cfg.RedisPrefix = dbURL, media, redisURL, prefix
	dir := filepath.Join(t.TempDir(), "backup-1")
	if err := backup.Command(ctx, cfg, "backup", []string{dir}); err != nil {
		t.Fatal(err)
	}
	m, err := backup.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaFiles != 4 || m.SchemaVersion == 0 || m.Files[backup.DumpFile].Size == 0 {
		t.Errorf("manifest: %+v", m)
	}
	if err := backup.Command(ctx, cfg, "backup", []string{dir}); err == nil || !strings.Contains(err.Error(), "already holds a backup") {
		t.Errorf("a second backup into the same folder: %v, want a refusal", err)
	}

	// Restoring over live data needs -replace.
	if err := backup.Command(ctx, cfg, "restore", []string{dir}); err == nil || !strings.Contains(err.Error(), "-replace") {
		t.Errorf("restore over a database with tables: %v, want a refusal naming -replace", err)
	}

	// Disaster: the database and the media are gone; Redis has boards of the
	// old data.
	pool.Close()
	dropDatabase(ctx, t, dbURL)
	entries, _ := os.ReadDir(media)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(media, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	rdb.Set(ctx, prefix+"board:top:all", "stale", 0)
	rdb.Set(ctx, "someone-else:key", "keep", 0)

	if err := backup.Command(ctx, cfg, "restore", []string{dir}); err != nil {
		t.Fatal(err)
	}
	pool2, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	compare(t, "after restoring into a dropped database", dbDigest(ctx, t, pool2), wantDB)
	compare(t, "media after the restore", mediaDigest(t, media), wantMedia)
	if n, _ := rdb.Exists(ctx, prefix+"board:top:all").Result(); n != 0 {
		t.Errorf("Jokster's Redis keys survived the restore: boards would show the old data")
	}
	if v, _ := rdb.Get(ctx, "someone-else:key").Result(); v != "keep" {
		t.Errorf("a key outside REDIS_PREFIX was deleted")
	}
	// Identity columns go on after the restored rows.
	var id int64
	if err := pool2.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('zed', 'zed@example.com', 'x') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id <= 3 {
		t.Errorf("a new user after the restore got id %d, which the restored rows use", id)
	}

	// -replace: later changes are undone, extra files go, nothing is left over.
	if err := os.WriteFile(filepath.Join(media, "display", "later.webp"), []byte("later"), 0o644); err != nil {
		t.Fatal(err)
	}
	pool2.Close()
	if err := backup.Command(ctx, cfg, "restore", []string{"-replace", dir}); err != nil {
		t.Fatal(err)
	}
	pool3, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool3.Close()
	compare(t, "after restore -replace", dbDigest(ctx, t, pool3), wantDB)
	compare(t, "media after restore -replace", mediaDigest(t, media), wantMedia)
	entries, _ = os.ReadDir(media)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("restore left %s in the media folder", e.Name())
		}
	}

	// A damaged backup is refused before anything is touched.
	data, err := os.ReadFile(filepath.Join(dir, backup.MediaFile))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, backup.MediaFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := backup.Command(ctx, cfg, "restore", []string{"-replace", dir}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("restore of a damaged backup: %v, want a refusal", err)
	}
	compare(t, "after refusing a damaged backup", dbDigest(ctx, t, pool3), wantDB)

	// A dump this pg_restore cannot read (say, written by a newer pg_dump),
	// with a manifest that vouches for it: refused before the live database
	// is dropped.
	dir2 := filepath.Join(t.TempDir(), "backup-2")
	if err := backup.Command(ctx, cfg, "backup", []string{dir2}); err != nil {
		t.Fatal(err)
	}
	junk := []byte("PGDMP but not from any pg_dump this pg_restore knows")
	if err := os.WriteFile(filepath.Join(dir2, backup.DumpFile), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	m2, err := backup.ReadManifest(dir2)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(junk)
	m2.Files[backup.DumpFile] = backup.FileInfo{Size: int64(len(junk)), SHA256: hex.EncodeToString(sum[:])}
	raw, _ := json.MarshalIndent(m2, "", "  ")
	if err := os.WriteFile(filepath.Join(dir2, backup.ManifestFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := backup.Command(ctx, cfg, "restore", []string{"-replace", dir2}); err == nil || !strings.Contains(err.Error(), "nothing was replaced") {
		t.Errorf("restore of an unreadable dump: %v, want a refusal", err)
	}
	compare(t, "after refusing an unreadable dump", dbDigest(ctx, t, pool3), wantDB)
}

// makeData writes users, posts with media, tags and ratings (the triggers
// keep the histograms), and media files, one of them a temporary upload
// that a backup leaves out.
func makeData(ctx context.Context, t *testing.T, pool *pgxpool.Pool, media string) {
	t.Helper()
	stmts := []string{
		`INSERT INTO users (username, email, password_hash, verified_at) VALUES
			('alice', 'alice@example.com', 'h1', now()), ('bob', 'bob@example.com', 'h2', NULL), ('carol', 'carol@example.com', 'h3', now())`,
		`INSERT INTO posts (author_id, caption, kind, status, format, original, display, thumb, width, height)
			SELECT id, 'A picture', 'image', 'ready', 'png', 'originals/ab.png', 'display/ab.webp', 'thumbs/ab.webp', 640, 480 FROM users WHERE username = 'alice'`,
		`INSERT INTO posts (author_id, caption, kind, status) SELECT id, 'Why did the backup cross the road?', 'text', 'ready' FROM users WHERE username = 'bob'`,
		`INSERT INTO post_tags (post_id, tag) SELECT id, 'cats' FROM posts`,
		`INSERT INTO ratings (post_id, user_id, stars) SELECT p.id, u.id, 1 + (p.id + u.id) % 5 FROM posts p, users u WHERE p.author_id <> u.id`,
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
	files := map[string]string{
		"originals/ab.png":   "\x89PNG original with EXIF",
		"display/ab.webp":    "RIFF display",
		"thumbs/ab.webp":     "RIFF thumb",
		"photos/p/alice.jpg": "\xff\xd8 photo",
		".tmp-upload123":     "half an upload",
	}
	for name, body := range files {
		p := filepath.Join(media, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dbDigest: every table's rows (hashed in a fixed order) and every
// sequence's position.
func dbDigest(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	tables, err := pgx.CollectRows(must(pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)), pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	out := map[string]string{}
	for _, tb := range tables {
		var n int64
		var sum string
		q := fmt.Sprintf(`SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM %s t`, pgx.Identifier{tb}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		out["table "+tb] = fmt.Sprintf("%d rows %s", n, sum)
	}
	rows, err := pool.Query(ctx, `SELECT sequencename, coalesce(last_value, 0) FROM pg_sequences WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		out["sequence "+name] = fmt.Sprint(v)
	}
	if out["table users"] == "" || strings.HasPrefix(out["table ratings"], "0 rows") {
		t.Fatalf("test data missing: %v", out)
	}
	return out
}

func mediaDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(filepath.Base(rel), ".tmp-") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compare(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s is %q, was %q", what, k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s appeared (%q)", what, k, got[k])
		}
	}
}

func dropDatabase(ctx context.Context, t *testing.T, dbURL string) {
	t.Helper()
	cc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testkit.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{cc.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
