package cull

import (
	"context"
	"sync"
)

// Announcer hears about committed cull events; the realtime package
// implements it (posts:new and danger channels). cull never imports it.
type Announcer interface {
	// PostsCulled: run runID culled these posts (they left every board);
	// versions, when not nil, holds each one's rank version after the cull.
	PostsCulled(ctx context.Context, runID int64, ids, versions []int64)
	// DangerChanged: the danger zone may have new members or order.
	DangerChanged(ctx context.Context)
}

// Nop is an Announcer that ignores everything.
type Nop struct{}

// PostsCulled does nothing.
func (Nop) PostsCulled(context.Context, int64, []int64, []int64) {}

// DangerChanged does nothing.
func (Nop) DangerChanged(context.Context) {}

// Memory is an Announcer that records what it hears, for tests.
type Memory struct {
	mu     sync.Mutex
	culled []CulledEvent
	danger int
}

// CulledEvent is one recorded PostsCulled call.
type CulledEvent struct {
	Run int64
	IDs []int64
}

// PostsCulled records the event.
func (m *Memory) PostsCulled(_ context.Context, runID int64, ids, _ []int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.culled = append(m.culled, CulledEvent{Run: runID, IDs: append([]int64(nil), ids...)})
}

// DangerChanged counts the event.
func (m *Memory) DangerChanged(context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.danger++
}

// Snapshot returns copies of what was recorded: the PostsCulled calls and
// the number of DangerChanged calls.
func (m *Memory) Snapshot() ([]CulledEvent, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]CulledEvent(nil), m.culled...), m.danger
}
