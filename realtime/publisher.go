package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	published = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "jokster_live_events_total", Help: "Live events by outcome (published, coalesced, dropped, failed).",
	}, []string{"outcome"})
	connections = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "jokster_websocket_connections", Help: "Open WebSocket connections on this node.",
	})
	slowDrops = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_websocket_slow_disconnects_total", Help: "Clients disconnected because they did not keep up.",
	})
	delivered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "jokster_websocket_messages_total", Help: "Messages queued to WebSocket clients.",
	})
)

type outgoing struct {
	ch, typ  string
	data     []byte
	coalesce bool
}

// Publisher sends events without making the caller wait: committed changes
// are queued and published by background goroutines. Events marked
// coalesce (absolute state such as a post's stats) replace a queued event
// of the same channel and type, so a burst of ratings on one post becomes
// one message. If the queue overflows the event is dropped and counted:
// live updates are best effort, and clients catch up from snapshots.
type Publisher struct {
	b       Broker
	local   atomic.Pointer[Hub] // the node's hub, told of each event published (Hub.Published)
	q       chan outgoing
	mu      sync.Mutex
	pending map[string][]byte // coalescing slots, by ch+"\x00"+typ
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// NewPublisher returns a Publisher on b; call Run.
func NewPublisher(b Broker) *Publisher {
	return &Publisher{b: b, q: make(chan outgoing, 16384), pending: map[string][]byte{}}
}

// Send queues an event; data is marshalled to JSON now.
func (p *Publisher) Send(ch, typ string, data any, coalesce bool) {
	if p == nil || p.closed.Load() {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		slog.Error("realtime: event not marshalable", "ch", ch, "type", typ, "err", err)
		return
	}
	if coalesce {
		key := ch + "\x00" + typ
		p.mu.Lock()
		_, queued := p.pending[key]
		p.pending[key] = b
		p.mu.Unlock()
		if queued {
			published.WithLabelValues("coalesced").Inc()
			return
		}
	}
	select {
	case p.q <- outgoing{ch: ch, typ: typ, data: b, coalesce: coalesce}:
	default:
		published.WithLabelValues("dropped").Inc()
		if coalesce {
			p.mu.Lock()
			delete(p.pending, ch+"\x00"+typ)
			p.mu.Unlock()
		}
	}
}

// DeliverLocally makes the publisher hand each event it published to h
// directly (Hub.Published), so this node's subscribers need not wait for
// the broker's copy.
func (p *Publisher) DeliverLocally(h *Hub) { p.local.Store(h) }

// Run publishes until ctx ends, then drains what is queued.
func (p *Publisher) Run(ctx context.Context) {
	for range 4 {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case o := <-p.q:
					p.publish(o)
				case <-ctx.Done():
					for {
						select {
						case o := <-p.q:
							p.publish(o)
						default:
							return
						}
					}
				}
			}
		}()
	}
	<-ctx.Done()
	p.closed.Store(true)
	p.wg.Wait()
}

func (p *Publisher) publish(o outgoing) {
	if o.coalesce {
		key := o.ch + "\x00" + o.typ
		p.mu.Lock()
		o.data = p.pending[key]
		delete(p.pending, key)
		p.mu.Unlock()
	}
	ev, err := p.b.Publish(context.Background(), o.ch, o.typ, o.data)
	if err != nil {
		published.WithLabelValues("failed").Inc()
		slog.Debug("realtime: publish failed", "ch", o.ch, "err", err)
		return
	}
	if h := p.local.Load(); h != nil {
		h.Published(ev)
	}
	published.WithLabelValues("published").Inc()
}
