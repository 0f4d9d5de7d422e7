// Package backup writes and restores a whole Jokster installation: the
// PostgreSQL database (pg_dump's custom format, restored with pg_restore,
// both from Debian's postgresql-client) and the media folder (a tar of
// MEDIA_ROOT). `jokster backup <dir>` and `jokster restore <dir>` call it.
//
// A backup folder holds:
//
//	database.dump  pg_dump --format=custom of DATABASE_URL's database
//	media.tar      every file under MEDIA_ROOT (temporary and hidden files left out)
//	manifest.json  when, what, and the SHA-256 of both files
//
// The database is dumped first (one consistent snapshot), the media after
// it: files are content-addressed and never change, so every file the dump
// refers to is in the tar unless a purge removed it in between (stop the
// worker during a backup to rule that out). Restore wants the API nodes and
// workers stopped: it replaces the database and the media folder.
package backup

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/config"
)

// Names of the files in a backup folder.
const (
	DumpFile     = "database.dump"
	MediaFile    = "media.tar"
	ManifestFile = "manifest.json"
)

// Manifest describes a backup.
type Manifest struct {
	Format        int                 `json:"format"` // 1
	CreatedAt     time.Time           `json:"created_at"`
	Database      string              `json:"database"`       // name of the dumped database
	SchemaVersion int64               `json:"schema_version"` // newest applied migration
	MediaFiles    int                 `json:"media_files"`
	Files         map[string]FileInfo `json:"files"`
}

// FileInfo is one file of a backup.
type FileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Options are what a backup or a restore works on.
type Options struct {
	DatabaseURL string // DATABASE_URL
	MediaRoot   string // MEDIA_ROOT
	// Restore only: replace a database that has tables and a media folder
	// that has files (without it, restore refuses to overwrite anything).
	Replace bool
	// Restore only: Redis keys under RedisPrefix are deleted afterwards, so
	// the boards are rebuilt from the restored database. Empty RedisURL:
	// Redis is left alone.
	RedisURL, RedisPrefix string
	Log                   func(msg string, args ...any) // progress; slog.Info when nil
}

func (o Options) log(msg string, args ...any) {
	if o.Log != nil {
		o.Log(msg, args...)
		return
	}
	slog.Info(msg, args...)
}

// Command runs `jokster backup <dir>` or `jokster restore [-replace] <dir>`
// with the process's settings.
func Command(ctx context.Context, cfg config.Config, name string, args []string) error {
	fl := flag.NewFlagSet("jokster "+name, flag.ContinueOnError)
	replace := false
	if name == "restore" {
		fl.BoolVar(&replace, "replace", false, "replace a database with tables and a media folder with files")
	}
	fl.Usage = func() {
		if name == "restore" {
			fmt.Fprintf(fl.Output(), "usage: jokster restore [-replace] <dir>\n\nRestores DATABASE_URL's database and MEDIA_ROOT from a backup folder. Stop the API nodes and workers first.\n")
		} else {
			fmt.Fprintf(fl.Output(), "usage: jokster backup <dir>\n\nWrites DATABASE_URL's database and MEDIA_ROOT into a new folder.\n")
		}
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return fmt.Errorf("jokster %s: give one folder", name)
	}
	o := Options{DatabaseURL: cfg.DatabaseURL, MediaRoot: cfg.MediaRoot, Replace: replace,
		RedisURL: cfg.RedisURL, RedisPrefix: cfg.RedisPrefix}
	if name == "restore" {
		return Restore(ctx, fl.Arg(0), o)
	}
	m, err := Backup(ctx, fl.Arg(0), o)
	if err == nil {
		fmt.Printf("backup of database %s (schema %d) and %d media files written to %s\n", m.Database, m.SchemaVersion, m.MediaFiles, fl.Arg(0))
	}
	return err
}

// Backup writes a new backup into dir (created; it must not hold one yet).
func Backup(ctx context.Context, dir string, o Options) (*Manifest, error) {
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil, fmt.Errorf("backup: %s already holds a backup; choose a new folder", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	target, err := parseTarget(o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: 1, CreatedAt: time.Now().UTC(), Database: target.database, Files: map[string]FileInfo{}}
	if m.SchemaVersion, err = schemaVersion(ctx, o.DatabaseURL); err != nil {
		return nil, err
	}

	dump := filepath.Join(dir, DumpFile)
	o.log("backup: dumping the database", "database", target.database, "file", dump)
	if err := target.run(ctx, "pg_dump", "--format=custom", "--file="+dump, "--dbname="+target.url); err != nil {
		return nil, err
	}

	media := filepath.Join(dir, MediaFile)
	o.log("backup: archiving the media folder", "root", o.MediaRoot, "file", media)
	if m.MediaFiles, err = writeTar(media, o.MediaRoot); err != nil {
		return nil, err
	}
	for _, name := range []string{DumpFile, MediaFile} {
		fi, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		m.Files[name] = fi
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	// The manifest comes last: a folder without one is an unfinished backup.
	if err := writeFileSync(filepath.Join(dir, ManifestFile), append(data, '\n')); err != nil {
		return nil, err
	}
	o.log("backup: done", "dir", dir, "media_files", m.MediaFiles, "database_bytes", m.Files[DumpFile].Size)
	return m, nil
}

// Restore puts the backup in dir back: the database (created when missing)
// and the media folder. Without Replace it refuses a database that has
// tables or a media folder that has files.
func Restore(ctx context.Context, dir string, o Options) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	for name, want := range m.Files {
		got, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if got != want {
			return fmt.Errorf("restore: %s does not match the manifest (damaged or changed backup)", name)
		}
	}
	target, err := parseTarget(o.DatabaseURL)
	if err != nil {
		return err
	}

	// Media first into a staging folder inside MEDIA_ROOT (same file
	// system, hidden so nothing serves it), which also proves the tar whole
	// before the database is touched.
	if err := os.MkdirAll(o.MediaRoot, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	existing, err := mediaEntries(o.MediaRoot)
	if err != nil {
		return err
	}
	if len(existing) > 0 && !o.Replace {
		return fmt.Errorf("restore: the media folder %s is not empty; restore with -replace to replace it", o.MediaRoot)
	}
	staging := filepath.Join(o.MediaRoot, ".restore-"+randomHex())
	defer os.RemoveAll(staging)
	o.log("restore: unpacking the media", "into", staging)
	n, err := readTar(filepath.Join(dir, MediaFile), staging)
	if err != nil {
		return err
	}
	if n != m.MediaFiles {
		return fmt.Errorf("restore: %s holds %d files, the manifest says %d", MediaFile, n, m.MediaFiles)
	}

	// Before anything is dropped: can this pg_restore read the dump at all
	// (a dump from a newer pg_dump is refused by an older pg_restore)?
	if err := target.run(ctx, "pg_restore", "--list", filepath.Join(dir, DumpFile)); err != nil {
		return fmt.Errorf("restore: %s cannot be read by this pg_restore, so nothing was replaced: %w", DumpFile, err)
	}
	if err := recreateDatabase(ctx, target, o); err != nil {
		return err
	}
	o.log("restore: restoring the database", "database", target.database)
	if err := target.run(ctx, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
		"--dbname="+target.url, filepath.Join(dir, DumpFile)); err != nil {
		return err
	}

	// Swap the media: the old entries move aside, the restored ones in.
	old := filepath.Join(o.MediaRoot, ".old-"+randomHex())
	if len(existing) > 0 {
		if err := os.Mkdir(old, 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		for _, e := range existing {
			if err := os.Rename(filepath.Join(o.MediaRoot, e), filepath.Join(old, e)); err != nil {
				return fmt.Errorf("restore: moving the old media aside: %w", err)
			}
		}
	}
	restored, err := os.ReadDir(staging)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range restored {
		if err := os.Rename(filepath.Join(staging, e.Name()), filepath.Join(o.MediaRoot, e.Name())); err != nil {
			return fmt.Errorf("restore: moving the restored media in: %w", err)
		}
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("restore: removing the old media: %w", err)
	}
	o.log("restore: media restored", "root", o.MediaRoot, "files", n)

	if o.RedisURL != "" {
		// Boards and versions left from before would outrank the restored
		// rows (the version guard keeps the higher): the restore is not
		// done until they are gone.
		if err := clearRedis(ctx, o); err != nil {
			return fmt.Errorf("restore: the database and media are restored, but Jokster's Redis keys could not be cleared (flush them by hand so the boards are rebuilt): %w", err)
		}
	}
	o.log("restore: done", "database", target.database, "schema_version", m.SchemaVersion, "backup_of", m.CreatedAt)
	return nil
}

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("restore: %s is not a finished backup: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("restore: %s: %w", ManifestFile, err)
	}
	if m.Format != 1 {
		return nil, fmt.Errorf("restore: backup format %d is not known to this version", m.Format)
	}
	for _, f := range []string{DumpFile, MediaFile} {
		if _, ok := m.Files[f]; !ok {
			return nil, fmt.Errorf("restore: the manifest lists no %s", f)
		}
	}
	return &m, nil
}

// ---------------------------------------------------------------- PostgreSQL

// target is the database of DATABASE_URL, as the PostgreSQL programs want it.
type target struct {
	url      string // without the password and without pgx-only parameters
	password string // given to the programs as PGPASSWORD, never on their command line
	database string
	admin    string // the same server's maintenance database "postgres", for pgx
}

func parseTarget(raw string) (target, error) {
	cc, err := pgx.ParseConfig(raw)
	if err != nil {
		return target{}, fmt.Errorf("backup: DATABASE_URL: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return target{}, errors.New("backup: DATABASE_URL must be a postgres:// URL")
	}
	t := target{database: cc.Database, password: cc.Password}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") { // pgxpool's own, unknown to libpq
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	t.url = u.String()
	a := *u
	a.Path = "/postgres"
	if cc.Password != "" {
		a.User = url.UserPassword(cc.User, cc.Password)
	}
	t.admin = a.String()
	return t, nil
}

// run runs a PostgreSQL client program, the newest installed one.
func (t target) run(ctx context.Context, program string, args ...string) error {
	bin := Tool(program)
	if bin == "" {
		return fmt.Errorf("backup: %s is not installed (Debian package postgresql-client; scripts/services.sh tools installs it)", program)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	if t.password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+t.password)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("backup: %s failed: %w\n%s", program, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Tool finds a PostgreSQL client program: the newest version under
// /usr/lib/postgresql (Debian keeps one folder per version; pg_dump must
// not be older than the server), else the one on PATH. Empty when missing.
func Tool(program string) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		p := filepath.Join(d, program)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(program); err == nil {
		if exec.Command(p, "--version").Run() == nil { // Debian's wrapper fails without a client
			return p
		}
	}
	return ""
}

func versionOf(dir string) int {
	n := 0
	for _, r := range filepath.Base(filepath.Dir(dir)) {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func schemaVersion(ctx context.Context, dbURL string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("backup: connect: %w", err)
	}
	defer conn.Close(ctx)
	var v int64
	err = conn.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // no migrations yet
		return 0, nil
	}
	return v, err
}

// recreateDatabase leaves an empty database to restore into: created when
// missing, kept when it has no tables, dropped and created with Replace.
func recreateDatabase(ctx context.Context, t target, o Options) error {
	admin, err := pgx.Connect(ctx, t.admin)
	if err != nil {
		return fmt.Errorf("restore: connect to the maintenance database: %w", err)
	}
	defer admin.Close(ctx)
	name := pgx.Identifier{t.database}.Sanitize()
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, t.database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		tables, err := countTables(ctx, o.DatabaseURL)
		if err != nil {
			return err
		}
		if tables == 0 {
			return nil
		}
		if !o.Replace {
			return fmt.Errorf("restore: database %s has %d tables; restore with -replace to replace it", t.database, tables)
		}
		o.log("restore: dropping the database", "database", t.database)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	o.log("restore: creating the database", "database", t.database)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func countTables(ctx context.Context, dbURL string) (int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("restore: connect: %w", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&n)
	return n, err
}

// clearRedis deletes the keys under REDIS_PREFIX (boards, fan-out, rate
// limits): the nodes rebuild the boards from the restored database.
func clearRedis(ctx context.Context, o Options) error {
	if o.RedisPrefix == "" {
		return errors.New("REDIS_PREFIX is empty: not deleting every key")
	}
	opt, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	n := 0
	iter := rdb.Scan(ctx, 0, o.RedisPrefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			n += len(batch)
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
		n += len(batch)
	}
	o.log("restore: Jokster's Redis keys deleted; boards are rebuilt from the database", "prefix", o.RedisPrefix, "keys", n)
	return nil
}

// ---------------------------------------------------------------- media

// skip: temporary upload files (".tmp-…") and other hidden names, which
// the app never serves, and restore staging folders.
func skip(name string) bool { return strings.HasPrefix(name, ".") }

// mediaEntries lists MEDIA_ROOT's top-level entries that a restore replaces.
func mediaEntries(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !skip(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// writeTar archives root's folders and regular files (symlinks and hidden
// names are left out) and returns the number of files.
func writeTar(file, root string) (int, error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	n := 0
	rt, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		slog.Warn("backup: the media folder does not exist; the backup holds no media", "root", root)
	} else if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	} else {
		defer rt.Close()
		err = fs.WalkDir(rt.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == "." {
				return nil
			}
			if skip(d.Name()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() && !info.IsDir() {
				slog.Warn("backup: skipping what is neither a file nor a folder", "path", p, "mode", info.Mode().String())
				return nil
			}
			hdr := &tar.Header{Name: p, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime(), Format: tar.FormatPAX}
			if info.IsDir() {
				hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
				return tw.WriteHeader(hdr)
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			src, err := rt.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			if _, err := io.Copy(tw, src); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("backup: archiving %s: %w", root, err)
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// readTar unpacks file into dir (created), refusing anything but plain
// folders and files with clean relative names; it returns the number of
// files. os.Root keeps every write inside dir.
func readTar(file, dir string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	rt, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer rt.Close()
	tr := tar.NewReader(f)
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("restore: %s: %w", MediaFile, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name == "" || !fs.ValidPath(name) || path.Clean(name) != name {
			return n, fmt.Errorf("restore: %s: refusing the entry %q", MediaFile, hdr.Name)
		}
		local := filepath.FromSlash(name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := rt.MkdirAll(local, 0o755); err != nil {
				return n, fmt.Errorf("restore: %w", err)
			}
		case tar.TypeReg:
			if d := filepath.Dir(local); d != "." {
				if err := rt.MkdirAll(d, 0o755); err != nil {
					return n, fmt.Errorf("restore: %w", err)
				}
			}
			out, err := rt.OpenFile(local, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return n, fmt.Errorf("restore: %w", err)
			}
			_, err = io.Copy(out, tr)
			if err == nil {
				err = out.Close()
			} else {
				out.Close()
			}
			if err != nil {
				return n, fmt.Errorf("restore: %s: %w", name, err)
			}
			_ = rt.Chtimes(local, hdr.ModTime, hdr.ModTime)
			n++
		default:
			return n, fmt.Errorf("restore: %s: refusing %q (only files and folders)", MediaFile, hdr.Name)
		}
	}
}

// ---------------------------------------------------------------- files

func hashFile(p string) (FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeFileSync(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
