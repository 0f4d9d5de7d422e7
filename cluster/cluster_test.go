package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/cluster"
	"github.com/jokster/jokster/testkit"
)

const password = "cluster-test-laughs-42"

// TestCluster proves the docker compose topology on loopback: nginx in front
// of three API nodes and a worker, real clients only. See README ("Deploy")
// and docs/operating.md.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped in -short mode (it builds the binary and starts a cluster)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	nginx, err := cluster.EnsureNginx(repo, testWriter{t})
	if err != nil {
		t.Skipf("cluster test skipped: %v (install Debian's nginx: scripts/services.sh tools)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := buildJokster(t, repo, dir)
	dbURL, db := freshDatabase(t)
	opsPassword := randomHex(12)

	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		Dir: dir, Binary: bin, Nginx: nginx, Repo: repo, DatabaseURL: dbURL, APINodes: 3, TLS: true,
		OpsPassword: opsPassword, RedisPrefix: "jc" + randomHex(3) + ":",
		Env: map[string]string{
			// Every client comes from 127.0.0.1 through nginx: per-IP limits
			// would throttle the whole test as one user.
			"RATE_IP": "0", "RATE_REGISTER": "0", "RATE_LOGIN": "0", "RATE_RATE": "0", "RATE_UPLOAD": "0",
			"RATE_WRITE": "0", "SHUTDOWN_TIMEOUT": "5s", "UPLOAD_MAX_BYTES": "4194304",
		},
		Log: t.Logf,
	})
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, c)
		}
		c.Stop()
		for _, p := range []*cluster.Process{c.Nginx, c.Worker, c.Redis} {
			checkGone(t, p)
		}
		for _, p := range c.API {
			checkGone(t, p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %s: nginx %s, %s", time.Since(start).Round(time.Millisecond), c.URL, c.TLSURL)
	a := newAPI(c.URL)

	t.Run("Edge", func(t *testing.T) { checkEdge(ctx, t, c, a, nginx, opsPassword) })

	// Accounts and posts, through nginx.
	authors := signUpMany(ctx, t, a, "cl_a", 3)
	raters := signUpMany(ctx, t, a, "cl_r", 12)
	flusher := signUpMany(ctx, t, a, "cl_f", 1)[0]
	var posts []string
	for i := range 12 {
		au := authors[i%len(authors)]
		body, err := multipartBody(map[string]string{"caption": fmt.Sprintf("Cluster joke %d: a load balancer walks into a bar, and a bar, and a bar.", i),
			"tags": "cluster"}, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var p post
		if err := a.call(ctx, http.MethodPost, "/api/v1/posts", au.token, body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != "ready" {
			t.Fatalf("text post %s is %q, want ready", p.ID, p.Status)
		}
		posts = append(posts, p.ID)
	}
	t.Run("Media", func(t *testing.T) { checkMedia(ctx, t, c, a, db, authors[0].token) })

	// Live clients spread over the nodes.
	const nClients = 30
	wsURL := "ws" + strings.TrimPrefix(c.URL, "http") + "/ws"
	liveCtx, stopLive := context.WithCancel(ctx)
	var clients []*live
	var liveWG sync.WaitGroup
	defer func() {
		stopLive()
		for _, l := range clients {
			l.close()
		}
		liveWG.Wait()
	}()
	for range nClients {
		l := newLive(wsURL, posts)
		conn, err := l.dial()
		if err != nil {
			t.Fatalf("WebSocket through nginx: %v", err)
		}
		clients = append(clients, l)
		liveWG.Add(1)
		go func() { defer liveWG.Done(); l.run(liveCtx, conn) }()
	}
	waitFor(t, 20*time.Second, "every client's snapshots", func() string {
		for i, l := range clients {
			if s := l.state(); len(s.count) != len(posts) {
				return fmt.Sprintf("client %d has %d of %d snapshots", i, len(s.count), len(posts))
			}
		}
		return ""
	})
	perNode := wsPerNode(ctx, t, c.API)
	t.Logf("WebSocket connections per node through nginx: %v", perNode)
	total := 0
	for i, n := range perNode {
		total += n
		if n < nClients/6 {
			t.Errorf("node %s holds %d of %d WebSockets: nginx does not spread them (%v)", c.API[i].Name, n, nClients, perNode)
		}
	}
	if total != nClients {
		t.Errorf("the nodes count %d WebSockets, want %d", total, nClients)
	}

	// Load: every rater rates every post, round after round, each rating
	// retried with the same stars until acknowledged; an API node is killed
	// (SIGKILL) a third of the way in.
	type pair struct{ rater, post string }
	var ackMu sync.Mutex
	acked := map[pair]int{}   // last acknowledged stars
	unsure := map[pair]bool{} // the last try was never acknowledged
	var nAck, nRetry, getFail, getOK atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(ctx, 9*time.Second)
	defer stopLoad()
	var wg sync.WaitGroup
	for _, r := range raters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				for _, i := range mrand.Perm(len(posts)) {
					if loadCtx.Err() != nil {
						return
					}
					p := pair{r.name, posts[i]}
					stars := 1 + mrand.IntN(5)
					ok := false
					for try := 0; try < 20 && !ok; try++ {
						if try > 0 {
							nRetry.Add(1)
							time.Sleep(100 * time.Millisecond)
						}
						status, _, _, err := a.do(ctx, http.MethodPut, "/api/v1/posts/"+posts[i]+"/rating", r.token,
							map[string]int{"stars": stars}, nil)
						ok = err == nil && status/100 == 2
					}
					ackMu.Lock()
					if ok {
						acked[p] = stars
						delete(unsure, p)
						nAck.Add(1)
					} else {
						unsure[p] = true
					}
					ackMu.Unlock()
					time.Sleep(40 * time.Millisecond)
				}
			}
		}()
	}
	// Reads go on too: nginx retries idempotent requests on another node,
	// so none of them should fail.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for loadCtx.Err() == nil {
			status, _, _, err := a.do(loadCtx, http.MethodGet, "/api/v1/leaderboards/hot?limit=20", "", nil, nil)
			switch {
			case loadCtx.Err() != nil:
			case err != nil || status != http.StatusOK:
				getFail.Add(1)
				t.Logf("GET through nginx during the load: %d %v", status, err)
			default:
				getOK.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	victim := c.API[1]
	var onVictim int
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	before := wsPerNode(ctx, t, c.API)
	onVictim = before[1]
	t.Logf("WebSockets per node before the kill: %v", before)
	acksBefore := nAck.Load()
	victim.Kill()
	t.Logf("killed %s (SIGKILL) with %d WebSockets, after %d acknowledged ratings", victim.Name, onVictim, acksBefore)
	wg.Wait()
	t.Logf("load: %d ratings acknowledged, %d retries, %d pairs never acknowledged; %d reads, %d failed",
		nAck.Load(), nRetry.Load(), len(unsure), getOK.Load(), getFail.Load())
	if nAck.Load() <= acksBefore {
		t.Errorf("no rating was acknowledged after the kill")
	}
	if getFail.Load() > 0 {
		t.Errorf("%d reads failed through nginx while a node died (idempotent requests should go to another node)", getFail.Load())
	}

	// One more rating on every post, after the dust settled, so that every
	// client must hear about it.
	for _, p := range posts {
		if err := retry(ctx, 20, func() error {
			return a.call(ctx, http.MethodPut, "/api/v1/posts/"+p+"/rating", flusher.token, map[string]int{"stars": 4}, nil)
		}); err != nil {
			t.Fatal(err)
		}
	}

	// No acknowledged rating lost: PostgreSQL holds each one's last value.
	rows, err := db.Query(ctx, `SELECT u.username, r.post_id::text, r.stars FROM ratings r JOIN users u ON u.id = r.user_id`)
	if err != nil {
		t.Fatal(err)
	}
	inPG := map[pair]int{}
	for rows.Next() {
		var p pair
		var stars int
		if err := rows.Scan(&p.rater, &p.post, &stars); err != nil {
			t.Fatal(err)
		}
		inPG[p] = stars
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for p, stars := range acked {
		if unsure[p] {
			continue
		}
		if got, ok := inPG[p]; !ok || got != stars {
			lost++
			if lost <= 5 {
				t.Errorf("rating of post %s by %s: acknowledged %d stars, PostgreSQL has %d (present %v)", p.post, p.rater, stars, got, ok)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged ratings are not in PostgreSQL", lost, len(acked))
	}

	// Every board equals PostgreSQL (Redis converges: the killed node may
	// have committed ratings it never applied to Redis; reconcile does).
	checkBoards(ctx, t, c, a, db)

	// Every client converges on PostgreSQL's counts, the killed node's ones
	// through a reconnect and a fresh snapshot.
	pgCount := map[string]int64{}
	rows, err = db.Query(ctx, `SELECT id::text, h1+h2+h3+h4+h5 FROM posts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		pgCount[id] = n
	}
	waitFor(t, 30*time.Second, "every live client to match PostgreSQL", func() string {
		for i, l := range clients {
			s := l.state()
			for _, p := range posts {
				if s.count[p] != pgCount[p] {
					return fmt.Sprintf("client %d sees %d ratings on post %s, PostgreSQL has %d", i, s.count[p], p, pgCount[p])
				}
			}
		}
		return ""
	})
	dropped, resynced := 0, 0
	for i, l := range clients {
		s := l.state()
		if len(s.problems) > 0 {
			t.Errorf("client %d: %v", i, s.problems)
		}
		if s.disconnects > 0 {
			dropped++
			if s.connects != s.disconnects+1 {
				t.Errorf("client %d: %d disconnects, %d connects: it did not reconnect", i, s.disconnects, s.connects)
			}
			if s.resynced > 0 {
				resynced++
			}
		}
	}
	t.Logf("%d clients lost their node and reconnected through nginx; %d of them got fresh snapshots", dropped, resynced)
	if dropped != onVictim {
		t.Errorf("%d clients were disconnected, but the killed node held %d", dropped, onVictim)
	}
	if resynced != dropped {
		t.Errorf("only %d of %d reconnected clients got a snapshot", resynced, dropped)
	}
	alive := []*cluster.Process{c.API[0], c.API[2]}
	waitFor(t, 10*time.Second, "the surviving nodes to hold every client", func() string {
		if n := wsPerNode(ctx, t, alive); n[0]+n[1] != nClients {
			return fmt.Sprintf("the surviving nodes hold %v WebSockets, want %d in all", n, nClients)
		}
		return ""
	})

	// The killed node comes back and nginx sends it new clients again.
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, victim.Name+" to be ready again", func() string {
		status, _, _, err := newAPI("http://"+victim.Addr).do(ctx, http.MethodGet, "/readyz", "", nil, nil)
		if err != nil || status != http.StatusOK {
			return fmt.Sprintf("/readyz: %d %v", status, err)
		}
		return ""
	})
	waitFor(t, 30*time.Second, "nginx to send a new client to "+victim.Name, func() string {
		l := newLive(wsURL, posts[:1])
		conn, err := l.dial()
		if err != nil {
			return err.Error()
		}
		clients = append(clients, l)
		liveWG.Add(1)
		go func() { defer liveWG.Done(); l.run(liveCtx, conn) }()
		time.Sleep(100 * time.Millisecond)
		if n := wsPerNode(ctx, t, []*cluster.Process{victim})[0]; n == 0 {
			return "no WebSocket on it yet"
		}
		return ""
	})
	t.Logf("cluster test done in %s", time.Since(start).Round(time.Millisecond))
}

// checkEdge: what nginx itself must do.
func checkEdge(ctx context.Context, t *testing.T, c *cluster.Cluster, a *api, nginx, opsPassword string) {
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, body, err := a.do(ctx, http.MethodGet, p, "", nil, nil); err != nil || status != http.StatusOK {
			t.Errorf("GET %s through nginx: %d %v %s", p, status, err, body)
		}
	}
	if out, err := cluster.TestConfig(nginx, c.NginxDir); err != nil {
		t.Errorf("nginx -t on the rendered configuration: %v\n%s", err, out)
	}

	// A client cannot choose the address the app sees: nginx replaces
	// X-Forwarded-For, and the app believes it only from nginx.
	probe := "xffprobe" + randomHex(4)
	status, _, body, err := a.do(ctx, http.MethodGet, "/api/v1/leaderboards/tag:"+probe, "", nil,
		http.Header{"X-Forwarded-For": {"203.0.113.9"}})
	if err != nil || status != http.StatusOK {
		t.Errorf("GET a tag board: %d %v %s", status, err, body)
	}
	waitFor(t, 5*time.Second, "the access log line of the probe", func() string {
		ips := requestIPs(t, c, probe)
		if len(ips) == 0 {
			return "no node logged the probe"
		}
		if len(ips) != 1 || ips[0] != "127.0.0.1" {
			t.Errorf("the app saw the client as %v, want 127.0.0.1 (nginx's X-Forwarded-For)", ips)
		}
		return ""
	})

	// Asynqmon through nginx, behind basic auth.
	status, _, _, err = a.do(ctx, http.MethodGet, "/monitor/", "", nil, nil)
	if err != nil || status != http.StatusUnauthorized {
		t.Errorf("GET /monitor/ without credentials: %d %v, want 401", status, err)
	}
	basic := http.Header{"Authorization": {"Basic " + basicAuth("admin", "wrong")}}
	if status, _, _, _ = a.do(ctx, http.MethodGet, "/monitor/", "", nil, basic); status != http.StatusUnauthorized {
		t.Errorf("GET /monitor/ with a wrong password: %d, want 401", status)
	}
	basic = http.Header{"Authorization": {"Basic " + basicAuth("admin", opsPassword)}}
	status, _, body, err = a.do(ctx, http.MethodGet, "/monitor/", "", nil, basic)
	if err != nil || status != http.StatusOK || !bytes.Contains(bytes.ToLower(body), []byte("<html")) {
		t.Errorf("GET /monitor/ with the password: %d %v %.200s", status, err, body)
	}

	// The web app's hashed bundles, from nginx with a year of caching.
	_, _, index, err := a.do(ctx, http.MethodGet, "/", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`/assets/[A-Za-z0-9._-]+\.js`).Find(index); m == nil {
		t.Log("the web UI is not built (make web): /assets/ not checked")
	} else {
		status, h, _, err := a.do(ctx, http.MethodGet, string(m), "", nil, nil)
		if err != nil || status != http.StatusOK || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d %v Cache-Control %q", m, status, err, h.Get("Cache-Control"))
		}
		// nginx serves the names it has in web/dist and asks the API for the
		// others (a binary built from another web build, as in a rolling upgrade).
		_, err = os.Stat(filepath.Join(c.WebRoot, filepath.FromSlash(string(m))))
		if onDisk := err == nil; servedByNginx(t, c, string(m)) != onDisk {
			t.Errorf("GET %s: served by nginx %v, but the file is in web/dist: %v", m, !onDisk, onDisk)
		}
	}

	// Bodies beyond the app's upload limit stop at nginx.
	if status := rawStatus(t, strings.TrimPrefix(c.URL, "http://"),
		"POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 200000000\r\n\r\n"); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 200 MB upload: HTTP %d from nginx, want 413", status)
	}

	// HTTPS, with the certificate paths from the settings.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CertPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(c.TLSURL + "/healthz")
	if err != nil {
		t.Errorf("HTTPS through nginx: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HTTPS /healthz: %d", resp.StatusCode)
		}
	}
}

// checkMedia: an uploaded picture, processed by the worker, is served by
// nginx straight from the shared media folder; originals never are.
func checkMedia(ctx context.Context, t *testing.T, c *cluster.Cluster, a *api, db *pgxpool.Pool, token string) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	body, err := multipartBody(map[string]string{"caption": "A picture through nginx"}, "media", "pic.png", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var p post
	if err := a.call(ctx, http.MethodPost, "/api/v1/posts", token, body, &p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the worker to process the picture", func() string {
		if err := a.call(ctx, http.MethodGet, "/api/v1/posts/"+p.ID, token, nil, &p); err != nil {
			return err.Error()
		}
		if p.Status != "ready" || p.Media == nil || p.Media.URL == "" {
			return "status " + p.Status
		}
		return ""
	})
	u, err := url.Parse(p.Media.URL)
	if err != nil {
		t.Fatal(err)
	}
	status, h, data, err := a.do(ctx, http.MethodGet, u.Path, "", nil, nil)
	if err != nil || status != http.StatusOK || len(data) == 0 {
		t.Fatalf("GET %s: %d %v", u.Path, status, err)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Cache-Control"), "max-age=31536000") {
		t.Errorf("GET %s: X-Content-Type-Options %q, Cache-Control %q", u.Path, h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
	}
	if !servedByNginx(t, c, u.Path) {
		t.Errorf("GET %s went to an API node, not to nginx's media folder", u.Path)
	}
	var original string
	if err := db.QueryRow(ctx, `SELECT original FROM posts WHERE id = $1`, p.ID).Scan(&original); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Media, original)); err != nil {
		t.Fatalf("the original %s is not in the media folder: %v", original, err)
	}
	for _, path := range []string{"/media/" + original, "/media/originals/", "/media/", "/media/.hidden"} {
		if status, _, _, err := a.do(ctx, http.MethodGet, path, "", nil, nil); err != nil || status != http.StatusNotFound {
			t.Errorf("GET %s: %d %v, want 404", path, status, err)
		}
	}
}

// checkBoards waits until every board read through nginx lists the posts
// in PostgreSQL's order, served from Redis (no PostgreSQL fallback).
func checkBoards(ctx context.Context, t *testing.T, c *cluster.Cluster, a *api, db *pgxpool.Pool) {
	t.Helper()
	boards := []struct{ path, sql string }{
		{"/api/v1/leaderboards/top?limit=100", `SELECT id, score_top FROM posts WHERE status = 'ready' ORDER BY score_top DESC NULLS LAST, id DESC`},
		{"/api/v1/leaderboards/hot?limit=100", `SELECT id, score_hot FROM posts WHERE status = 'ready' ORDER BY score_hot DESC NULLS LAST, id DESC`},
		{"/api/v1/leaderboards/new?limit=100", `SELECT id FROM posts WHERE status = 'ready' ORDER BY id DESC`},
		{"/api/v1/leaderboards/top?window=day&limit=100", `SELECT id, score_top FROM posts WHERE status = 'ready' AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' ORDER BY score_top DESC NULLS LAST, id DESC`},
		{"/api/v1/leaderboards/tag:cluster?limit=100", `SELECT p.id, p.score_top FROM posts p JOIN post_tags t ON t.post_id = p.id WHERE p.status = 'ready' AND t.tag = 'cluster' ORDER BY p.score_top DESC NULLS LAST, p.id DESC`},
	}
	alive := func() []*cluster.Process {
		var out []*cluster.Process
		for _, n := range c.API {
			if n.Running() {
				out = append(out, n)
			}
		}
		return out
	}
	fallbacks := func() float64 {
		sum := 0.0
		for _, n := range alive() {
			v, err := cluster.Metric(ctx, n, "jokster_board_reads_fallback_total")
			if err != nil {
				t.Fatal(err)
			}
			sum += v
		}
		return sum
	}
	waitFor(t, 45*time.Second, "every board to equal PostgreSQL", func() string {
		before := fallbacks()
		for _, b := range boards {
			var want, wantDetail []string
			rows, err := db.Query(ctx, b.sql)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, strconv.FormatInt(vals[0].(int64), 10))
				wantDetail = append(wantDetail, fmt.Sprint(vals...))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for range alive() { // least_conn: each read may land on another node
				var page struct {
					Items []struct {
						Score float64 `json:"score"`
						Post  struct {
							ID    string `json:"id"`
							Stats struct {
								Count int64 `json:"count"`
							} `json:"stats"`
						} `json:"post"`
					} `json:"items"`
				}
				if err := a.call(ctx, http.MethodGet, b.path, "", nil, &page); err != nil {
					return err.Error()
				}
				var got, detail []string
				for _, it := range page.Items {
					got = append(got, it.Post.ID)
					detail = append(detail, fmt.Sprintf("%s(score %v, %d ratings)", it.Post.ID, it.Score, it.Post.Stats.Count))
				}
				if !slices.Equal(got, want) {
					return fmt.Sprintf("%s lists %v, PostgreSQL %v", b.path, detail, wantDetail)
				}
			}
		}
		if after := fallbacks(); after != before {
			return "some board reads fell back to PostgreSQL (Redis not ready yet)"
		}
		return ""
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// servedByNginx: nginx's access log shows the request answered without an
// upstream ("upstream=-").
func servedByNginx(t *testing.T, c *cluster.Cluster, path string) bool {
	t.Helper()
	served := false
	waitFor(t, 5*time.Second, "nginx's access log line for "+path, func() string {
		data, err := os.ReadFile(filepath.Join(c.NginxDir, "access.log"))
		if err != nil {
			return err.Error()
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if strings.Contains(line, "GET "+path+" ") {
				served = strings.Contains(line, " upstream=- ")
				return ""
			}
		}
		return "not logged yet"
	})
	return served
}

// requestIPs returns the client addresses the API nodes logged for
// requests whose path contains probe.
func requestIPs(t *testing.T, c *cluster.Cluster, probe string) []string {
	var ips []string
	for _, n := range c.API {
		f, err := os.Open(n.Log)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Path string `json:"path"`
				IP   string `json:"ip"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http" && strings.Contains(line.Path, probe) {
				ips = append(ips, line.IP)
			}
		}
		f.Close()
	}
	return ips
}

// rawStatus sends a raw request and returns the status of the answer.
func rawStatus(t *testing.T, addr, request string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type user struct{ name, token string }

func signUpMany(ctx context.Context, t *testing.T, a *api, prefix string, n int) []user {
	t.Helper()
	out := make([]user, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s%02d", prefix, i+1)
			tok, err := a.signUp(ctx, name, password)
			if err != nil {
				errs <- fmt.Errorf("signing up %s: %w", name, err)
				return
			}
			out[i] = user{name, tok}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// wsPerNode reads jokster_websocket_connections from each node's /metrics.
func wsPerNode(ctx context.Context, t *testing.T, nodes []*cluster.Process) []int {
	t.Helper()
	out := make([]int, len(nodes))
	for i, n := range nodes {
		v, err := cluster.Metric(ctx, n, "jokster_websocket_connections")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = int(v)
	}
	return out
}

func retry(ctx context.Context, tries int, f func() error) error {
	var err error
	for range tries {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return err
}

// waitFor polls cond (which returns what is still missing, or "") until it
// holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		missing := cond()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildJokster builds the binary (JOKSTER_BIN names a built one instead).
func buildJokster(t *testing.T, repo, dir string) string {
	t.Helper()
	if b := os.Getenv("JOKSTER_BIN"); b != "" {
		return b
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH to build the jokster binary (or set JOKSTER_BIN): %v", err)
	}
	out := filepath.Join(dir, "jokster")
	cmd := exec.Command(goBin, "build", "-o", out, "./cmd/jokster")
	cmd.Dir = repo
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/jokster: %v\n%s", err, msg)
	}
	return out
}

// freshDatabase names a database that does not exist yet (the nodes create
// and migrate it, racing, as compose starts them) and drops it at the end.
func freshDatabase(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	admin := testkit.AdminURL()
	name := "jokster_cluster_" + randomHex(6)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (run `make test`, which starts it): %v", admin, err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("dropping %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	// The pool connects lazily: the database appears when the nodes start.
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return u.String(), pool
}

// checkGone: the process and its whole process group have exited.
func checkGone(t *testing.T, p *cluster.Process) {
	if p == nil || p.Pid() == 0 {
		return
	}
	if p.Running() {
		t.Errorf("%s (pid %d) still runs after Stop", p.Name, p.Pid())
	}
	if err := syscall.Kill(-p.Pid(), 0); err == nil {
		t.Errorf("processes of %s's group (pgid %d) still run after Stop", p.Name, p.Pid())
	}
}

func dumpLogs(t *testing.T, c *cluster.Cluster) {
	if c == nil {
		return
	}
	for _, p := range append([]*cluster.Process{c.Redis, c.Worker, c.Nginx}, c.API...) {
		if p != nil {
			t.Logf("--- last lines of %s (%s) ---\n%s", p.Name, p.Log, p.Tail(25))
		}
	}
	if data, err := os.ReadFile(filepath.Join(c.NginxDir, "error.log")); err == nil {
		t.Logf("--- nginx error.log ---\n%s", tail(string(data), 25))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
