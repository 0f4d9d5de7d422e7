package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	mathrand "math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/posts"
)

// Message is what the server sends: {"ch","type","v","data"}.
type Message struct {
	Ch   string          `json:"ch,omitempty"`
	Type string          `json:"type"`
	V    int64           `json:"v,omitempty"`
	Prev int64           `json:"prev,omitempty"` // version of the channel's previous message
	Data json.RawMessage `json:"data,omitempty"`
}

// errorMessage is {"type":"error","code","message"} (with the channel when
// it concerns one).
type errorMessage struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ch      string `json:"ch,omitempty"`
}

// inbound is what a client sends.
type inbound struct {
	Type  string `json:"type"`
	Token string `json:"token"`
	Ch    string `json:"ch"`
	V     int64  `json:"v"`
	ID    string `json:"id"`
}

var channelRE = regexp.MustCompile(`^(posts:new|danger|me|post:[1-9][0-9]{0,18}|board:(hot|new|creators|top:(all|day|week)|tag:[\p{L}\p{M}\p{N}_]{1,30}(:(top|hot))?))$`)

// sub is one subscription of a client.
type sub struct {
	v       int64    // last version sent
	pending bool     // a snapshot is being taken
	held    [][]byte // updates that arrived meanwhile, in order
	heldV   []int64
}

// client is one WebSocket connection. One goroutine writes (the writer);
// the handler's goroutine reads. Everything else only enqueues.
type client struct {
	h    *Hub
	conn *websocket.Conn
	ip   string
	// wake tells the writer that queue has messages (capacity 1, so a
	// wake-up is never lost and never blocks).
	wake chan struct{}

	mu sync.Mutex
	// queue holds messages for the writer, and queued counts them until
	// written (those the writer has taken too), which QueueSize bounds. A
	// slice rather than a buffered channel so that an idle connection holds
	// no queue memory: a channel of 256 slots cost 6 KB per connection
	// whether used or not.
	queue   [][]byte
	queued  int
	user    int64
	counted int64 // the user counted against MaxPerUser
	expires time.Time
	// token is the access token of the last auth, checked again every
	// TokenRecheck: one signed out meanwhile must stop private messages
	// long before it expires.
	token  string
	expiry *time.Timer // runs recheck: every TokenRecheck, and at expiry
	// authN counts auths and sign-outs, so that a check that read the
	// state before one of them leaves the newer state alone.
	authN  uint64
	subs   map[string]*sub
	closed bool
	done   chan struct{}
	reason string
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// enqueue queues a message; a full queue means the client does not keep
// up, and it is disconnected rather than allowed to hold anything up.
func (c *client) enqueue(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.queued >= c.h.cfg.QueueSize {
		slowDrops.Inc()
		c.closeLocked("slow consumer: messages were not read fast enough")
		// Its socket is full, so no close frame could get through: end
		// the connection now, which also unblocks a write in progress.
		c.abort()
		return
	}
	c.queue = append(c.queue, msg)
	c.queued++
	delivered.Inc()
	select {
	case c.wake <- struct{}{}:
	default: // the writer has a wake-up pending already
	}
}

func (c *client) closeLocked(reason string) {
	if c.closed {
		return
	}
	c.closed = true
	c.reason = reason
	if c.expiry != nil {
		c.expiry.Stop()
	}
	close(c.done)
}

func (c *client) close(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(reason)
}

// abort makes every pending and future read and write on the connection
// fail at once, so the reader returns and the handler ends, which is when
// Fiber closes a hijacked connection (Close on it does nothing before).
func (c *client) abort() {
	if nc := c.conn.NetConn(); nc != nil {
		_ = nc.SetDeadline(time.Now())
	}
}

func (c *client) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		c.enqueue(b)
	}
}

func (c *client) fail(code, msg, ch string) {
	c.sendJSON(errorMessage{Type: "error", Code: code, Message: msg, Ch: ch})
}

// update passes a broker event to the client unless it is stale.
func (c *client) update(ch string, v int64, msg []byte) {
	c.mu.Lock()
	s := c.subs[ch]
	if s == nil || c.closed {
		c.mu.Unlock()
		return
	}
	if s.pending {
		if len(s.held) < 64 {
			s.held, s.heldV = append(s.held, msg), append(s.heldV, v)
		}
		c.mu.Unlock()
		return
	}
	if v <= s.v {
		c.mu.Unlock()
		return
	}
	s.v = v
	c.mu.Unlock()
	c.enqueue(msg)
}

// writer is the only goroutine that writes to the connection.
func (c *client) writer() {
	ping := time.NewTicker(c.h.cfg.PingInterval)
	defer ping.Stop()
	var batch [][]byte // the messages being written; swapped with queue
	defer c.abort()    // whatever ends the writer ends the connection (and so the reader)
	for {
		select {
		case <-c.wake:
			c.mu.Lock()
			batch, c.queue = c.queue, batch[:0]
			c.mu.Unlock()
			for i, msg := range batch {
				batch[i] = nil
				_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					c.close("write failed")
					return
				}
				c.mu.Lock()
				c.queued--
				c.mu.Unlock()
			}
			if cap(batch) > 16 {
				batch = nil // let a burst's backing array go
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				c.close("ping failed")
				return
			}
			c.checkExpiry()
		case <-c.done:
			code := websocket.CloseNormalClosure
			switch {
			case strings.HasPrefix(c.reason, "slow"):
				code = websocket.ClosePolicyViolation
			case strings.HasPrefix(c.reason, "server shutting down"):
				code = websocket.CloseGoingAway
			}
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, c.reason), time.Now().Add(time.Second))
			return
		}
	}
}

// checkExpiry ends private subscriptions once the access token expired
// without a new auth.
func (c *client) checkExpiry() {
	c.mu.Lock()
	expired := c.user != 0 && time.Now().After(c.expires)
	n := c.authN
	c.mu.Unlock()
	if expired {
		c.signOut(n, "token_expired", "your access token expired: send auth with a fresh one and subscribe again")
	}
}

// recheck runs when the token expires, and every TokenRecheck before: a
// token refused now (its session was signed out) signs the connection out.
// A token that could not be checked (the database is away) is given the
// benefit of the doubt until the next check.
func (c *client) recheck() {
	c.mu.Lock()
	user, token, expires, n := c.user, c.token, c.expires, c.authN
	c.mu.Unlock()
	if user == 0 {
		return
	}
	if time.Now().After(expires) {
		c.checkExpiry()
		return
	}
	if _, _, err := c.h.parse(token); jokster.ErrorCode(err) == jokster.EUNAUTHORIZED {
		c.signOut(n, "unauthorized", jokster.ErrorMessage(err)+"; send auth with a new token and subscribe again")
		return
	}
	c.mu.Lock()
	if c.authN == n && !c.closed {
		c.expiry = time.AfterFunc(c.untilCheck(expires), c.recheck)
	}
	c.mu.Unlock()
}

// untilCheck is how long until the token expiring at exp is checked next.
func (c *client) untilCheck(exp time.Time) time.Duration {
	d := time.Until(exp) + 10*time.Millisecond
	if r := c.h.cfg.TokenRecheck; r > 0 && r < d {
		// Spread over ±20 %: connections that came back together after a
		// restart would otherwise check their tokens together forever.
		d = r*4/5 + time.Duration(mathrand.Int64N(int64(r*2/5)+1))
	}
	return d
}

// signOut forgets the connection's user and ends its private
// subscriptions, telling the client why on each, unless the connection
// signed in (or out) again after the caller read authN n. It returns how
// many subscriptions it ended.
func (c *client) signOut(n uint64, code, msg string) int {
	c.mu.Lock()
	if c.user == 0 || c.authN != n {
		c.mu.Unlock()
		return 0
	}
	c.user, c.token = 0, ""
	c.authN++
	if c.expiry != nil {
		c.expiry.Stop()
	}
	var private []string
	for ch := range c.subs {
		if strings.HasPrefix(ch, "me:") {
			private = append(private, ch)
			delete(c.subs, ch)
		}
	}
	c.mu.Unlock()
	for _, ch := range private {
		c.h.remove(c, ch)
		c.fail(code, msg, "me")
	}
	c.h.userGone(c)
	return len(private)
}

// read is the handler goroutine's loop.
func (c *client) read() {
	c.conn.SetReadLimit(c.h.cfg.ReadLimit)
	_ = c.conn.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
	})
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.close("read: " + err.Error())
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait))
		// Handling a message can go deep (JSON, a PostgreSQL or Redis
		// query for a snapshot), and a goroutine keeps the stack it once
		// grew: on the connection's long-lived reader that cost about
		// 6 KB per idle connection. A short-lived goroutine does the work
		// while the reader waits, so messages are still handled one at a
		// time, in order.
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.handle(data)
		}()
		<-done
	}
}

// handle acts on one message from the client.
func (c *client) handle(data []byte) {
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil {
		c.fail("bad_message", "messages are JSON objects with a type", "")
		return
	}
	switch in.Type {
	case "ping":
		c.sendJSON(map[string]string{"type": "pong", "id": in.ID})
	case "auth":
		c.auth(in.Token)
	case "subscribe":
		c.subscribe(in.Ch, in.V)
	case "unsubscribe":
		c.unsubscribe(in.Ch)
	default:
		c.fail("bad_message", "unknown type "+strconv.Quote(in.Type)+"; use auth, subscribe, unsubscribe or ping", "")
	}
}

func (c *client) auth(token string) {
	uid, exp, err := c.h.parse(token)
	if err != nil {
		// A token that could not be checked (the database slow or away)
		// is not a bad token: say so with a code clients retry, rather
		// than have them wait for a new token before `me` works again.
		if jokster.ErrorCode(err) != jokster.EUNAUTHORIZED {
			c.fail("unavailable", "the access token could not be checked right now: send auth again", "")
			return
		}
		c.fail("unauthorized", jokster.ErrorMessage(err), "")
		return
	}
	c.mu.Lock()
	prev := c.user
	if prev != 0 && prev != uid {
		c.mu.Unlock()
		c.fail("forbidden", "this connection is signed in as someone else; open a new one", "")
		return
	}
	c.user, c.expires, c.token = uid, exp, token
	c.authN++
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.expiry = time.AfterFunc(c.untilCheck(exp), c.recheck)
	c.mu.Unlock()
	if prev == 0 && !c.h.userCame(c, uid) {
		c.fail("too_many_connections", "too many live connections for this account", "")
		c.close("too many connections for this account")
		return
	}
	c.sendJSON(map[string]any{"type": "auth_ok", "expires_at": exp.UTC().Format(time.RFC3339)})
}

// subscribe registers the subscription first, then sends the snapshot,
// then any updates newer than it that arrived meanwhile: nothing is lost
// and nothing arrives out of order.
func (c *client) subscribe(ch string, v int64) {
	if !channelRE.MatchString(ch) {
		c.fail("bad_channel", "no such channel; channels are posts:new, post:<id>, board:<name>, danger and me", ch)
		return
	}
	key := ch
	var uid int64
	if ch == "me" {
		c.mu.Lock()
		uid, token, expires, n := c.user, c.token, c.expires, c.authN
		c.mu.Unlock()
		if uid == 0 {
			c.fail("unauthorized", "me is private: send auth with your access token first", ch)
			return
		}
		// The periodic check may not have run since the token was signed
		// out; a new subscription (and its snapshot) must not wait for it.
		if _, _, err := c.h.parse(token); jokster.ErrorCode(err) == jokster.EUNAUTHORIZED {
			code, msg := "unauthorized", jokster.ErrorMessage(err)+"; send auth with a new token and subscribe again"
			if time.Now().After(expires) {
				code = "token_expired"
			}
			if c.signOut(n, code, msg) == 0 {
				c.fail(code, msg, ch)
			}
			return
		}
		key = "me:" + strconv.FormatInt(uid, 10)
	}
	key = tagBoardKey(key)
	c.mu.Lock()
	if uid != 0 && c.user != uid { // the token expired (or changed) meanwhile
		c.mu.Unlock()
		c.fail("unauthorized", "me is private: send auth with your access token first", ch)
		return
	}
	if _, ok := c.subs[key]; !ok && len(c.subs) >= c.h.cfg.MaxSubs {
		c.mu.Unlock()
		c.fail("too_many_subscriptions", "unsubscribe from something first", ch)
		return
	}
	if s, ok := c.subs[key]; ok && !s.pending && v > 0 && v >= s.v {
		c.mu.Unlock()
		return // already current
	}
	c.subs[key] = &sub{pending: true}
	c.mu.Unlock()
	if n := c.h.add(c, key); strings.HasPrefix(key, "post:") {
		c.h.presenceChanged(key, n)
	}
	if uid != 0 {
		// An expiry check between the registration and the hub's add took
		// the subscription back (and removed it from the hub before it was
		// there): take it out again rather than deliver to nobody's token.
		c.mu.Lock()
		_, still := c.subs[key]
		c.mu.Unlock()
		if !still {
			c.h.remove(c, key)
			return
		}
	}
	c.snapshot(key)
}

// tagBoardKey names a tag board as the hub does: the tag as posts store
// it (NFKC, lower case, the normalisation of the REST API), and the top
// order unless hot is asked for. Live messages of the board carry this
// name. Other channels are returned as they are.
func tagBoardKey(ch string) string {
	rest, ok := strings.CutPrefix(ch, "board:tag:")
	if !ok {
		return ch
	}
	tag, order, _ := strings.Cut(rest, ":")
	if order == "" {
		order = "top"
	}
	if t, ok := posts.NormalizeTag(tag); ok {
		tag = t
	}
	return "board:tag:" + tag + ":" + order
}

func (c *client) snapshot(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	viewer := c.user
	if s := c.subs[key]; s != nil {
		s.pending = true
	}
	c.mu.Unlock()
	msg, v, err := c.h.shots.do(key, viewer, func() ([]byte, int64, error) {
		var data any
		var v int64
		var err error
		if strings.HasPrefix(key, "board:") {
			data, v, err = c.h.boards.snapshot(ctx, strings.TrimPrefix(key, "board:"))
		} else {
			// The version is taken before the state is read: whatever the
			// state misses was published later, with a larger version.
			if v, err = c.h.broker.Now(ctx); err == nil {
				if s := c.h.snapshotter(key); s != nil {
					data, err = s(ctx, key, viewer)
				} else {
					data = map[string]any{}
				}
			}
		}
		if err != nil {
			return nil, 0, err
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, 0, err
		}
		msg, err := json.Marshal(Message{Ch: publicName(key), Type: "snapshot", V: v, Data: raw})
		return msg, v, err
	})
	if err != nil {
		c.mu.Lock()
		delete(c.subs, key)
		c.mu.Unlock()
		c.h.remove(c, key)
		// A post that does not exist (or that this viewer may not see) will
		// not appear by subscribing again: say so, so clients stop trying.
		var je *jokster.Error
		if errors.As(err, &je) && je.Code == jokster.ENOTFOUND {
			c.fail("not_found", je.Message, publicName(key))
			return
		}
		c.fail("unavailable", "could not read the channel's state; subscribe again", publicName(key))
		return
	}
	c.mu.Lock()
	s := c.subs[key]
	if s == nil { // unsubscribed meanwhile
		c.mu.Unlock()
		return
	}
	s.v, s.pending = v, false
	held, heldV := s.held, s.heldV
	s.held, s.heldV = nil, nil
	c.mu.Unlock()
	c.enqueue(msg)
	for i, m := range held {
		c.update(key, heldV[i], m)
	}
}

func (c *client) unsubscribe(ch string) {
	key := ch
	c.mu.Lock()
	if ch == "me" && c.user != 0 {
		key = "me:" + strconv.FormatInt(c.user, 10)
	}
	key = tagBoardKey(key)
	_, ok := c.subs[key]
	delete(c.subs, key)
	c.mu.Unlock()
	if ok {
		c.h.remove(c, key)
		if strings.HasPrefix(key, "post:") {
			c.h.presenceChanged(key, c.h.subscribers(key))
		}
	}
}

// leave removes every subscription of a closed client.
func (c *client) leave() {
	c.mu.Lock()
	keys := make([]string, 0, len(c.subs))
	for k := range c.subs {
		keys = append(keys, k)
	}
	c.subs = map[string]*sub{}
	c.mu.Unlock()
	for _, k := range keys {
		c.h.remove(c, k)
		if strings.HasPrefix(k, "post:") {
			c.h.presenceChanged(k, c.h.subscribers(k))
		}
	}
}
