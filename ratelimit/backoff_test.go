package ratelimit_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestBackoffGrows(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	ctx := context.Background()
	b := ratelimit.NewBackoff(rdb, prefix, 10*time.Second)
	acct := ratelimit.Key{Name: "login:u:alice", Free: 2}
	ip := ratelimit.Key{Name: "login:ip:10.0.0.1", Free: 100}

	wait := func() time.Duration {
		t.Helper()
		w, err := b.Wait(ctx, acct, ip)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	if wait() != 0 {
		t.Fatal("a fresh key waits")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Fail(ctx, acct, ip))
	if wait() != 0 {
		t.Fatal("the first failure is free")
	}
	// waitAfter fails n more times and returns the wait then, and how long
	// that took: the wait counts from the last failure, so a slow machine
	// sees less of it, never more (wait + took >= the delay, give or take
	// the millisecond to which the script rounds Redis's clock).
	waitAfter := func(n int) (time.Duration, time.Duration) {
		t.Helper()
		start := time.Now()
		for range n {
			must(b.Fail(ctx, acct, ip))
		}
		w := wait()
		return w, time.Since(start) + time.Millisecond
	}
	if w, took := waitAfter(1); w > time.Second || w+took < time.Second { // 2 failures: the delay starts at 1s
		t.Fatalf("after 2 failures wait %v (%v after the failure), want 1s from the failure", w, took)
	}
	if w, took := waitAfter(1); w > 2*time.Second || w+took < 2*time.Second { // 3: 2s
		t.Fatalf("after 3 failures wait %v (%v after the failure), want 2s from the failure", w, took)
	}
	if w, took := waitAfter(10); w > 10*time.Second || w+took < 10*time.Second {
		t.Fatalf("wait %v (%v after the failures), want capped at 10s", w, took)
	}
	// Other keys are unaffected; the key lives under the prefix.
	if w, _ := b.Wait(ctx, ratelimit.Key{Name: "login:u:bob", Free: 2}); w != 0 {
		t.Fatal("bob waits")
	}
	if n, _ := rdb.Exists(ctx, prefix+"rl:backoff:login:u:alice").Result(); n != 1 {
		t.Fatal("key not under the prefix")
	}
	if ttl, _ := rdb.TTL(ctx, prefix+"rl:backoff:login:u:alice").Result(); ttl <= 0 {
		t.Fatal("the counter never expires")
	}
	must(b.Reset(ctx, acct))
	if w, _ := b.Wait(ctx, acct); w != 0 {
		t.Fatal("reset did not clear")
	}
	if ratelimit.Seconds(1500*time.Millisecond) != 2 || ratelimit.Seconds(0) != 1 {
		t.Fatal("Seconds rounds up, at least 1")
	}
}

// Attempt counts attempts in flight, so parallel callers see each other;
// Fail turns one into a failure, Done forgets it, and a success (Done)
// leaves the failure record as it was: it neither restarts the delay nor
// prolongs the record's life.
func TestBackoffAttempt(t *testing.T) {
	rdb, _, prefix := testkit.Redis(t)
	ctx := context.Background()
	b := ratelimit.NewBackoff(rdb, prefix, 10*time.Second)
	acct := ratelimit.Key{Name: "login:u:carol", Free: 2}
	for i := range 2 {
		if w, err := b.Attempt(ctx, acct); err != nil || w != 0 {
			t.Fatalf("attempt %d: wait %v %v", i+1, w, err)
		}
	}
	if w, err := b.Attempt(ctx, acct); err != nil || w <= 0 {
		t.Fatalf("a third attempt while two are in flight: wait %v %v; want a wait", w, err)
	}
	if err := b.Done(ctx, acct); err != nil { // one succeeded
		t.Fatal(err)
	}
	if w, err := b.Attempt(ctx, acct); err != nil || w != 0 {
		t.Fatalf("after one ended: wait %v %v", w, err)
	}
	if n := rdb.HGet(ctx, prefix+"rl:backoff:login:u:carol", "n").Val(); n != "" {
		t.Fatalf("attempts in flight were recorded as failures: n = %s", n)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Fail(ctx, acct)) // both in flight fail
	must(b.Fail(ctx, acct))
	w, err := b.Attempt(ctx, acct)
	if err != nil || w <= 0 || w > time.Second {
		t.Fatalf("after 2 failures: wait %v %v; want (0, 1s]", w, err)
	}

	// An address with many failures: a success behind it changes nothing.
	ip := ratelimit.Key{Name: "login:ip:10.1.1.1", Free: 2}
	for range 3 {
		must(b.Fail(ctx, ip))
	}
	key := prefix + "rl:backoff:login:ip:10.1.1.1"
	must(rdb.HSet(ctx, key, "t", 1).Err()) // the failures were long ago
	must(rdb.PExpire(ctx, key, 5*time.Minute).Err())
	tBefore := rdb.HGet(ctx, key, "t").Val()
	if w, err := b.Attempt(ctx, ip); err != nil || w != 0 {
		t.Fatalf("an attempt long after the failures: wait %v %v", w, err)
	}
	must(b.Done(ctx, ip))
	if got := rdb.HGet(ctx, key, "t").Val(); got != tBefore {
		t.Fatalf("a success restamped the last failure: %s → %s", tBefore, got)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl > 5*time.Minute {
		t.Fatalf("a success prolonged the record: TTL %v", ttl)
	}
	if n := rdb.Exists(ctx, key+":f").Val(); n != 0 {
		t.Fatal("an attempt stayed in flight after Done")
	}
}
