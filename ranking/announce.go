package ranking

import (
	"context"
	"sync"
)

// Announcer hears about committed ranking changes. The realtime package
// implements it to push live updates; ranking never imports realtime.
type Announcer interface {
	// StatsChanged: post's rating statistics are now at version.
	StatsChanged(ctx context.Context, post int64, version int64, stats Stats)
	// BoardChanged: the named board (e.g. "hot", "top:week", "tag:cats")
	// may have new members or order.
	BoardChanged(ctx context.Context, board string)
}

// Memory is an Announcer that records what it hears, for tests.
type Memory struct {
	mu     sync.Mutex
	Stats  []StatsEvent
	Boards map[string]int
}

// StatsEvent is one recorded StatsChanged call.
type StatsEvent struct {
	Post, Version int64
	Stats         Stats
}

// StatsChanged records the event.
func (m *Memory) StatsChanged(_ context.Context, post, version int64, st Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Stats = append(m.Stats, StatsEvent{Post: post, Version: version, Stats: st})
}

// BoardChanged counts the event.
func (m *Memory) BoardChanged(_ context.Context, board string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Boards == nil {
		m.Boards = map[string]int{}
	}
	m.Boards[board]++
}

// Snapshot returns copies of what was recorded.
func (m *Memory) Snapshot() ([]StatsEvent, map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := map[string]int{}
	for k, v := range m.Boards {
		b[k] = v
	}
	return append([]StatsEvent(nil), m.Stats...), b
}

type nopAnnouncer struct{}

func (nopAnnouncer) StatsChanged(context.Context, int64, int64, Stats) {}
func (nopAnnouncer) BoardChanged(context.Context, string)              {}
