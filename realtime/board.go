package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
)

// boardCoalescer turns "board changed" events into at most BoardRate
// messages a second per board: the top-N is read again, compared with what
// subscribers last got, and only the difference is sent (entered, left,
// moved, score). Each node does this for its own subscribers, so board
// versions are per node; a client that moves to another node resubscribes
// and gets a snapshot.
type boardCoalescer struct {
	h      *Hub
	mu     sync.Mutex
	marked map[string]bool
	state  map[string][]BoardEntry
	v      map[string]int64
	lastV  int64
	events int64 // diffs sent, for tests
}

func newBoardCoalescer(h *Hub) *boardCoalescer {
	return &boardCoalescer{h: h, marked: map[string]bool{}, state: map[string][]BoardEntry{}, v: map[string]int64{}}
}

// next is a node-local version: time-based, strictly increasing.
func (b *boardCoalescer) next() int64 {
	v := time.Now().UnixMicro()
	if v <= b.lastV {
		v = b.lastV + 1
	}
	b.lastV = v
	return v
}

// dirty marks a board (as named by ranking: "hot", "top:day:2026-11-27",
// "tag:cats:top", …) for the next flush.
func (b *boardCoalescer) dirty(name string) {
	b.mu.Lock()
	b.marked[name] = true
	b.mu.Unlock()
}

func (b *boardCoalescer) run(ctx context.Context) {
	every := time.Duration(float64(time.Second) / max(b.h.cfg.BoardRate, 0.1))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.flush(ctx)
		}
	}
}

// boardKey maps a board name to the channel key subscribers use.
func boardKey(name string) string {
	switch {
	case len(name) > 8 && name[:8] == "top:day:":
		return "board:top:day"
	case len(name) > 9 && name[:9] == "top:week:":
		return "board:top:week"
	}
	return "board:" + name
}

func (b *boardCoalescer) flush(ctx context.Context) {
	b.mu.Lock()
	dirty := b.marked
	b.marked = map[string]bool{}
	b.mu.Unlock()
	done := map[string]bool{}
	for name := range dirty {
		key := boardKey(name)
		if done[key] {
			continue
		}
		if b.h.subscribers(key) == 0 {
			// Nobody to tell: forget the board instead of following it, so
			// that the next subscriber's snapshot is read afresh.
			b.mu.Lock()
			delete(b.state, key)
			b.mu.Unlock()
			continue
		}
		done[key] = true
		b.refresh(ctx, key)
	}
}

// refresh reads a board and sends subscribers the difference.
func (b *boardCoalescer) refresh(ctx context.Context, key string) {
	src := b.h.boardSource()
	if src == nil {
		return
	}
	now, err := src(ctx, key[len("board:"):])
	if err != nil {
		slog.Debug("realtime: board read failed", "board", key, "err", err)
		return
	}
	var data any
	typ := "diff"
	b.mu.Lock()
	prev, had := b.state[key]
	b.state[key] = now
	if had {
		d := diff(prev, now)
		if d.empty() {
			// Nothing to send, so no new version either: the next message's
			// prev must be the version subscribers last got, or they see a
			// gap that is none and all resubscribe. (The entries' items may
			// be newer now; diffs do not carry those anyway.)
			b.mu.Unlock()
			return
		}
		data = d
	} else {
		typ, data = "snapshot", map[string]any{"items": now}
	}
	lastV := b.v[key]
	v := b.next()
	b.v[key] = v
	b.events++
	b.mu.Unlock()
	raw, _ := json.Marshal(data)
	msg, _ := json.Marshal(Message{Ch: key, Type: typ, V: v, Prev: lastV, Data: raw})
	b.h.mu.RLock()
	subs := make([]*client, 0, len(b.h.chans[key]))
	for c := range b.h.chans[key] {
		subs = append(subs, c)
	}
	b.h.mu.RUnlock()
	for _, c := range subs {
		c.update(key, v, msg)
	}
}

// snapshot returns the board's current state and version, reading it if
// this node has none yet.
func (b *boardCoalescer) snapshot(ctx context.Context, name string) (any, int64, error) {
	key := "board:" + name
	b.mu.Lock()
	st, ok := b.state[key]
	v := b.v[key]
	b.mu.Unlock()
	if !ok {
		src := b.h.boardSource()
		if src == nil {
			return map[string]any{"items": []BoardEntry{}}, 0, nil
		}
		var err error
		if st, err = src(ctx, name); err != nil {
			return nil, 0, err
		}
		b.mu.Lock()
		if cur, ok := b.state[key]; ok {
			// Another subscription's snapshot (or a flush) stored the board
			// while this one read it: take that state and its version, which
			// the next diff follows, not a second version of its own.
			st, v = cur, b.v[key]
		} else {
			b.state[key] = st
			v = b.next()
			b.v[key] = v
		}
		b.mu.Unlock()
	}
	return map[string]any{"items": st}, v, nil
}

// boardDiff is what changed between two reads of a board.
type boardDiff struct {
	Entered []BoardEntry `json:"entered"`
	Left    []string     `json:"left"`
	Moved   []movedEntry `json:"moved"`
	Scores  []scoreEntry `json:"scores"`
}

type movedEntry struct {
	ID   string `json:"id"`
	From int    `json:"from"`
	To   int    `json:"to"`
}

type scoreEntry struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

func (d boardDiff) empty() bool {
	return len(d.Entered) == 0 && len(d.Left) == 0 && len(d.Moved) == 0 && len(d.Scores) == 0
}

func diff(prev, now []BoardEntry) boardDiff {
	d := boardDiff{Entered: []BoardEntry{}, Left: []string{}, Moved: []movedEntry{}, Scores: []scoreEntry{}}
	old := make(map[string]BoardEntry, len(prev))
	for _, e := range prev {
		old[e.ID] = e
	}
	seen := map[string]bool{}
	for _, e := range now {
		seen[e.ID] = true
		o, ok := old[e.ID]
		switch {
		case !ok:
			d.Entered = append(d.Entered, e)
		default:
			if o.Rank != e.Rank {
				d.Moved = append(d.Moved, movedEntry{ID: e.ID, From: o.Rank, To: e.Rank})
			}
			if o.Score != e.Score {
				d.Scores = append(d.Scores, scoreEntry{ID: e.ID, Score: e.Score})
			}
		}
	}
	for _, e := range prev {
		if !seen[e.ID] {
			d.Left = append(d.Left, e.ID)
		}
	}
	return d
}

func (h *Hub) boardSource() BoardSource {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.board
}
