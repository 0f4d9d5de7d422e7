package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jokster/jokster/api"
)

// countingListener counts the writes made to each connection it accepts.
type countingListener struct {
	net.Listener
	mu     sync.Mutex
	writes []int // per connection
}

type countingConn struct {
	net.Conn
	l *countingListener
	i int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, 0)
	return &countingConn{Conn: c, l: l, i: len(l.writes) - 1}, nil
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes[c.i]++
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// A page of posts goes out in one write, so a node killed while it
// answers leaves nginx the whole response or, nearly always, none of it,
// which nginx retries on another node (with 4 KB buffers a page took
// several writes, and a kill between two gave a client half a response).
func TestAPageGoesOutInOneWrite(t *testing.T) {
	e := newEnv(t)
	e.signup("amy")
	caption := strings.Repeat("a long joke, told slowly. ", 19) // about 500 characters
	if _, err := e.db.Exec(context.Background(), `INSERT INTO posts (author_id, caption, kind, status)
		SELECT u.id, $1 || g, 'text', 'ready' FROM users u, generate_series(1, 30) g WHERE u.username = 'amy'`, caption); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	app := api.New(e.deps)
	go func() { _ = app.Listener(cl) }()
	defer func() { _ = app.ShutdownWithTimeout(5 * time.Second) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /api/v1/posts?sort=new&limit=20 HTTP/1.1\r\nHost: jokster.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("%v: %.200s", err, body)
	}
	if res.StatusCode != 200 || len(page.Items) != 20 {
		t.Fatalf("GET a page: %d with %d posts", res.StatusCode, len(page.Items))
	}
	if len(body) <= 4096 {
		t.Fatalf("a page of 20 posts is %d bytes: too small to show anything", len(body))
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.writes) != 1 || cl.writes[0] != 1 {
		t.Fatalf("a response of %d bytes took %v writes (per connection); want one", len(body), cl.writes)
	}
}
