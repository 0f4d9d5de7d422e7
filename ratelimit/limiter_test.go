package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/testkit"
)

func allow(t *testing.T, l *ratelimit.Limiter, key string, r ratelimit.Rule) ratelimit.Result {
	t.Helper()
	res, err := l.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLimiterBurstThenRefused(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	l := ratelimit.NewLimiter(rdb, prefix)
	rule := ratelimit.Rule{Rate: 10, Per: time.Minute, Burst: 3} // one every 6s
	start := time.Now()
	for i := 0; i < 3; i++ {
		res := allow(t, l, "upload:u:1", rule)
		if !res.Allowed || res.Remaining != 2-i || res.RetryAfter != 0 {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, res, 2-i)
		}
	}
	res := allow(t, l, "upload:u:1", rule)
	took := time.Since(start)
	if res.Allowed || res.Remaining != 0 {
		t.Fatalf("4th request: %+v, want refused", res)
	}
	// The first token comes back 6s after the first request: a slow
	// machine sees less of the wait, never more.
	if res.RetryAfter > 6*time.Second || res.RetryAfter+took < 6*time.Second {
		t.Fatalf("retry after %v, %v after the first request; want 6s from it", res.RetryAfter, took)
	}
	// A refusal costs nothing: it still says about 6s, not 12s.
	if res := allow(t, l, "upload:u:1", rule); res.Allowed || res.RetryAfter > 6*time.Second {
		t.Fatalf("5th request: %+v", res)
	}
	if ratelimit.Seconds(res.RetryAfter) > 6 {
		t.Fatalf("Retry-After %d s", ratelimit.Seconds(res.RetryAfter))
	}
}

func TestLimiterBurstDefaultsToRate(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	l := ratelimit.NewLimiter(rdb, prefix)
	rule := ratelimit.Rule{Rate: 4, Per: time.Hour}
	for i := 0; i < 4; i++ {
		if !allow(t, l, "k", rule).Allowed {
			t.Fatalf("request %d refused", i+1)
		}
	}
	if allow(t, l, "k", rule).Allowed {
		t.Fatal("request 5 allowed")
	}
}

func TestLimiterRefills(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	l := ratelimit.NewLimiter(rdb, prefix)
	rule := ratelimit.Rule{Rate: 20, Per: time.Second, Burst: 2} // one every 50ms
	// The refusal that ends the burst is judged itself: another call after
	// it could find a token dripped in on a busy machine.
	res := allow(t, l, "k", rule)
	for res.Allowed {
		res = allow(t, l, "k", rule)
	}
	if res.RetryAfter <= 0 || res.RetryAfter > 50*time.Millisecond {
		t.Fatalf("%+v, want refused for at most 50ms", res)
	}
	// Poll rather than sleep exactly: the machine may be busy.
	deadline := time.Now().Add(10 * time.Second)
	for !allow(t, l, "k", rule).Allowed {
		if time.Now().After(deadline) {
			t.Fatal("the bucket never refilled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// After a long pause the whole burst is back, but no more.
	// (Remaining is computed at one instant in Redis, however slow the
	// calls around it.)
	time.Sleep(200 * time.Millisecond)
	if res := allow(t, l, "k", rule); !res.Allowed || res.Remaining != 1 {
		t.Fatalf("after a pause: %+v, want allowed with 1 of the burst of 2 remaining", res)
	}
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	l := ratelimit.NewLimiter(rdb, prefix)
	rule := ratelimit.Rule{Rate: 1, Per: time.Hour, Burst: 1}
	if !allow(t, l, "comment:u:1", rule).Allowed || allow(t, l, "comment:u:1", rule).Allowed {
		t.Fatal("the first of user 1 must pass and the second not")
	}
	if !allow(t, l, "comment:u:2", rule).Allowed || !allow(t, l, "report:u:1", rule).Allowed {
		t.Fatal("another user or action shares user 1's comment bucket")
	}
	// Another prefix (another deployment on the same Redis) is separate too.
	if !allow(t, ratelimit.NewLimiter(rdb, prefix+"other:"), "comment:u:1", rule).Allowed {
		t.Fatal("another prefix shares the bucket")
	}
}

func TestLimiterKeysLiveUnderThePrefixAndExpire(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	ctx := context.Background()
	l := ratelimit.NewLimiter(rdb, prefix)
	rule := ratelimit.Rule{Rate: 60, Per: time.Minute, Burst: 10} // one a second
	for i := 0; i < 3; i++ {
		allow(t, l, "login:ip:10.0.0.1", rule)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != prefix+"rl:login:ip:10.0.0.1" {
		t.Fatalf("keys %v, want only %srl:login:ip:10.0.0.1", keys, prefix)
	}
	ttl, err := rdb.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The key lives until the bucket would be full again: 3 requests at
	// one a second.
	if ttl <= 0 || ttl > 3*time.Second {
		t.Fatalf("TTL %v, want (0, 3s]", ttl)
	}
	// Refusals write nothing.
	tight := ratelimit.Rule{Rate: 1, Per: time.Hour, Burst: 1}
	allow(t, l, "x", tight)
	before, _ := rdb.Get(ctx, prefix+"rl:x").Result()
	if allow(t, l, "x", tight).Allowed {
		t.Fatal("allowed twice")
	}
	if after, _ := rdb.Get(ctx, prefix+"rl:x").Result(); after != before {
		t.Fatalf("a refusal moved the bucket from %s to %s", before, after)
	}
}

func TestLimiterConcurrentCallsNeverExceedTheRule(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	l := ratelimit.NewLimiter(rdb, prefix)
	for _, tc := range []struct {
		name string
		rule ratelimit.Rule
	}{
		{"slow refill", ratelimit.Rule{Rate: 1, Per: time.Hour, Burst: 5}},
		{"fast refill", ratelimit.Rule{Rate: 20, Per: time.Second, Burst: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for g := 0; g < 50; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 8; i++ {
						res, err := l.Allow(context.Background(), "race:"+tc.name, tc.rule)
						if err != nil {
							t.Error(err)
							return
						}
						if res.Allowed {
							allowed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(start)
			refill := int64(took.Seconds()*float64(tc.rule.Rate)/tc.rule.Per.Seconds()) + 1
			limit := int64(tc.rule.Burst) + refill
			if n := allowed.Load(); n < int64(tc.rule.Burst) || n > limit {
				t.Fatalf("%d of 400 allowed in %v, want between %d and %d", n, took, tc.rule.Burst, limit)
			}
		})
	}
}

func TestLimiterUnlimitedAndErrors(t *testing.T) {
	// An unlimited rule never asks Redis.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	l := ratelimit.NewLimiter(dead, "p:")
	if res, err := l.Allow(context.Background(), "k", ratelimit.Rule{}); err != nil || !res.Allowed {
		t.Fatalf("unlimited: %+v %v", res, err)
	}
	if _, err := l.Allow(context.Background(), "k", ratelimit.Rule{Rate: 1, Per: time.Second}); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
	if _, err := l.Allow(context.Background(), "k", ratelimit.Rule{Rate: 1}); err == nil {
		t.Fatal("a rule without a period was accepted")
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Rule
	}{
		{"30/h", ratelimit.Rule{Rate: 30, Per: time.Hour}},
		{"30/h burst 10", ratelimit.Rule{Rate: 30, Per: time.Hour, Burst: 10}},
		{"  30/H  Burst  10 ", ratelimit.Rule{Rate: 30, Per: time.Hour, Burst: 10}},
		{"5/m", ratelimit.Rule{Rate: 5, Per: time.Minute}},
		{"5/min", ratelimit.Rule{Rate: 5, Per: time.Minute}},
		{"100/s", ratelimit.Rule{Rate: 100, Per: time.Second}},
		{"1000/d", ratelimit.Rule{Rate: 1000, Per: 24 * time.Hour}},
		{"10/30s burst 3", ratelimit.Rule{Rate: 10, Per: 30 * time.Second, Burst: 3}},
		{"6000/m burst 1000", ratelimit.Rule{Rate: 6000, Per: time.Minute, Burst: 1000}},
		{"0", ratelimit.Rule{}},
		{"unlimited", ratelimit.Rule{}},
		{"0/h", ratelimit.Rule{}},
	} {
		got, err := ratelimit.ParseRule(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		// String writes what ParseRule reads.
		if back, err := ratelimit.ParseRule(got.String()); err != nil || back != got {
			t.Errorf("%q → %q → %+v, %v", tc.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "30", "30/", "/h", "x/h", "-1/h", "30/fortnight", "30/-1s", "30/h burst",
		"30/h burst 0", "30/h burst x", "30/h bust 10", "30/h burst 10 more", "1000/1us"} {
		if r, err := ratelimit.ParseRule(in); err == nil {
			t.Errorf("ParseRule(%q) = %+v, want an error", in, r)
		} else if !strings.Contains(err.Error(), "30/h") {
			t.Errorf("ParseRule(%q): %v does not show the syntax", in, err)
		}
	}
	var r ratelimit.Rule
	if err := r.UnmarshalText([]byte("2/s burst 4")); err != nil || r != (ratelimit.Rule{Rate: 2, Per: time.Second, Burst: 4}) {
		t.Fatalf("UnmarshalText: %+v %v", r, err)
	}
	if s := (ratelimit.Rule{Rate: 30, Per: time.Hour, Burst: 10}).String(); s != "30/h burst 10" {
		t.Fatal(s)
	}
}
