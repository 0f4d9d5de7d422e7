package realtime

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Callers waiting while a round runs share the next round, never the
// running one (its version may predate their subscription); callers for
// another channel or viewer get their own.
func TestSnapshotGroupRounds(t *testing.T) {
	g := newSnapshotGroup()
	var reads atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{})
	read := func() ([]byte, int64, error) {
		n := reads.Add(1)
		if n == 1 {
			close(started)
			<-release // hold the first round while others arrive
		}
		return []byte("snapshot"), n, nil
	}

	first := make(chan int64)
	go func() {
		_, v, _ := g.do("post:1", 0, read)
		first <- v
	}()
	<-started

	const joiners = 20
	var wg sync.WaitGroup
	got := make([]int64, joiners)
	for i := range joiners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, got[i], _ = g.do("post:1", 0, read)
		}()
	}
	// Wait until every joiner is parked in the waiting round.
	for {
		g.mu.Lock()
		r := g.waiting[snapshotKey{"post:1", 0}]
		n := 0
		if r != nil {
			n = r.callers
		}
		g.mu.Unlock()
		if n == joiners {
			break
		}
		runtime.Gosched()
	}
	_, other, _ := g.do("post:2", 0, read) // another channel does not wait for post:1
	if other < 2 {
		t.Fatalf("post:2 read in round %d, want a read of its own", other)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first caller got round %d, want 1", v)
	}
	wg.Wait()
	for i, v := range got {
		if v == 1 {
			t.Fatalf("joiner %d got the round that was already running", i)
		}
	}
	if n := reads.Load(); n != 3 {
		t.Fatalf("%d reads for 1 + %d callers of post:1 and 1 of post:2, want 3: the joiners share one round", n, joiners)
	}
	for i, v := range got {
		if v != got[0] {
			t.Fatalf("joiner %d got round %d, joiner 0 round %d: all waited together", i, v, got[0])
		}
	}
}
