package ranking

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jokster/jokster/testkit"
)

// BenchmarkUnlistAt100kOf1M takes the cull's 100,000 victims off the
// boards of 1,000,000 posts, Redis alone (no PostgreSQL): the boards are
// filled through the sync script, with the default cap (DefaultBoardCap:
// each post board keeps its top 10,000), from posts made up the way the
// cull's benchmark makes them (ages 0–95 h, a tenth with one of 50 tags),
// and the victims are the bottom of top:all as the cull picks them: the
// 100,000 lowest top scores among posts older than a day. Most of them are
// below every capped board's floor, so taking them off is their rank:pv
// entries and ZREMs of non-members (the tag boards, 2,000 posts each, are
// whole).
//
//	go test ./ranking -run '^$' -bench UnlistAt100kOf1M -benchtime 1x
//
// It reports the wall-clock time, the CPU time of Redis's main thread and
// the slowest command in Redis's slow log, and the slowest PING of another
// client meanwhile (what other clients wait). docs/benchmarks.md has the
// figures.
func BenchmarkUnlistAt100kOf1M(b *testing.B) {
	const total, victims = 1_000_000, 100_000
	ctx := context.Background()
	rdb, srv := testkit.OwnRedis(b)
	s := New(nil, rdb, "b:", nil)

	setup := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	if err := syncScript.Load(ctx, rdb).Err(); err != nil {
		b.Fatal(err)
	}
	rows := make([]postRow, 0, total)
	for g := 1; g <= total; g++ {
		p := postRow{id: int64(g), status: "ready", version: 1,
			created: now.Add(-time.Duration(g%96)*time.Hour - time.Duration(g%3600)*time.Second)}
		for k := range p.hist {
			p.hist[k] = int64(rng.IntN(6))
		}
		if g%10 == 3 {
			p.tags = []string{"tag" + strconv.Itoa(g%50)}
		}
		rows = append(rows, p)
	}
	for start := 0; start < total; start += 2000 {
		pipe := rdb.Pipeline()
		for _, p := range rows[start:min(start+2000, total)] {
			ks, args := s.k.syncArgs(p, s.cap())
			syncScript.Run(ctx, pipe, ks, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	eligible := slices.DeleteFunc(slices.Clone(rows), func(p postRow) bool { return now.Sub(p.created) < 24*time.Hour })
	slices.SortFunc(eligible, func(x, y postRow) int {
		return cmp.Compare(BoardScore(TopScore(x.hist), x.id), BoardScore(TopScore(y.hist), y.id))
	})
	ids := make([]int64, victims)
	versions := make([]int64, victims)
	for i, p := range eligible[:victims] {
		ids[i], versions[i] = p.id, 2
	}
	b.Logf("setup: %d posts on the boards in %v", total, time.Since(setup).Round(time.Second))
	mem := testkit.RedisInfo(ctx, rdb, "memory", "used_memory:") - testkit.RedisInfo(ctx, rdb, "memory", "used_memory_startup:")

	_ = rdb.ConfigSet(ctx, "slowlog-log-slower-than", "200").Err()
	_ = rdb.ConfigSet(ctx, "slowlog-max-len", "100000").Err()
	_ = rdb.SlowLogReset(ctx).Err()
	cpu0 := testkit.RedisCPU(ctx, rdb)
	probe := testkit.ProbeRedis(srv.Addr)
	time.Sleep(10 * time.Millisecond)
	b.ResetTimer()
	began := time.Now()
	n, err := s.UnlistAt(ctx, ids, versions)
	took := time.Since(began)
	b.StopTimer()
	pingMax := probe()
	if err != nil || n != victims {
		b.Fatalf("unlisted %d of %d: %v", n, victims, err)
	}
	cpu := testkit.RedisCPU(ctx, rdb) - cpu0
	var slowest time.Duration
	slow, err := rdb.SlowLogGet(ctx, -1).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range slow {
		slowest = max(slowest, l.Duration)
	}
	// Every victim is off every board it was on, and top:all, whose
	// bottom they were, still holds its top.
	gone := make(map[string]bool, victims)
	for _, id := range ids {
		gone[strconv.FormatInt(id, 10)] = true
	}
	boards, err := rdb.Keys(ctx, s.k.board("*")).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range boards {
		members, err := rdb.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			b.Fatal(err)
		}
		if int64(len(members)) > s.cap() {
			b.Fatalf("%s holds %d posts, over the cap %d", k, len(members), s.cap())
		}
		for _, m := range members {
			if gone[m] {
				b.Fatalf("%s still holds victim %s", k, m)
			}
		}
	}
	if c := rdb.ZCard(ctx, s.k.board("top:all")).Val(); c != DefaultBoardCap {
		b.Fatalf("top:all holds %d posts, want its top %d", c, DefaultBoardCap)
	}
	b.ReportMetric(float64(took)/float64(time.Millisecond), "wall-ms")
	b.ReportMetric(cpu*1000, "redis-cpu-ms")
	b.ReportMetric(float64(slowest)/float64(time.Millisecond), "redis-max-cmd-ms")
	b.ReportMetric(float64(pingMax)/float64(time.Millisecond), "ping-max-ms")
	b.ReportMetric(mem/total, "redis-B/post")
	b.ReportMetric(0, "ns/op")
}
