// Package realtime pushes changes to browsers over WebSocket. Any process
// publishes events through a Broker (Redis pub/sub in production: one
// subscription per node, not per connection); every API node's Hub
// delivers them to its own clients, each through a bounded queue so a slow
// client is disconnected instead of slowing anyone else. Messages carry a
// per-channel version so a client can drop stale ones and detect gaps; a
// (re)subscribe with an old version gets a fresh snapshot.
package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is one change on a channel, as it travels between nodes.
type Event struct {
	Ch   string          `json:"ch"`
	Type string          `json:"type"`
	V    int64           `json:"v"`
	Prev int64           `json:"prev"` // the channel's previous version (0: unknown)
	Data json.RawMessage `json:"data,omitempty"`
}

// Broker carries events between processes.
type Broker interface {
	// Publish sends an event to every node and returns it as sent. It
	// assigns the event's version: larger than any earlier one on the
	// channel, even across a Redis restart (it comes from the Redis clock
	// in microseconds), and Prev, the version before it.
	Publish(ctx context.Context, ch, typ string, data []byte) (Event, error)
	// Run delivers every event from any node to deliver until ctx ends. It
	// calls resync each time the subscription is (re)established after the
	// first, since events may have been missed meanwhile.
	Run(ctx context.Context, deliver func(Event), resync func()) error
	// Now is a version for a snapshot taken now: every event published
	// after it has a larger version.
	Now(ctx context.Context) (int64, error)
}

// RedisBroker is the production Broker: PUBLISH on <prefix>rt:<channel>,
// one PSUBSCRIBE per node. Its keys (the family "<prefix>rt:…") are owned
// here: rt:v:<channel> holds the channel's last version for a day.
type RedisBroker struct {
	rdb    *redis.Client
	prefix string
}

// NewRedisBroker returns a broker on rdb.
func NewRedisBroker(rdb *redis.Client, prefix string) *RedisBroker {
	return &RedisBroker{rdb: rdb, prefix: prefix + "rt:"}
}

// publishScript assigns the next version and publishes.
// KEYS[1] the channel's version key. ARGV[1] the pub/sub channel, ARGV[2]
// the channel name (JSON-encoded), ARGV[3] the type (JSON-encoded), ARGV[4]
// the data (JSON). The version is max(now in µs, last + 1): it never goes
// back, even after a flush, as long as Redis's clock does not. The message
// also carries the previous version (prev), so a client can tell it missed
// one.
var publishScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = now
if v <= last then v = last + 1 end
local vs = string.format('%.0f', v)
redis.call('SET', KEYS[1], vs, 'EX', 86400)
local prev = string.format('%.0f', last)
redis.call('PUBLISH', ARGV[1], '{"ch":' .. ARGV[2] .. ',"type":' .. ARGV[3] .. ',"v":' .. vs .. ',"prev":' .. prev .. ',"data":' .. ARGV[4] .. '}')
return {vs, prev}
`)

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, ch, typ string, data []byte) (Event, error) {
	if len(data) == 0 {
		data = []byte("null")
	}
	chj, _ := json.Marshal(ch)
	tj, _ := json.Marshal(typ)
	r, err := publishScript.Run(ctx, b.rdb, []string{b.prefix + "v:" + ch}, b.prefix+ch, string(chj), string(tj), string(data)).StringSlice()
	if err != nil {
		return Event{}, err
	}
	if len(r) != 2 {
		return Event{}, fmt.Errorf("realtime: publish answered %q", r)
	}
	ev := Event{Ch: ch, Type: typ, Data: data}
	if ev.V, err = strconv.ParseInt(r[0], 10, 64); err == nil {
		ev.Prev, err = strconv.ParseInt(r[1], 10, 64)
	}
	return ev, err
}

// Now implements Broker with the Redis clock.
func (b *RedisBroker) Now(ctx context.Context) (int64, error) {
	t, err := b.rdb.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	return t.UnixMicro(), nil
}

// Run implements Broker.
func (b *RedisBroker) Run(ctx context.Context, deliver func(Event), resync func()) error {
	ps := b.rdb.PSubscribe(ctx, b.prefix+"*")
	defer ps.Close()
	subscribed := 0
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// go-redis reconnects and resubscribes by itself; wait a
			// little so a dead Redis does not spin this loop.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				subscribed++
				if subscribed > 1 {
					slog.Info("realtime: Redis subscription re-established; clients get fresh snapshots")
					resync()
				}
			}
		case *redis.Message:
			var ev Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				slog.Warn("realtime: bad event", "channel", m.Channel, "err", err)
				continue
			}
			deliver(ev)
		}
	}
}

// MemoryBroker is an in-process Broker for tests of a single node.
type MemoryBroker struct {
	mu   sync.Mutex
	last map[string]int64
	subs []chan Event
}

// NewMemoryBroker returns an empty MemoryBroker.
func NewMemoryBroker() *MemoryBroker { return &MemoryBroker{last: map[string]int64{}} }

// Publish implements Broker.
func (m *MemoryBroker) Publish(_ context.Context, ch, typ string, data []byte) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.last[ch]
	v := max(time.Now().UnixMicro(), prev+1)
	m.last[ch] = v
	ev := Event{Ch: ch, Type: typ, V: v, Prev: prev, Data: data}
	for _, s := range m.subs {
		select {
		case s <- ev:
		default:
		}
	}
	return ev, nil
}

// Now implements Broker.
func (m *MemoryBroker) Now(context.Context) (int64, error) { return time.Now().UnixMicro(), nil }

// Run implements Broker.
func (m *MemoryBroker) Run(ctx context.Context, deliver func(Event), _ func()) error {
	ch := make(chan Event, 4096)
	m.mu.Lock()
	m.subs = append(m.subs, ch)
	m.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-ch:
			deliver(ev)
		}
	}
}

var errClosed = errors.New("realtime: closed")
