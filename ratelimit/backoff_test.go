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
	must(b.Fail(ctx, acct, ip)) // 2 failures: the delay starts at 1s
	if w := wait(); w <= 0 || w > time.Second {
		t.Fatalf("after 2 failures wait %v, want (0, 1s]", w)
	}
	must(b.Fail(ctx, acct, ip)) // 3: 2s
	if w := wait(); w <= time.Second || w > 2*time.Second {
		t.Fatalf("after 3 failures wait %v, want (1s, 2s]", w)
	}
	for i := 0; i < 10; i++ {
		must(b.Fail(ctx, acct, ip))
	}
	if w := wait(); w <= 8*time.Second || w > 10*time.Second {
		t.Fatalf("wait %v, want capped at 10s", w)
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

// Attempt counts before the caller knows the outcome, so parallel callers
// see each other; Refund takes a counted attempt back.
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
	w, err := b.Attempt(ctx, acct)
	if err != nil || w <= 0 || w > time.Second {
		t.Fatalf("third attempt at once: wait %v %v; want (0, 1s]", w, err)
	}
	if n := rdb.HGet(ctx, prefix+"rl:backoff:login:u:carol", "n").Val(); n != "2" {
		t.Fatalf("a refused attempt was counted: n = %s", n)
	}
	if err := b.Refund(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if w, err := b.Attempt(ctx, acct); err != nil || w != 0 {
		t.Fatalf("after a refund: wait %v %v", w, err)
	}
	// Refunding a key with nothing counted leaves it at nothing.
	other := ratelimit.Key{Name: "login:u:dan", Free: 2}
	if err := b.Refund(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+"rl:backoff:login:u:dan").Val(); n != 0 {
		t.Fatal("a refund created a counter")
	}
}
