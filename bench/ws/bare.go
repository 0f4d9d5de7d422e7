package main

import (
	"context"
	"log"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// The bare broadcaster is the baseline: Fiber v2 and contrib/websocket as
// Jokster uses them (same buffer sizes, a bounded queue and one writer
// goroutine per connection, the handler goroutine reading), but no
// protocol: no subscriptions, snapshots, versions, pings, origin checks or
// limits. Every connection receives every broadcast message as it is.

type bareConn struct {
	c    *websocket.Conn
	send chan []byte
	once sync.Once
	done chan struct{}
}

func (b *bareConn) stop() { b.once.Do(func() { close(b.done) }) }

// abort makes the blocked read and any write fail, so the handler returns
// (Fiber closes a hijacked connection only then).
func (b *bareConn) abort() {
	if nc := b.c.NetConn(); nc != nil {
		_ = nc.SetDeadline(time.Now())
	}
}

type bareHub struct {
	queue int
	mu    sync.RWMutex
	conns map[*bareConn]struct{}

	broadcasts atomic.Int64
	queued     atomic.Int64
	slow       atomic.Int64
}

func (h *bareHub) broadcast(msg []byte) int {
	h.broadcasts.Add(1)
	h.mu.RLock()
	list := make([]*bareConn, 0, len(h.conns))
	for c := range h.conns {
		list = append(list, c)
	}
	h.mu.RUnlock()
	n := 0
	for _, c := range list {
		select {
		case c.send <- msg:
			n++
		default: // it does not keep up: drop it, as Jokster does
			h.slow.Add(1)
			c.stop()
			c.abort()
		}
	}
	h.queued.Add(int64(n))
	return n
}

func (h *bareHub) serve(conn *websocket.Conn) {
	c := &bareConn{c: conn, send: make(chan []byte, h.queue), done: make(chan struct{})}
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	wrote := make(chan struct{})
	go func() { // the only writer
		defer close(wrote)
		defer c.abort()
		for {
			select {
			case m := <-c.send:
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
					c.stop()
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	conn.SetReadLimit(4096)
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	c.stop()
	<-wrote
}

// runBare serves the bare broadcaster on addr until ctx ends:
//
//	GET  /ws         a WebSocket receiving every broadcast
//	POST /broadcast  sends the request body to every connection as one text message
//	GET  /stats      connections and counters, as JSON
//
// With tick > 0 it also broadcasts by itself, tick messages a second,
// each carrying its send time ("wsb:<unix nanoseconds>") padded to size
// bytes.
func runBare(ctx context.Context, addr string, queue int, tick float64, size int) error {
	addr, err := loopbackListenAddr("-bare-server", addr)
	if err != nil {
		return err
	}
	h := &bareHub{queue: queue, conns: map[*bareConn]struct{}{}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, AppName: "wsbench-bare"})
	app.Get("/ws", func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.ErrUpgradeRequired
		}
		return c.Next()
	}, websocket.New(h.serve))
	app.Post("/broadcast", func(c *fiber.Ctx) error {
		msg := append([]byte(nil), c.Body()...) // Fiber reuses the request buffer
		n := h.broadcast(msg)
		return c.SendString(strconv.Itoa(n))
	})
	app.Get("/stats", func(c *fiber.Ctx) error {
		h.mu.RLock()
		n := len(h.conns)
		h.mu.RUnlock()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return c.JSON(map[string]int64{"connections": int64(n), "broadcasts": h.broadcasts.Load(),
			"queued": h.queued.Load(), "slow_disconnects": h.slow.Load(),
			// the names of the Prometheus Go collector, as Jokster's /metrics has them
			"go_goroutines": int64(runtime.NumGoroutine()), "go_memstats_heap_inuse_bytes": int64(ms.HeapInuse),
			"go_memstats_stack_inuse_bytes": int64(ms.StackInuse), "go_memstats_sys_bytes": int64(ms.Sys)})
	})
	if tick > 0 {
		go func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / tick))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					h.broadcast(payloadBytes(time.Now(), size))
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		h.mu.RLock()
		for c := range h.conns {
			c.stop()
			c.abort()
		}
		h.mu.RUnlock()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	log.Printf("bare broadcaster on http://%s (ws://%s/ws), queue %d per connection, pid %d", addr, addr, queue, pidSelf())
	return app.Listen(addr)
}
