package ranking

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/testkit"
)

func TestZZUnlistProbe(t *testing.T) {
	ctx := context.Background()
	rs, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	s := &Service{rdb: rdb, k: keys{p: "b:"}}
	const N = 1_000_000
	t0 := time.Now()
	for start := 1; start <= N; start += 10000 {
		pipe := rdb.Pipeline()
		for id := start; id < start+10000; id++ {
			boards := []string{"hot", "top:all", "new", fmt.Sprintf("top:day:%d", id%4), fmt.Sprintf("top:week:%d", id%2)}
			if id%10 == 3 {
				boards = append(boards, fmt.Sprintf("tag:t%d:top", id%50), fmt.Sprintf("tag:t%d:hot", id%50))
			}
			for _, b := range boards {
				pipe.ZAdd(ctx, s.k.board(b), redis.Z{Score: float64((id * 7919) % N), Member: id})
			}
			ks := make([]any, len(boards))
			for i, b := range boards {
				ks[i] = s.k.board(b)
			}
			pipe.SAdd(ctx, s.k.members(int64(id)), ks...)
			pipe.HSet(ctx, s.k.versions(), strconv.Itoa(id), 1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("load", time.Since(t0))
	ids := make([]int64, 0, 100000)
	vers := make([]int64, 0, 100000)
	for id := 5; id <= N; id += 10 {
		ids = append(ids, int64(id))
		vers = append(vers, 2)
	}
	_ = unlistScript.Load(ctx, rdb).Err()
	rdb.ConfigResetStat(ctx)
	rdb.ConfigSet(ctx, "slowlog-log-slower-than", "0")
	rdb.ConfigSet(ctx, "slowlog-max-len", "100000")
	rdb.SlowLogReset(ctx)
	t0 = time.Now()
	moved := 0
	for start := 0; start < len(ids); start += unlistPerCall * unlistCallsPerTrip {
		end := min(start+unlistPerCall*unlistCallsPerTrip, len(ids))
		n, err := s.unlistTrip(ctx, ids[start:end], vers[start:end])
		if err != nil {
			t.Fatal(err)
		}
		moved += n
	}
	t.Log("unlist", moved, time.Since(t0))
	info := rdb.Info(ctx, "commandstats").Val()
	for _, l := range strings.Split(info, "\n") {
		if strings.Contains(l, "evalsha") {
			t.Log(strings.TrimSpace(l))
		}
	}
	sl, _ := rdb.SlowLogGet(ctx, -1).Result()
	var ds []time.Duration
	for _, e := range sl {
		if strings.EqualFold(e.Args[0], "evalsha") {
			ds = append(ds, e.Duration)
		}
	}
	var mx time.Duration
	over := 0
	for _, d := range ds {
		mx = max(mx, d)
		if d > 10*time.Millisecond {
			over++
		}
	}
	t.Log("evalsha calls", len(ds), "max", mx, "over 10ms", over)
}
