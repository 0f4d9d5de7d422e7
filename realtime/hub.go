package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshotter returns the current state of a channel for viewer (0 when
// not signed in); it is the first message of every subscription.
type Snapshotter func(ctx context.Context, ch string, viewer int64) (any, error)

// BoardEntry is one row of a board channel's top-N.
type BoardEntry struct {
	ID    string  `json:"id"`
	Rank  int     `json:"rank"`
	Score float64 `json:"score"`
	Item  any     `json:"item,omitempty"` // the post or creator, sent when it enters
}

// BoardSource reads the top of a board ("hot", "top:all", "tag:cats:top", …).
type BoardSource func(ctx context.Context, board string) ([]BoardEntry, error)

// TokenParser checks an access token: the user id and its expiry. An
// error of code jokster.EUNAUTHORIZED means the token is not (or no longer)
// good; any other error means it could not be checked right now.
type TokenParser func(token string) (user int64, expires time.Time, err error)

// Config bounds what a client may do and costs.
type Config struct {
	// Origins allowed for browsers (scheme://host[:port]); a request with
	// no Origin header (not a browser) is accepted.
	Origins      []string
	MaxPerIP     int
	MaxPerUser   int
	MaxSubs      int           // subscriptions per connection
	QueueSize    int           // messages buffered per client before it counts as slow
	ReadLimit    int64         // largest frame a client may send, in bytes
	PingInterval time.Duration // server pings this often
	PongWait     time.Duration // a client silent this long is gone
	BoardRate    float64       // most board messages per second per board
	BoardSize    int           // top-N of board channels
	// TokenRecheck is how often a signed-in connection's token is checked
	// again before it expires: a token signed out meanwhile (log-out,
	// password change) stops its private subscriptions within about this
	// long. Each check may cost the parser a database read. 0: only expiry.
	TokenRecheck time.Duration
}

// DefaultConfig suits one node with thousands of clients.
func DefaultConfig() Config {
	return Config{MaxPerIP: 200, MaxPerUser: 20, MaxSubs: 64, QueueSize: 256, ReadLimit: 4096,
		PingInterval: 25 * time.Second, PongWait: 60 * time.Second, BoardRate: 2, BoardSize: 20, TokenRecheck: 15 * time.Second}
}

// Hub holds this node's clients and their subscriptions.
type Hub struct {
	cfg    Config
	broker Broker
	parse  TokenParser
	node   string

	mu    sync.RWMutex
	snaps map[string]Snapshotter // by channel prefix ("post:", "me", …)
	board BoardSource
	chans map[string]map[*client]struct{}
	ips   map[string]int
	users map[int64]int
	all   map[*client]struct{}

	// seq orders deliveries on this node: last holds, per channel, the
	// version most recently handed to subscribers here. An event goes out
	// once (the broker's copy or this node's own, whichever comes first)
	// and never before the one it follows.
	seq  sync.Mutex
	last map[string]int64

	boards *boardCoalescer
	shots  *snapshotGroup
	pres   presence

	lastCanary atomic.Int64 // unix nanos of the last canary received
	canaryCh   string
}

// NewHub returns a hub publishing through b and checking tokens with parse.
func NewHub(b Broker, cfg Config, parse TokenParser) *Hub {
	node := randomID()
	h := &Hub{cfg: cfg, broker: b, parse: parse, node: node, snaps: map[string]Snapshotter{},
		chans: map[string]map[*client]struct{}{}, ips: map[string]int{}, users: map[int64]int{}, all: map[*client]struct{}{}, canaryCh: "canary:" + node}
	h.boards = newBoardCoalescer(h)
	h.shots = newSnapshotGroup()
	h.last = map[string]int64{}
	h.pres = presence{dirty: map[string]bool{}, total: map[string]int{}}
	return h
}

// Handle registers the snapshot of channels starting with prefix.
func (h *Hub) Handle(prefix string, s Snapshotter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.snaps[prefix] = s
}

// Boards registers where board channels read their top-N.
func (h *Hub) Boards(src BoardSource) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.board = src
}

// Run delivers events until ctx ends: the broker subscription, the board
// coalescer and the fan-out canary.
func (h *Hub) Run(ctx context.Context) {
	h.lastCanary.Store(time.Now().UnixNano())
	go h.boards.run(ctx)
	go h.canary(ctx)
	go h.runPresence(ctx)
	if err := h.broker.Run(ctx, h.deliver, h.resync); err != nil {
		slog.Error("realtime: broker stopped", "err", err)
	}
}

// canary publishes to itself every few seconds; Ready fails when fan-out
// has silently stopped.
func (h *Hub) canary(ctx context.Context) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		_, _ = h.broker.Publish(ctx, h.canaryCh, "ping", nil)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ready reports whether events published recently came back through the
// broker.
func (h *Hub) Ready(context.Context) error {
	if age := time.Since(time.Unix(0, h.lastCanary.Load())); age > 12*time.Second {
		return errStale(age)
	}
	return nil
}

type errStale time.Duration

func (e errStale) Error() string {
	return "live fan-out silent for " + time.Duration(e).Round(time.Second).String()
}

// deliver hands an event from the broker to the local subscribers, unless
// this node delivered it already (see Published).
func (h *Hub) deliver(ev Event) { h.fanOut(ev, true) }

// Published is told of each event this node has just published. Its
// subscribers get it at once instead of when the broker's copy comes back
// (one network wait less, and on a busy node each wait can be long), but
// only if the event's predecessor (Prev) is the last one delivered here:
// otherwise an event from another node is still on its way, and the
// broker's copies arrive in order. The copy that comes second is skipped.
func (h *Hub) Published(ev Event) { h.fanOut(ev, false) }

func (h *Hub) fanOut(ev Event, fromBroker bool) {
	switch {
	case ev.Ch == h.canaryCh:
		if fromBroker {
			h.lastCanary.Store(time.Now().UnixNano())
		}
		return
	case strings.HasPrefix(ev.Ch, "canary:"):
		return
	case strings.HasPrefix(ev.Ch, "board:"):
		if fromBroker {
			h.boards.dirty(strings.TrimPrefix(ev.Ch, "board:"))
		}
		return
	}
	ch := ev.Ch
	if strings.HasPrefix(ch, "user:") {
		ch = "me:" + strings.TrimPrefix(ch, "user:") // private: only its owner subscribes
	}
	h.seq.Lock()
	defer h.seq.Unlock()
	last, known := h.last[ch]
	switch {
	case fromBroker && known && ev.V <= last:
		return // delivered already, by Published
	case !fromBroker && (!known || ev.Prev != last):
		return // the broker's copy will come, in order
	}
	h.mu.RLock()
	subs := h.chans[ch]
	list := make([]*client, 0, len(subs))
	for c := range subs {
		list = append(list, c)
	}
	h.mu.RUnlock()
	if len(list) == 0 {
		delete(h.last, ch)
		return
	}
	if len(h.last) > 100_000 { // forgetting only sends events the long way
		clear(h.last)
	}
	h.last[ch] = ev.V
	msg, err := json.Marshal(Message{Ch: publicName(ch), Type: ev.Type, V: ev.V, Prev: ev.Prev, Data: ev.Data})
	if err != nil {
		return
	}
	for _, c := range list {
		c.update(ch, ev.V, msg)
	}
}

// resync sends every subscriber a fresh snapshot (events may have been
// lost while the broker was disconnected).
func (h *Hub) resync() {
	h.mu.RLock()
	var work []struct {
		c  *client
		ch string
	}
	for ch, subs := range h.chans {
		for c := range subs {
			work = append(work, struct {
				c  *client
				ch string
			}{c, ch})
		}
	}
	h.mu.RUnlock()
	for _, w := range work {
		go w.c.snapshot(w.ch)
	}
}

// publicName is the channel name a client sees ("me:42" is just "me").
func publicName(ch string) string {
	if strings.HasPrefix(ch, "me:") {
		return "me"
	}
	return ch
}

func (h *Hub) snapshotter(ch string) Snapshotter {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for prefix, s := range h.snaps {
		if strings.HasPrefix(ch, prefix) {
			return s
		}
	}
	return nil
}

func (h *Hub) add(c *client, ch string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.chans[ch] == nil {
		h.chans[ch] = map[*client]struct{}{}
	}
	h.chans[ch][c] = struct{}{}
	return len(h.chans[ch])
}

func (h *Hub) remove(c *client, ch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if subs := h.chans[ch]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(h.chans, ch)
		}
	}
}

// subscribers counts this node's subscribers of ch.
func (h *Hub) subscribers(ch string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.chans[ch])
}

// Connections returns how many clients this node holds.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}

// Close disconnects every client ("going away"), for shutdown.
func (h *Hub) Close() {
	h.mu.RLock()
	list := make([]*client, 0, len(h.all))
	for c := range h.all {
		list = append(list, c)
	}
	h.mu.RUnlock()
	for _, c := range list {
		c.close("server shutting down: reconnect")
	}
}

// Publish sends an event through the broker (for tests and simple callers;
// services use a Publisher).
func (h *Hub) Publish(ctx context.Context, ch, typ string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	ev, err := h.broker.Publish(ctx, ch, typ, b)
	if err == nil {
		h.Published(ev)
	}
	return err
}
