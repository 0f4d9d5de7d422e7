package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/jokster/jokster/bench/loadkit"
)

// target is one server under test.
type target struct {
	name string // "bare", "hub" or "jokster"
	base *url.URL
	ws   string // ws://…/ws
	ch   string // Jokster: the channel each connection subscribes to ("" for none)
}

// fleet is N client connections to one target and what they received.
type fleet struct {
	t     target
	conns []*websocket.Conn

	// Timestamped messages ("wsb:<unix ns>" in them) count when their send
	// time lies in the window; other messages when they arrive in it.
	winStart, winEnd atomic.Int64 // unix ns; 0: no window yet

	lat   loadkit.Hist // send → receive (carried send time)
	fan   loadkit.Hist // Jokster and hub: publish → receive (the envelope's v: the broker's clock in µs)
	timed atomic.Int64
	bytes atomic.Int64 // of timed messages

	mu     sync.Mutex
	types  map[string]int64 // untimed messages by type, in the window
	early  map[string]int64 // untimed messages before the window (snapshots, viewers, …)
	ready  atomic.Int64     // connections subscribed (snapshot received) or just open (bare)
	closed atomic.Int64     // connections the server ended
	why    map[string]int64 // why, by close reason

	stopping atomic.Bool
	wg       sync.WaitGroup
}

var (
	marker = []byte("wsb:")
	vKey   = []byte(`"v":`)
	tKey   = []byte(`"type":"`)
)

func digitsAt(b []byte, i int) (int64, bool) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	return n, err == nil
}

func typeOf(msg []byte) string {
	i := bytes.Index(msg, tKey)
	if i < 0 {
		return "?"
	}
	rest := msg[i+len(tKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 40 {
		return "?"
	}
	return string(rest[:j])
}

// handle accounts for one received message.
func (f *fleet) handle(msg []byte, now time.Time, c *connState) {
	if i := bytes.Index(msg, marker); i >= 0 {
		if sent, ok := digitsAt(msg, i+len(marker)); ok {
			ws, we := f.winStart.Load(), f.winEnd.Load()
			if ws != 0 && sent >= ws && sent < we {
				f.lat.Record(now.Sub(time.Unix(0, sent)))
				f.timed.Add(1)
				f.bytes.Add(int64(len(msg)))
				f.recordFan(msg, now)
			}
			return
		}
	}
	typ := typeOf(msg)
	if typ == "snapshot" && !c.ready {
		c.ready = true
		f.ready.Add(1)
	}
	ns := now.UnixNano()
	f.mu.Lock()
	if ws := f.winStart.Load(); ws != 0 && ns >= ws && ns < f.winEnd.Load() {
		f.types[typ]++
		f.mu.Unlock()
		if typ == "stats" {
			f.recordFan(msg, now)
		}
		return
	}
	f.early[typ]++
	f.mu.Unlock()
}

// recordFan records publish → receive from Jokster's envelope version,
// which the broker takes from the Redis clock in microseconds when it
// publishes (this machine's clock: Redis runs here).
func (f *fleet) recordFan(msg []byte, now time.Time) {
	if f.t.name == "bare" {
		return
	}
	end := bytes.Index(msg, []byte(`"data":`))
	if end < 0 {
		end = len(msg)
	}
	if i := bytes.Index(msg[:end], vKey); i >= 0 {
		if v, ok := digitsAt(msg, i+len(vKey)); ok && v > 1e15 {
			f.fan.Record(now.Sub(time.UnixMicro(v)))
		}
	}
}

type connState struct{ ready bool }

func (f *fleet) read(c *websocket.Conn) {
	defer f.wg.Done()
	st := &connState{}
	var buf bytes.Buffer
	for {
		_, r, err := c.NextReader()
		if err != nil {
			if !f.stopping.Load() {
				f.closed.Add(1)
				reason := err.Error()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					reason = fmt.Sprintf("close %d %s", ce.Code, ce.Text)
				}
				f.mu.Lock()
				f.why[reason]++
				f.mu.Unlock()
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			continue
		}
		f.handle(buf.Bytes(), time.Now(), st)
	}
}

// dialOptions shape how a fleet connects.
type dialOptions struct {
	conns       int
	concurrency int
	srcIPs      int // spread connections over 127.0.0.2…127.0.0.(1+srcIPs), at most 250 (0: 127.0.0.1 only)
	timeout     time.Duration
}

// openFleet opens o.conns connections to t (and subscribes them when t.ch
// is set), waiting until each is open, or subscribed and snapshotted.
func openFleet(ctx context.Context, t target, o dialOptions) (*fleet, error) {
	f := &fleet{t: t, types: map[string]int64{}, early: map[string]int64{}, why: map[string]int64{}}
	host := t.base.Hostname()
	spread := o.srcIPs > 0 && net.ParseIP(host).To4() != nil && net.ParseIP(host).IsLoopback()
	var dialN atomic.Int64
	d := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := &net.Dialer{Timeout: 30 * time.Second}
			if spread {
				i := dialN.Add(1) % int64(o.srcIPs)
				nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
			}
			return nd.DialContext(ctx, network, addr)
		},
	}
	sub := []byte(nil)
	if t.ch != "" {
		sub = []byte(`{"type":"subscribe","ch":"` + t.ch + `"}`)
	}
	f.conns = make([]*websocket.Conn, o.conns)
	jobs := make(chan int)
	var firstErr error
	var errMu sync.Mutex
	var wg sync.WaitGroup
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var opened atomic.Int64
	for range max(o.concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				var c *websocket.Conn
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					c, _, err = d.DialContext(dctx, t.ws, nil)
					if err == nil || dctx.Err() != nil {
						break
					}
					time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
				}
				if err == nil && sub != nil {
					err = c.WriteMessage(websocket.TextMessage, sub)
				}
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d to %s: %w", i, t.ws, err)
						cancel()
					}
					errMu.Unlock()
					if c != nil {
						_ = c.Close()
					}
					continue
				}
				c.SetReadLimit(1 << 20)
				f.conns[i] = c
				if sub == nil {
					f.ready.Add(1)
				}
				f.wg.Add(1)
				go f.read(c)
				if n := opened.Add(1); n%5000 == 0 {
					fmt.Fprintf(os.Stderr, "  %s: %d/%d connections open (%.1fs)\n", t.name, n, o.conns, time.Since(start).Seconds())
				}
			}
		}()
	}
feed:
	for i := range o.conns {
		select {
		case jobs <- i:
		case <-dctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		f.close()
		return nil, firstErr
	}
	deadline := time.Now().Add(o.timeout)
	lastReport := time.Now()
	for f.ready.Load() < int64(o.conns) {
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(os.Stderr, "  %s: %d/%d subscribed (%.1fs)\n", t.name, f.ready.Load(), o.conns, time.Since(start).Seconds())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n := f.ready.Load()
			f.close()
			return nil, fmt.Errorf("%s: only %d of %d connections subscribed within %s (closed by the server: %d %v)",
				t.name, n, o.conns, o.timeout, f.closed.Load(), f.reasons())
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "  %s: %d connections ready in %.1fs\n", t.name, o.conns, time.Since(start).Seconds())
	return f, nil
}

func (f *fleet) reasons() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.why) == 0 {
		return "none"
	}
	var out []string
	for k, v := range f.why {
		out = append(out, fmt.Sprintf("%d× %s", v, k))
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// close ends every connection (a close frame, then the socket).
func (f *fleet) close() {
	f.stopping.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bench done")
	for _, c := range f.conns {
		if c == nil {
			continue
		}
		_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(100*time.Millisecond))
		_ = c.Close()
	}
	f.wg.Wait()
}
