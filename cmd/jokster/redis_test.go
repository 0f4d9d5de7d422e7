package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/testkit"
)

// A Redis that hangs (stopped, not gone) holds a call only until the
// call's deadline. With go-redis's defaults the call ignored its deadline,
// waited out the client's own read timeout, and here would have answered
// PONG once Redis woke, long after its request had given up.
func TestRedisCallsEndAtTheirDeadline(t *testing.T) {
	srv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	opt, err := redisOptions("redis://" + srv.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	woke := make(chan struct{})
	go func() {
		defer close(woke)
		time.Sleep(1500 * time.Millisecond) // well past the call's deadline, within the read timeout
		_ = syscall.Kill(srv.Pid(), syscall.SIGCONT)
	}()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = rdb.Ping(short).Err()
	cancel()
	<-woke
	if err == nil {
		t.Fatal("a PING with a 200 ms deadline to a stopped Redis answered once Redis woke 1.5 s later: the deadline was not kept")
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("after Redis woke: %v", err)
	}
}
