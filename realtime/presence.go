package realtime

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// presenceScript records this node's viewer count of a channel and returns
// the total over nodes heard from in the last 90 s (a node that died stops
// counting on its own).
// KEYS[1] the channel's presence hash. ARGV[1] node id, ARGV[2] its count,
// ARGV[3] now in seconds.
var presenceScript = redis.NewScript(`
local now = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], 120)
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local n, t = string.match(all[i + 1], '(%d+):(%d+)')
  if tonumber(t) >= now - 90 then total = total + tonumber(n) else redis.call('HDEL', KEYS[1], all[i]) end
end
return total
`)

// Presence implements presence counting for RedisBroker.
func (b *RedisBroker) Presence(ctx context.Context, ch, node string, n int) (int, error) {
	return presenceScript.Run(ctx, b.rdb, []string{b.prefix + "presence:" + ch}, node, n, time.Now().Unix()).Int()
}

// Presence implements presence counting for MemoryBroker (one node).
func (m *MemoryBroker) Presence(_ context.Context, _, _ string, n int) (int, error) { return n, nil }

type presencer interface {
	Presence(ctx context.Context, ch, node string, n int) (int, error)
}

// presence tracks viewers of post channels: changes are batched each
// second, refreshed every 30 s, and published as "viewers" events.
type presence struct {
	mu    sync.Mutex
	dirty map[string]bool
	total map[string]int
}

func (h *Hub) presenceChanged(ch string, _ int) {
	h.pres.mu.Lock()
	h.pres.dirty[ch] = true
	h.pres.mu.Unlock()
}

// Viewers returns how many people watch ch now (all nodes).
func (h *Hub) Viewers(ctx context.Context, ch string) int {
	p, ok := h.broker.(presencer)
	if !ok {
		return h.subscribers(ch)
	}
	n, err := p.Presence(ctx, ch, h.node, h.subscribers(ch))
	if err != nil {
		return h.subscribers(ch)
	}
	return n
}

func (h *Hub) runPresence(ctx context.Context) {
	p, ok := h.broker.(presencer)
	if !ok {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	refresh := time.NewTicker(30 * time.Second)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			h.mu.RLock()
			for ch := range h.chans {
				if len(ch) > 5 && ch[:5] == "post:" {
					h.pres.mu.Lock()
					h.pres.dirty[ch] = true
					h.pres.mu.Unlock()
				}
			}
			h.mu.RUnlock()
		case <-tick.C:
			h.pres.mu.Lock()
			dirty := h.pres.dirty
			h.pres.dirty = map[string]bool{}
			h.pres.mu.Unlock()
			for ch := range dirty {
				total, err := p.Presence(ctx, ch, h.node, h.subscribers(ch))
				if err != nil {
					continue
				}
				h.pres.mu.Lock()
				changed := h.pres.total[ch] != total
				h.pres.total[ch] = total
				if total == 0 {
					delete(h.pres.total, ch)
				}
				h.pres.mu.Unlock()
				if changed {
					_, _ = h.broker.Publish(ctx, ch, "viewers", []byte(`{"viewers":`+strconv.Itoa(total)+`}`))
				}
			}
		}
	}
}
