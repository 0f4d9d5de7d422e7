package realtime

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
)

// boardMessages returns the messages queued for c, in order.
func boardMessages(t *testing.T, c *client) []Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	for _, m := range c.queue {
		var msg Message
		if err := json.Unmarshal(m, &msg); err != nil {
			t.Fatal(err)
		}
		out = append(out, msg)
	}
	return out
}

// A re-read that finds the top of a board unchanged (a rating of a post
// below it, one that left its score as it was) sends nothing and so takes
// no version: every diff's prev is the version of the message before it,
// or clients see a gap that is none and resubscribe.
func TestBoardVersionsChainThroughUnchangedReads(t *testing.T) {
	h := NewHub(NewMemoryBroker(), DefaultConfig(), nil)
	var mu sync.Mutex
	top := []BoardEntry{{ID: "1", Rank: 1, Score: 3}, {ID: "2", Rank: 2, Score: 2}}
	h.Boards(func(context.Context, string) ([]BoardEntry, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]BoardEntry(nil), top...), nil
	})
	set := func(entries ...BoardEntry) {
		mu.Lock()
		top = entries
		mu.Unlock()
	}
	c := &client{h: h, wake: make(chan struct{}, 1), subs: map[string]*sub{"board:hot": {pending: true}}, done: make(chan struct{})}
	h.add(c, "board:hot")
	c.snapshot("board:hot")
	ctx := context.Background()

	set(BoardEntry{ID: "1", Rank: 1, Score: 3.5}, BoardEntry{ID: "2", Rank: 2, Score: 2})
	h.boards.refresh(ctx, "board:hot") // a score changed: a diff
	h.boards.refresh(ctx, "board:hot") // nothing changed (a post below the top was rated)
	set(BoardEntry{ID: "2", Rank: 1, Score: 4}, BoardEntry{ID: "1", Rank: 2, Score: 3.5})
	h.boards.refresh(ctx, "board:hot") // they swapped: a diff

	msgs := boardMessages(t, c)
	if len(msgs) != 3 || msgs[0].Type != "snapshot" || msgs[1].Type != "diff" || msgs[2].Type != "diff" {
		t.Fatalf("messages %+v; want a snapshot and two diffs", msgs)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Prev != msgs[i-1].V || msgs[i].V <= msgs[i-1].V {
			t.Fatalf("message %d has v %d prev %d after v %d: a gap the client never missed anything in",
				i, msgs[i].V, msgs[i].Prev, msgs[i-1].V)
		}
	}
}

// Snapshots of a board this node does not follow yet, read at the same
// time (two subscribers, signed in and not, do not share a snapshot), get
// one state and one version, the one the next diff follows; otherwise the
// subscriber with the other version sees a gap at the first diff.
func TestBoardSnapshotsReadTogetherShareOneVersion(t *testing.T) {
	h := NewHub(NewMemoryBroker(), DefaultConfig(), nil)
	var mu sync.Mutex
	top := []BoardEntry{{ID: "1", Rank: 1, Score: 3}}
	var arrived sync.WaitGroup
	arrived.Add(2)
	release := make(chan struct{})
	var reads int
	h.Boards(func(context.Context, string) ([]BoardEntry, error) {
		mu.Lock()
		reads++
		first := reads <= 2
		out := append([]BoardEntry(nil), top...)
		mu.Unlock()
		if first {
			arrived.Done()
			<-release // both snapshots are reading now
		}
		return out, nil
	})
	vs := make([]int64, 2)
	var wg sync.WaitGroup
	for i := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, v, err := h.boards.snapshot(context.Background(), "top:all")
			if err != nil {
				t.Error(err)
			}
			vs[i] = v
		}()
	}
	arrived.Wait()
	close(release)
	wg.Wait()
	if vs[0] != vs[1] {
		t.Fatalf("snapshots read together have versions %d and %d; want one", vs[0], vs[1])
	}

	c := &client{h: h, wake: make(chan struct{}, 1), subs: map[string]*sub{"board:top:all": {v: vs[0]}}, done: make(chan struct{})}
	h.add(c, "board:top:all")
	mu.Lock()
	top = []BoardEntry{{ID: "1", Rank: 1, Score: 4}}
	mu.Unlock()
	h.boards.refresh(context.Background(), "board:top:all")
	msgs := boardMessages(t, c)
	if len(msgs) != 1 || msgs[0].Type != "diff" || msgs[0].Prev != vs[0] {
		t.Fatalf("after the snapshots at %d: %+v; want a diff with that prev", vs[0], msgs)
	}
}
