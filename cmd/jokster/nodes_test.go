package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/jokster/jokster/testkit"
)

// liveConn records the messages of one WebSocket client.
type liveConn struct {
	mu   sync.Mutex
	msgs []map[string]any
	conn *websocket.Conn
}

func dialLive(t *testing.T, base string) *liveConn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	lc := &liveConn{conn: conn}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			lc.mu.Lock()
			lc.msgs = append(lc.msgs, m)
			lc.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return lc
}

func (lc *liveConn) count(ch, typ string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	n := 0
	for _, m := range lc.msgs {
		if m["ch"] == ch && m["type"] == typ {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoServeProcesses runs two real `jokster serve` processes on
// different ports, one PostgreSQL database and a redis-server of the
// test's own: a rating through one reaches a client of the other, and
// after that redis-server restarts, both clients get fresh snapshots and
// keep receiving.
func TestTwoServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "jokster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	redisSrv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redisSrv.Stop() })
	dbURL := testkit.DB(t)
	media := t.TempDir()
	start := func(name string) string {
		// Port 0: the address comes from the log (see listenerAddr), so
		// no other process can take it between a pick and the bind.
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL=redis://"+redisSrv.Addr+"/0", "REDIS_PREFIX=two:",
			"ADDR=127.0.0.1:0", "OPS_ADDR=127.0.0.1:0", "MEDIA_ROOT="+media, "LOG_LEVEL=info")
		var logs syncBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, logs.String())
			}
		})
		base := "http://" + listenerAddr(t, &logs, "public listener up", exited, time.Now().Add(60*time.Second))
		waitFor(t, name+" is ready", func() bool {
			res, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
		return base
	}
	node1, node2 := start("node1"), start("node2")

	call := func(base, method, path, token, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, m)
		}
		return m
	}
	signup := func(name string) string {
		call(node1, "POST", "/api/v1/auth/register", "", `{"username":"`+name+`","email":"`+name+`@example.com","password":"a long enough password"}`)
		return call(node1, "POST", "/api/v1/auth/login", "", `{"username":"`+name+`","password":"a long enough password"}`)["access_token"].(string)
	}
	author, rater := signup("two_author"), signup("two_rater")
	// A text post (multipart with a caption only).
	req, _ := http.NewRequest("POST", node1+"/api/v1/posts", strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\ntwo nodes\r\n--b--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	req.Header.Set("Authorization", "Bearer "+author)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("post: %v %v", res, err)
	}
	var post map[string]any
	_ = json.NewDecoder(res.Body).Decode(&post)
	res.Body.Close()
	id := post["id"].(string)
	ch := "post:" + id

	c1, c2 := dialLive(t, node1), dialLive(t, node2)
	for _, c := range []*liveConn{c1, c2} {
		_ = c.conn.WriteJSON(map[string]any{"type": "subscribe", "ch": ch})
	}
	waitFor(t, "both snapshots", func() bool { return c1.count(ch, "snapshot") == 1 && c2.count(ch, "snapshot") == 1 })
	call(node1, "PUT", "/api/v1/posts/"+id+"/rating", rater, `{"stars":5}`)
	waitFor(t, "the rating through node 1 reaches the client of node 2", func() bool { return c2.count(ch, "stats") >= 1 })

	redisSrv.Stop()
	redis2, err := testkit.StartRedisOn(redisSrv.Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis2.Stop() })
	waitFor(t, "both clients get fresh snapshots after the Redis restart", func() bool {
		return c1.count(ch, "snapshot") >= 2 && c2.count(ch, "snapshot") >= 2
	})
	before1, before2 := c1.count(ch, "stats"), c2.count(ch, "stats")
	third := signup("two_third")
	call(node2, "PUT", "/api/v1/posts/"+id+"/rating", third, `{"stars":3}`)
	waitFor(t, "both clients keep receiving", func() bool {
		return c1.count(ch, "stats") > before1 && c2.count(ch, "stats") > before2
	})
}
