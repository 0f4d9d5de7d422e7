package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/realtime"
	"github.com/jokster/jokster/testkit"
)

var (
	liveSchemaOnce sync.Once
	liveSchema     *jsonschema.Schema
	liveSchemaErr  error
)

// checkLiveMessage validates a server message against the JSON Schema in
// docs/realtime.md, so the document cannot drift from the server.
func checkLiveMessage(t *testing.T, data []byte) error {
	liveSchemaOnce.Do(func() {
		doc, err := os.ReadFile("../docs/realtime.md")
		if err != nil {
			liveSchemaErr = err
			return
		}
		text := string(doc)
		i := strings.Index(text, "## Message schema")
		if i < 0 {
			liveSchemaErr = errors.New("docs/realtime.md has no message schema")
			return
		}
		text = text[i:]
		a := strings.Index(text, "```json\n") + len("```json\n")
		b := strings.Index(text[a:], "```") + a
		schema, err := jsonschema.UnmarshalJSON(strings.NewReader(text[a:b]))
		if err != nil {
			liveSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("realtime.json", schema); err != nil {
			liveSchemaErr = err
			return
		}
		liveSchema, liveSchemaErr = c.Compile("realtime.json")
	})
	if liveSchemaErr != nil {
		t.Fatalf("docs/realtime.md schema: %v", liveSchemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return liveSchema.Validate(inst)
}

// wsClient is a real WebSocket client that records what it receives.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	err  error
	done chan struct{}
}

func dialWS(t *testing.T, base string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	conn, res, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: t, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			if err := checkLiveMessage(t, data); err != nil {
				t.Errorf("message does not match docs/realtime.md: %v\n%s", err, data)
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c, res, nil
}

func (e *env) ws(header http.Header) *wsClient {
	e.t.Helper()
	c, _, err := dialWS(e.t, e.base, header)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// wait returns the first message (after skip) matching pred.
func (c *wsClient) wait(what string, pred func(m map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, m := range c.msgs {
			if pred(m) {
				c.mu.Unlock()
				return m
			}
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			c.t.Fatalf("waiting for %s: connection ended: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Fatalf("timed out waiting for %s; got %v", what, c.msgs)
	return nil
}

func (c *wsClient) count(pred func(m map[string]any) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

func is(ch, typ string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["ch"] == ch && m["type"] == typ }
}

func version(m map[string]any) int64 { v, _ := m["v"].(float64); return int64(v) }

func TestLive_SnapshotThenUpdates(t *testing.T) {
	e := newEnv(t)
	author, rater := e.signup("liv"), e.signup("rae")
	p := author.newPost(nil, "", "caption", "live joke").want(201).post()
	ch := "post:" + p.ID
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	snap := w.wait("snapshot", is(ch, "snapshot"))
	data := snap["data"].(map[string]any)
	if data["post"].(map[string]any)["id"] != p.ID {
		t.Fatalf("snapshot %v", snap)
	}
	rater.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 5}).want(200)
	up := w.wait("stats update", func(m map[string]any) bool {
		return is(ch, "stats")(m) && m["data"].(map[string]any)["stats"].(map[string]any)["count"] == 1.0
	})
	if version(up) <= version(snap) {
		t.Fatalf("update v %d not above snapshot v %d", version(up), version(snap))
	}
	// The stats message and the post read over REST name the same state of
	// the ratings the same way, and it is newer than the snapshot's.
	sv := int64(up["data"].(map[string]any)["version"].(float64))
	before := int64(data["post"].(map[string]any)["stats_version"].(float64))
	if got := rater.get("/api/v1/posts/" + p.ID).want(200).post().StatsVersion; got != sv || sv <= before {
		t.Fatalf("stats_version: REST %d, live stats message %d, snapshot %d; want REST = live > snapshot", got, sv, before)
	}
	// Comments arrive live too.
	rater.post("/api/v1/posts/"+p.ID+"/comments", map[string]string{"body": "lol"}).want(201)
	w.wait("comment", is(ch, "comment"))
	// Resuming with an old version gets a new snapshot.
	w2 := e.ws(nil)
	w2.send(map[string]any{"type": "subscribe", "ch": ch, "v": version(snap)})
	s2 := w2.wait("snapshot on resume", is(ch, "snapshot"))
	if s2["data"].(map[string]any)["post"].(map[string]any)["stats"].(map[string]any)["count"] != 1.0 {
		t.Fatalf("resume snapshot %v", s2)
	}
	// New posts reach posts:new.
	w.send(map[string]any{"type": "subscribe", "ch": "posts:new"})
	w.wait("posts:new snapshot", is("posts:new", "snapshot"))
	author.newPost(nil, "", "caption", "another one").want(201)
	w.wait("new post", is("posts:new", "new"))
	w.send(map[string]any{"type": "ping", "id": "x"})
	w.wait("pong", func(m map[string]any) bool { return m["type"] == "pong" && m["id"] == "x" })
	// Every update names the version before it: the chain has no holes.
	w.mu.Lock()
	defer w.mu.Unlock()
	var last int64
	for _, m := range w.msgs {
		if m["ch"] != ch || m["type"] == "snapshot" {
			continue
		}
		if prev, _ := m["prev"].(float64); last != 0 && int64(prev) != last {
			t.Fatalf("update %v: prev %d, but the previous update was %d", m["type"], int64(prev), last)
		}
		last = version(m)
	}
}

func TestLive_MeIsPrivate(t *testing.T) {
	e := newEnv(t)
	a, b := e.signup("meg"), e.signup("ned")
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": "me"})
	w.wait("unauthorized", func(m map[string]any) bool { return m["type"] == "error" && m["code"] == "unauthorized" })
	for _, bad := range []string{"me:2", "user:2", "post:abc", "nonsense"} {
		w.send(map[string]any{"type": "subscribe", "ch": bad})
	}
	if w.wait("bad channel", func(m map[string]any) bool { return m["code"] == "bad_channel" }) == nil {
		t.Fatal()
	}
	w.send(map[string]any{"type": "auth", "token": "forged"})
	w.wait("bad token", func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == "unauthorized" && m["ch"] == nil
	})
	w.send(map[string]any{"type": "auth", "token": a.token})
	w.wait("auth ok", func(m map[string]any) bool { return m["type"] == "auth_ok" })
	w.send(map[string]any{"type": "subscribe", "ch": "me"})
	w.wait("me snapshot", is("me", "snapshot"))
	b.post("/api/v1/profiles/meg/follow", nil).want(200)
	n := w.wait("notification", is("me", "notification"))
	if n["data"].(map[string]any)["kind"] != "followed" {
		t.Fatal(n)
	}
	// ned's own notifications never reach meg's socket.
	a.post("/api/v1/profiles/ned/follow", nil).want(200)
	time.Sleep(300 * time.Millisecond)
	if c := w.count(is("me", "notification")); c != 1 {
		t.Fatalf("meg got %d notifications", c)
	}
	// Another account cannot take over the connection.
	w.send(map[string]any{"type": "auth", "token": b.token})
	w.wait("forbidden", func(m map[string]any) bool { return m["code"] == "forbidden" })
}

func TestLive_OriginsAndLimits(t *testing.T) {
	e := newEnv(t)
	_, res, err := dialWS(t, e.base, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", res, err)
	}
	host := strings.TrimPrefix(e.base, "http://")
	if _, _, err := dialWS(t, e.base, http.Header{"Origin": {"http://" + host}}); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	e.ws(nil) // no Origin: not a browser, accepted
	// A frame over the read limit closes the connection.
	w := e.ws(nil)
	// The server may close while the frame is still being written: a reset
	// or broken pipe here is that close arriving early.
	err = w.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"`+strings.Repeat("x", 10_000)+`"}`))
	if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatal(err)
	}
	select {
	case <-w.done:
		if !websocket.IsCloseError(w.err, websocket.CloseMessageTooBig) && !strings.Contains(w.err.Error(), "close") {
			t.Logf("closed with %v", w.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an oversized frame did not close the connection")
	}
	// Plain HTTP on /ws is a clear 400.
	r := e.client().get("/ws")
	if r.Status != 400 {
		t.Fatalf("GET /ws without upgrade: %d", r.Status)
	}
}

func TestLive_SlowClientDropped(t *testing.T) {
	hubTweaks = []func(*realtime.Config){func(c *realtime.Config) { c.QueueSize = 64 }}
	defer func() { hubTweaks = nil }()
	e := newEnv(t)
	p := e.signup("sam").newPost(nil, "", "caption", "busy").want(201).post()
	ch := "post:" + p.ID
	// The slow client never reads: a raw connection that does the
	// handshake and then ignores everything.
	slow, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if tc, ok := slow.UnderlyingConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	_ = slow.WriteJSON(map[string]any{"type": "subscribe", "ch": ch})
	good := e.ws(nil)
	good.send(map[string]any{"type": "subscribe", "ch": ch})
	good.wait("snapshot", is(ch, "snapshot"))
	// 16 MB in 4 KB messages, in bursts of half the queue: the next burst
	// goes out once the good client has read the last one, so a client
	// that reads is never more than half a queue behind however slow this
	// machine is, while the one that never reads fills its socket buffers
	// and then its queue.
	const total, burst = 4000, 32
	big := map[string]any{"id": "1", "comment_count": 1, "comments_version": 1, "pad": strings.Repeat("x", 4<<10)}
	ctx := context.Background()
	for sent := 0; sent < total; {
		for range burst {
			if err := e.hub.Publish(ctx, ch, "comment", big); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		deadline := time.Now().Add(30 * time.Second)
		for good.count(is(ch, "comment")) < sent {
			if time.Now().After(deadline) {
				t.Fatalf("the good client got %d of the first %d messages (connections now: %d)",
					good.count(is(ch, "comment")), sent, e.hub.Connections())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if n := good.count(is(ch, "comment")); n != total {
		t.Fatalf("the good client got %d messages, want %d", n, total)
	}
	// The slow one was cut off (the server holds only the good one now),
	// and the good one is still served.
	e.eventually("the slow client is disconnected", func() bool { return e.hub.Connections() == 1 })
	if err := e.hub.Publish(ctx, ch, "comment_deleted", map[string]any{"id": "after", "comment_count": 0, "comments_version": 2}); err != nil {
		t.Fatal(err)
	}
	good.wait("a message after the slow client left", is(ch, "comment_deleted"))
}

func TestLive_BoardsCoalesced(t *testing.T) {
	hubTweaks = []func(*realtime.Config){func(c *realtime.Config) { c.BoardRate = 4 }}
	defer func() { hubTweaks = nil }()
	e := newEnv(t)
	author := e.signup("ava")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, author.newPost(nil, "", "caption", "joke").want(201).post().ID)
	}
	raters := []*client{e.signup("rx1"), e.signup("rx2"), e.signup("rx3")}
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": "board:top:all"})
	w.wait("board snapshot", is("board:top:all", "snapshot"))
	start := time.Now()
	for round := 0; round < 4; round++ {
		for i, id := range ids {
			for j, r := range raters {
				r.do("PUT", "/api/v1/posts/"+id+"/rating", map[string]int{"stars": 1 + (i+j+round)%5}).want(200)
			}
		}
	}
	// Replaying snapshot + diffs gives the board as it is now, once the last
	// diff is out (how long that takes depends on the machine's load).
	board := func() []string {
		var final struct {
			Items []struct {
				Post struct {
					ID string `json:"id"`
				} `json:"post"`
			} `json:"items"`
		}
		e.client().get("/api/v1/leaderboards/top?limit=20").want(200).json(&final)
		var out []string
		for _, it := range final.Items {
			out = append(out, it.Post.ID)
		}
		return out
	}
	replay := func() []string {
		w.mu.Lock()
		defer w.mu.Unlock()
		state := map[string]int{}
		for _, m := range w.msgs {
			if m["ch"] != "board:top:all" {
				continue
			}
			d := m["data"].(map[string]any)
			if m["type"] == "snapshot" {
				state = map[string]int{}
				for _, it := range d["items"].([]any) {
					it := it.(map[string]any)
					state[it["id"].(string)] = int(it["rank"].(float64))
				}
				continue
			}
			for _, it := range d["entered"].([]any) {
				it := it.(map[string]any)
				state[it["id"].(string)] = int(it["rank"].(float64))
			}
			for _, id := range d["left"].([]any) {
				delete(state, id.(string))
			}
			for _, mv := range d["moved"].([]any) {
				mv := mv.(map[string]any)
				state[mv["id"].(string)] = int(mv["to"].(float64))
			}
		}
		// Ranks must be 1..n without gaps or doubles to read as a board.
		out := make([]string, len(state))
		for id, r := range state {
			if r < 1 || r > len(out) || out[r-1] != "" {
				return append(out, fmt.Sprintf("bad ranks %v", state))
			}
			out[r-1] = id
		}
		return out
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		want, got := board(), replay()
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replayed snapshot and diffs give %v, the board is %v", got, want)
		}
	}
	// Counted after the wait, so elapsed covers every tick that could have
	// sent one: the ticker sends at most ⌊4·elapsed⌋+1 in that time.
	diffs := w.count(is("board:top:all", "diff"))
	elapsed := time.Since(start).Seconds()
	if diffs == 0 || float64(diffs) > elapsed*4+1 {
		t.Fatalf("%d board messages in %.1fs at most 4/s", diffs, elapsed)
	}
}

// Ratings of a post below a board's top 20 make the node read the board
// again and find its top unchanged: nothing is sent, and the next diff's
// prev is still the version of the message before it. (Each such read used
// to take a version of its own, so every viewer of the board saw a gap at
// the next diff and resubscribed.)
func TestLive_BoardPrevFollowsUnchangedReads(t *testing.T) {
	hubTweaks = []func(*realtime.Config){func(c *realtime.Config) { c.BoardRate = 10 }}
	defer func() { hubTweaks = nil }()
	e := newEnv(t)
	author := e.signup("uma")
	var ids []string
	for i := 0; i < 21; i++ { // equal scores, newer first: the first post is 21st
		ids = append(ids, author.newPost(nil, "", "caption", fmt.Sprintf("joke %d", i)).want(201).post().ID)
	}
	e.waitRanked()
	const ch = "board:top:all"
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	w.wait("board snapshot", is(ch, "snapshot"))
	for round, r := range []*client{e.signup("ux1"), e.signup("ux2"), e.signup("ux3")} {
		r.do("PUT", "/api/v1/posts/"+ids[0]+"/rating", map[string]int{"stars": 1}).want(200)
		time.Sleep(400 * time.Millisecond) // a few ticks: the board is read again, unchanged
		before := w.count(is(ch, "diff"))
		r.do("PUT", "/api/v1/posts/"+ids[20]+"/rating", map[string]int{"stars": 5}).want(200)
		e.eventually(fmt.Sprintf("round %d: the diff of a rating in the top", round), func() bool { return w.count(is(ch, "diff")) > before })
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var last float64
	for _, m := range w.msgs {
		if m["ch"] != ch {
			continue
		}
		if prev, _ := m["prev"].(float64); m["type"] != "snapshot" && prev != last {
			t.Fatalf("a %s with v %.0f and prev %.0f after v %.0f: a gap in an unbroken stream", m["type"], m["v"], prev, last)
		}
		last = m["v"].(float64)
	}
}

// TestLive_TwoNodesAndRedisRestart runs two API nodes on one PostgreSQL and
// one redis-server of the test's own: a rating through one reaches a client
// of the other, and after Redis restarts both get snapshots and go on.
func TestLive_TwoNodesAndRedisRestart(t *testing.T) {
	srv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	redisURL := "redis://" + srv.Addr + "/0"
	n1 := newEnv(t, func(c *config.Config) { c.RedisURL = redisURL })
	n2 := n1.sibling()
	author, rater := n1.signup("nia"), n1.signup("ola")
	p := author.newPost(nil, "", "caption", "cross-node").want(201).post()
	ch := "post:" + p.ID
	w := n2.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	w.wait("snapshot", is(ch, "snapshot"))
	rater.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 4}).want(200)
	w.wait("update from the other node", is(ch, "stats"))

	w1 := n1.ws(nil)
	w1.send(map[string]any{"type": "subscribe", "ch": ch})
	w1.wait("snapshot on node 1", is(ch, "snapshot"))
	before1, before2 := w1.count(is(ch, "snapshot")), w.count(is(ch, "snapshot"))
	srv.Stop()
	srv2, err := testkit.StartRedisOn(srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Stop() })
	n1.eventually("both nodes resubscribed and sent fresh snapshots", func() bool {
		return w1.count(is(ch, "snapshot")) > before1 && w.count(is(ch, "snapshot")) > before2
	})
	e3 := n1.signup("pia")
	e3.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 2}).want(200)
	for _, c := range []*wsClient{w, w1} {
		c.wait("updates after the restart", func(m map[string]any) bool {
			return is(ch, "stats")(m) && m["data"].(map[string]any)["stats"].(map[string]any)["count"] == 2.0
		})
	}
}

func TestLive_TokenExpiryEndsPrivateSubscriptions(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.AccessTokenTTL = 2 * time.Second })
	a := e.signup("tom")
	// The token lives 1–2 s (expiry is in whole seconds): a loaded machine
	// may not get the subscription in before it ends. Such a try tells
	// nothing and is made again with a new token; a subscription refused
	// while its token was still valid fails the test.
	var w *wsClient
	for try := 1; ; try++ {
		a.login("tom", testPassword)
		w = e.ws(nil)
		w.send(map[string]any{"type": "auth", "token": a.token})
		ok := w.wait("auth ok", func(m map[string]any) bool { return m["type"] == "auth_ok" })
		expires, err := time.Parse(time.RFC3339, ok["expires_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		w.send(map[string]any{"type": "subscribe", "ch": "me"})
		m := w.wait("me snapshot or error", func(m map[string]any) bool {
			return m["ch"] == "me" && (m["type"] == "snapshot" || m["type"] == "error")
		})
		if m["type"] == "snapshot" {
			break
		}
		if time.Now().Before(expires) {
			t.Fatalf("subscribing to me with a valid token: %v", m)
		}
		if try == 3 {
			t.Fatalf("three tries in a row could not subscribe before the 2 s token expired: %v", m)
		}
		w.conn.Close()
	}
	m := w.wait("token expiry", func(m map[string]any) bool { return m["code"] == "token_expired" })
	if m["ch"] != "me" || !strings.Contains(m["message"].(string), "auth") {
		t.Fatal(m)
	}
	// The connection itself stays up for public channels.
	w.send(map[string]any{"type": "ping", "id": "still"})
	w.wait("pong", func(m map[string]any) bool { return m["type"] == "pong" && m["id"] == "still" })
}

// A board nobody watches is not followed; whoever subscribes to it later
// gets it as it is then, not as it was when the last viewer left.
func TestLive_BoardSnapshotAfterNobodyWatched(t *testing.T) {
	e := newEnv(t)
	author, rater := e.signup("nia"), e.signup("oto")
	a := author.newPost(nil, "", "caption", "first joke", "tags", "quiet").want(201).post()
	b := author.newPost(nil, "", "caption", "second joke", "tags", "quiet").want(201).post()
	e.waitRanked()
	first := func(snap map[string]any) string {
		items := snap["data"].(map[string]any)["items"].([]any)
		if len(items) == 0 {
			return ""
		}
		return items[0].(map[string]any)["id"].(string)
	}
	ch := "board:tag:quiet:top"
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	if top := first(w.wait("snapshot", is(ch, "snapshot"))); top != b.ID {
		t.Fatalf("first on the board %q; want the newer post %s (ties: newer first)", top, b.ID)
	}
	w.send(map[string]any{"type": "unsubscribe", "ch": ch})
	time.Sleep(300 * time.Millisecond)
	rater.do("PUT", "/api/v1/posts/"+a.ID+"/rating", map[string]int{"stars": 5}).want(200)
	// Each try is a new subscriber; the node kept the old board for good.
	e.eventually("a new subscriber to see the board as it is now", func() bool {
		w2 := e.ws(nil)
		defer w2.conn.Close()
		w2.send(map[string]any{"type": "subscribe", "ch": ch})
		return first(w2.wait("snapshot", is(ch, "snapshot"))) == a.ID
	})
}

// A tag board subscribed under any spelling of its tag is the board the
// REST API shows, and its messages carry the canonical name; a post that
// does not exist, or that the caller may not see, is refused as not_found
// (subscribing again would not help), not as unavailable.
func TestLive_TagBoardNamesAndMissingPosts(t *testing.T) {
	e := newEnv(t)
	author := e.signup("tia")
	p := author.newPost(nil, "", "caption", "a cat joke", "tags", "cats").want(201).post()
	e.waitRanked()
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": "board:tag:CATS"})
	snap := w.wait("snapshot", is("board:tag:cats:top", "snapshot"))
	items := snap["data"].(map[string]any)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != p.ID {
		t.Fatalf("board:tag:CATS snapshot %v; want the post on tag cats", snap)
	}
	w.send(map[string]any{"type": "subscribe", "ch": "post:999999999"})
	m := w.wait("an error for a missing post", func(m map[string]any) bool { return m["type"] == "error" && m["ch"] == "post:999999999" })
	if m["code"] != "not_found" {
		t.Fatalf("subscribing to a missing post: %v; want code not_found", m)
	}
}

// A removal heard live names the post's version after it, the same
// stats_version a fresh read of the post carries: a copy read before the
// removal has a lower one and cannot bring the post back to ready.
func TestLive_StatusCarriesItsVersion(t *testing.T) {
	e := newEnv(t)
	author := e.signup("vic")
	mod := e.signup("moe")
	if _, err := e.db.Exec(context.Background(), `UPDATE users SET is_admin = true WHERE username = 'moe'`); err != nil {
		t.Fatal(err)
	}
	p := author.newPost(nil, "", "caption", "soon gone").want(201).post()
	before := author.get("/api/v1/posts/" + p.ID).want(200).post().StatsVersion
	ch := "post:" + p.ID
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	w.wait("snapshot", is(ch, "snapshot"))
	mod.post("/api/v1/admin/posts/"+p.ID+"/remove", map[string]string{"reason": "rule 3"}).want(200)
	m := w.wait("the removal", is(ch, "status"))
	data := m["data"].(map[string]any)
	v, _ := data["stats_version"].(float64)
	after := author.get("/api/v1/posts/" + p.ID).want(200).post().StatsVersion
	if data["status"] != "removed" || int64(v) != after || after <= before {
		t.Fatalf("status message %v; want status removed with stats_version %d (the post's now; %d before)", data, after, before)
	}
}
