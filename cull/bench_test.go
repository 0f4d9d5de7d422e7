package cull

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/testkit"
)

// BenchmarkCull100kOf1M culls 100,000 posts among 1,000,000 (750,000 past
// the grace period; 10% of them image posts with two files each): the
// cull transaction, then the removal of the victims from every Redis
// board. The other follow-up steps (notifications, the danger zone) are
// timed apart, and file deletion on a sample of files (cost per file).
// While the boards change, a second client PINGs Redis in a loop and
// Redis's slow log records every command over 0.2 ms, to show that Redis
// is never blocked for long.
//
//	go test ./cull -run '^$' -bench Cull100kOf1M -benchtime 1x -timeout 30m
//
// Setting up (COPYing the posts in with their scores and building the
// boards) takes a few minutes and is not timed. docs/benchmarks.md has
// the figures.
func BenchmarkCull100kOf1M(b *testing.B) {
	const (
		total       = 1_000_000
		victims     = 100_000
		filesSample = 200
	)
	ctx := context.Background()
	db, _ := testkit.Pool(b)
	rdb, rs := testkit.OwnRedis(b)
	media := b.TempDir()

	setup := time.Now()
	// 1000 authors, each with 1000 consecutive posts; ages 0..95 hours
	// (a quarter inside the day's grace); random histograms with their
	// stored scores; a tenth of the posts are images with two files; a
	// tenth carry one of 50 tags.
	for _, sql := range []string{
		`INSERT INTO users (username, email, password_hash) SELECT 'u' || g, 'u' || g || '@example.com', 'x' FROM generate_series(1, 1000) g`,
		`INSERT INTO profiles (user_id) SELECT id FROM users`,
	} {
		if _, err := db.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	g := 0
	n, err := db.CopyFrom(ctx, pgx.Identifier{"posts"},
		[]string{"author_id", "caption", "kind", "status", "created_at", "h1", "h2", "h3", "h4", "h5", "display", "thumb", "score_top", "score_hot"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if g == total {
				return nil, nil
			}
			g++
			var h ranking.Histogram
			for k := range h {
				h[k] = int64(rng.IntN(6))
			}
			created := now.Add(-time.Duration(g%96)*time.Hour - time.Duration(g%3600)*time.Second)
			kind, display, thumb := "text", "", ""
			if g%10 == 0 {
				kind, display, thumb = "image", fmt.Sprintf("d/%d.jpg", g), fmt.Sprintf("t/%d.jpg", g)
			}
			return []any{int64((g-1)/1000 + 1), fmt.Sprintf("joke %d", g), kind, "ready", created, h[0], h[1], h[2], h[3], h[4],
				display, thumb, ranking.Quantize(ranking.TopScore(h)), ranking.Quantize(ranking.HotScore(h, created))}, nil
		}))
	if err != nil || n != total {
		b.Fatalf("copy: %d %v", n, err)
	}
	for _, sql := range []string{
		`INSERT INTO post_tags (post_id, tag) SELECT id, 'tag' || (id % 50) FROM posts WHERE id % 10 = 3`,
		`VACUUM ANALYZE posts`,
		`VACUUM ANALYZE post_tags`,
	} {
		if _, err := db.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	// The boards, from PostgreSQL (Reconcile re-applies every post changed
	// since the given time: all of them).
	rank := ranking.New(db, rdb, "b:", nil)
	if _, err := rank.Reconcile(ctx, time.Time{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d posts inserted and on the boards in %v", total, time.Since(setup).Round(time.Second))

	set := Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.2, Max: victims, Board: "top"}
	files := posts.New(db, nil, nil, posts.Settings{MediaRoot: media})
	s := New(db, set, Deps{Boards: rank, Files: files, Notify: notifications.New(db, nil)})
	cycle := set.CycleAt(time.Now())

	fileRuns := 0
	var txT, boardT, redisT, perCall, settleT, notifyT, dangerT, releaseT, fileT, pingMax, cmdMax time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i > 0 {
			// Put the previous victims back, at a new version, so that the
			// reconcile below puts them back on their boards (at the
			// version settling gave them it would find nothing newer, and
			// the next run's removals would find them on no board: cheaper
			// than the first run's).
			if _, err := db.Exec(ctx, `UPDATE posts SET status = 'ready', culled_run_id = NULL, culled_rank = NULL, rank_version = rank_version + 1, rank_changed_at = now() WHERE status = 'culled'`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `DELETE FROM cull_victims`); err != nil {
				b.Fatal(err)
			}
			for _, sql := range []string{`DELETE FROM cull_runs`, `DELETE FROM notifications`, `DELETE FROM cull_danger`, `VACUUM ANALYZE posts`} {
				if _, err := db.Exec(ctx, sql); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := rank.Reconcile(ctx, time.Now().Add(-time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()

		began := time.Now()
		run, created, err := s.Cull(ctx, cycle)
		if err != nil || !created || run.Victims != victims {
			b.Fatalf("cull: %+v %v %v", run, created, err)
		}
		txT += time.Since(began)

		b.StopTimer()
		_ = rdb.ConfigSet(ctx, "slowlog-log-slower-than", "200").Err()
		_ = rdb.ConfigSet(ctx, "slowlog-max-len", "100000").Err()
		_ = rdb.SlowLogReset(ctx).Err()
		_ = rdb.ConfigResetStat(ctx).Err()
		cpu0 := testkit.RedisCPU(ctx, rdb)
		probe := testkit.ProbeRedis(rs.Addr) // a client that wants Redis all the time
		time.Sleep(10 * time.Millisecond)
		b.StartTimer()

		began = time.Now()
		// As the follow-up does it: the victims with their versions as
		// recorded, then off every board.
		ids, versions, n, err := s.unlistVictims(ctx, run.ID)
		if err != nil || n != victims || len(ids) != victims || versions == nil {
			b.Fatalf("unlist: %d of %d ids, versions %v: %v", n, len(ids), versions != nil, err)
		}
		boardT += time.Since(began)

		b.StopTimer()
		redisT += time.Duration((testkit.RedisCPU(ctx, rdb) - cpu0) * float64(time.Second))
		perCall = max(perCall, evalshaPerCall(ctx, rdb))
		pingMax = max(pingMax, probe())
		slow, err := rdb.SlowLogGet(ctx, -1).Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range slow {
			cmdMax = max(cmdMax, l.Duration)
		}
		// The rest of the follow-up, timed apart.
		began = time.Now()
		if err := s.settle(ctx, run.ID); err != nil {
			b.Fatalf("settle: %v", err)
		}
		settleT += time.Since(began)
		began = time.Now()
		if err := s.notifyVictims(ctx, run.ID, run.Cycle.Number); err != nil {
			b.Fatal(err)
		}
		notifyT += time.Since(began)
		began = time.Now()
		if _, err := s.CheckDanger(ctx); err != nil {
			b.Fatal(err)
		}
		dangerT += time.Since(began)
		// File deletion: the victims let go of their files (the trigger
		// queues them), then a sample is collected. posts.Collect checks that
		// no post uses a file with a sequential scan of posts, so at this
		// size each file costs a scan; the sample gives the cost per file.
		rows, err := db.Query(ctx, `SELECT DISTINCT unnest(files) FROM cull_victims WHERE run_id = $1`, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.Fatal(err)
		}
		began = time.Now()
		if _, err := db.Exec(ctx, `UPDATE posts SET original = '', display = '', thumb = '', poster = ''
			WHERE id IN (SELECT post_id FROM cull_victims WHERE run_id = $1 AND files <> '{}')`, run.ID); err != nil {
			b.Fatal(err)
		}
		releaseT += time.Since(began)
		sample := paths[:min(len(paths), filesSample)]
		for _, p := range sample {
			f := filepath.Join(media, p)
			_ = os.MkdirAll(filepath.Dir(f), 0o755)
			if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		began = time.Now()
		work := make(chan string)
		var cwg sync.WaitGroup
		for range filesAtOnce {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				for p := range work {
					if err := files.Collect(ctx, p); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, p := range sample {
			work <- p
		}
		close(work)
		cwg.Wait()
		if len(sample) > 0 { // only the first run: putting victims back does not give them their files again
			fileT += time.Since(began) / time.Duration(len(sample))
			fileRuns++
		}
		for _, p := range sample {
			if _, err := os.Stat(filepath.Join(media, p)); !os.IsNotExist(err) {
				b.Fatalf("%s not collected", p)
			}
		}
		b.Logf("run %d: %d ready, %d eligible, %d victims, %d files", run.ID, run.Ready, run.Eligible, run.Victims, len(paths))
		b.StartTimer()
	}
	runs := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / runs }
	b.ReportMetric(ms(txT), "tx-ms")
	b.ReportMetric(ms(boardT), "boards-ms")
	b.ReportMetric(ms(txT+boardT), "total-ms")
	b.ReportMetric(ms(redisT), "redis-cpu-ms")
	b.ReportMetric(float64(perCall)/float64(time.Millisecond), "redis-ms/call")
	b.ReportMetric(float64(cmdMax)/float64(time.Millisecond), "redis-max-cmd-ms")
	b.ReportMetric(float64(pingMax)/float64(time.Millisecond), "ping-max-ms")
	b.ReportMetric(ms(settleT), "settle-ms")
	b.ReportMetric(ms(notifyT), "notify-ms")
	b.ReportMetric(ms(dangerT), "danger-ms")
	b.ReportMetric(ms(releaseT), "release-files-ms")
	b.ReportMetric(float64(fileT)/float64(time.Millisecond)/float64(max(fileRuns, 1)), "ms/file")
	b.ReportMetric(0, "ns/op")
}

// evalshaPerCall is the mean time Redis spent in one EVALSHA since the
// stats were reset.
func evalshaPerCall(ctx context.Context, rdb *redis.Client) time.Duration {
	for _, l := range strings.Split(rdb.Info(ctx, "commandstats").Val(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "cmdstat_evalsha:"); ok {
			for _, f := range strings.Split(v, ",") {
				if u, ok := strings.CutPrefix(f, "usec_per_call="); ok {
					us, _ := strconv.ParseFloat(u, 64)
					return time.Duration(us * float64(time.Microsecond))
				}
			}
		}
	}
	return 0
}
