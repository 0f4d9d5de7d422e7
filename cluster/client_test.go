package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// api is a small REST client that talks to the cluster through nginx.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &api{base: base, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// do sends a request; body is JSON unless it is a *multipart body.
func (a *api) do(ctx context.Context, method, path, token string, body any, header http.Header) (int, http.Header, []byte, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case *formBody:
		rd, ctype = bytes.NewReader(b.data), b.ctype
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, resp.Header, data, err
}

// call is do for JSON answers: a non-2xx status is an error.
func (a *api) call(ctx context.Context, method, path, token string, body, out any) error {
	status, _, data, err := a.do(ctx, method, path, token, body, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w: %s", method, path, err, data)
		}
	}
	return nil
}

type formBody struct {
	data  []byte
	ctype string
}

func multipartBody(fields map[string]string, fileField, fileName string, file []byte) (*formBody, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return nil, err
		}
	}
	if fileField != "" {
		w, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(file); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return &formBody{data: buf.Bytes(), ctype: mw.FormDataContentType()}, nil
}

// signUp registers and logs in a user; it returns the access token.
func (a *api) signUp(ctx context.Context, name, password string) (string, error) {
	err := a.call(ctx, http.MethodPost, "/api/v1/auth/register", "",
		map[string]string{"username": name, "email": name + "@cluster.jokster.example", "password": password}, nil)
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/v1/auth/login", "",
		map[string]string{"username": name, "password": password}, &out); err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

type post struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Media  *struct {
		URL string `json:"url"`
	} `json:"media"`
	Stats struct {
		Count int64 `json:"count"`
	} `json:"stats"`
}

// live is a WebSocket client that stays connected through nginx: when its
// connection ends it dials again and resubscribes with the versions it
// holds, as docs/realtime.md tells clients to. It keeps, per post, the
// rating count of the newest stats it applied.
type live struct {
	url   string
	chans []string

	mu          sync.Mutex
	conn        *websocket.Conn
	lastV       map[string]int64 // channel → envelope version applied
	statsV      map[string]int64 // post id → data.version of the stats applied
	count       map[string]int64 // post id → rating count
	connects    int
	disconnects int
	resynced    int // snapshots received on a connection after the first
	problems    []string
	done        chan struct{}
}

func newLive(url string, posts []string) *live {
	l := &live{url: url, lastV: map[string]int64{}, statsV: map[string]int64{}, count: map[string]int64{},
		done: make(chan struct{})}
	for _, id := range posts {
		l.chans = append(l.chans, "post:"+id)
	}
	return l
}

// dial connects and subscribes once; run keeps it connected.
func (l *live) dial() (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(l.url, nil)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	subs := make([]map[string]any, 0, len(l.chans))
	for _, ch := range l.chans {
		m := map[string]any{"type": "subscribe", "ch": ch}
		if v := l.lastV[ch]; v > 0 {
			m["v"] = v
		}
		subs = append(subs, m)
	}
	l.conn = conn
	l.connects++
	l.mu.Unlock()
	for _, m := range subs {
		if err := conn.WriteJSON(m); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

func (l *live) run(ctx context.Context, first *websocket.Conn) {
	defer close(l.done)
	conn := first
	for {
		l.read(conn)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.disconnects++
		l.mu.Unlock()
		for {
			time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond)
			if ctx.Err() != nil {
				return
			}
			c, err := l.dial()
			if err == nil {
				if ctx.Err() != nil {
					c.Close()
					return
				}
				conn = c
				break
			}
		}
	}
}

func (l *live) read(conn *websocket.Conn) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return
		}
		var m struct {
			Ch   string          `json:"ch"`
			Type string          `json:"type"`
			V    int64           `json:"v"`
			Code string          `json:"code"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			l.problem("not JSON: %s", data)
			continue
		}
		l.apply(m.Ch, m.Type, m.V, m.Code, m.Data)
	}
}

func (l *live) apply(ch, typ string, v int64, code string, data json.RawMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if typ == "error" {
		l.problems = append(l.problems, fmt.Sprintf("error %s on %q", code, ch))
		return
	}
	id, ok := strings.CutPrefix(ch, "post:")
	if !ok || v <= l.lastV[ch] {
		return // not ours, or stale: docs/realtime.md says drop it
	}
	l.lastV[ch] = v
	switch typ {
	case "snapshot":
		var s struct {
			Post post `json:"post"`
		}
		if err := json.Unmarshal(data, &s); err != nil {
			l.problems = append(l.problems, "bad snapshot: "+err.Error())
			return
		}
		l.count[id] = s.Post.Stats.Count
		l.statsV[id] = 0 // any stats after the snapshot applies
		if l.connects > 1 {
			l.resynced++
		}
	case "stats":
		var s struct {
			Stats struct {
				Count int64 `json:"count"`
			} `json:"stats"`
			Version int64 `json:"version"`
		}
		if err := json.Unmarshal(data, &s); err != nil {
			l.problems = append(l.problems, "bad stats: "+err.Error())
			return
		}
		// Stats are absolute; of two, the one with the newer post version wins
		// (two nodes may publish in either order).
		if s.Version > l.statsV[id] {
			l.statsV[id], l.count[id] = s.Version, s.Stats.Count
		}
	}
}

func (l *live) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

func (l *live) close() {
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

type liveState struct {
	connects, disconnects, resynced int
	count                           map[string]int64
	problems                        []string
}

func (l *live) state() liveState {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := liveState{connects: l.connects, disconnects: l.disconnects, resynced: l.resynced,
		count: map[string]int64{}, problems: append([]string{}, l.problems...)}
	for k, v := range l.count {
		s.count[k] = v
	}
	return s
}
