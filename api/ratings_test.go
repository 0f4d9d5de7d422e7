package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/testkit"
)

// ratedPost is the part of a post the rating tests look at.
type ratedPost struct {
	ID     string   `json:"id"`
	Status string   `json:"status"`
	Tags   []string `json:"tags"`
	Stats  struct {
		Count     int64            `json:"count"`
		Average   float64          `json:"average"`
		Laughs    int64            `json:"laughs"`
		Histogram map[string]int64 `json:"histogram"`
		ScoreTop  float64          `json:"score_top"`
		ScoreHot  float64          `json:"score_hot"`
	} `json:"stats"`
	Ranks    map[string]int `json:"ranks"`
	MyRating *int           `json:"my_rating"`
}

type boardPage struct {
	Items []struct {
		Rank    int        `json:"rank"`
		Score   float64    `json:"score"`
		Post    *ratedPost `json:"post"`
		Creator *struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			Laughs   int64  `json:"laughs"`
		} `json:"creator"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// model is the test's own account of every post's ratings; the boards are
// computed from it with the ranking package's pure score functions.
type model struct {
	e     *env
	posts map[string]*mpost
	stars map[string]int // user + "/" + post id → stars
	uid   map[string]int64
}

type mpost struct {
	id      int64
	author  string
	created time.Time
	tags    []string
	status  string
	h       ranking.Histogram
}

func newModel(e *env) *model {
	return &model{e: e, posts: map[string]*mpost{}, stars: map[string]int{}, uid: map[string]int64{}}
}

// add posts a text post by c (username who) and records it.
func (m *model) add(c *client, who string, tags ...string) string {
	m.e.t.Helper()
	fields := []string{"caption", "joke by " + who}
	if len(tags) > 0 {
		fields = append(fields, "tags", strings.Join(tags, ","))
	}
	p := c.newPost(nil, "", fields...).want(201).post()
	id, _ := strconv.ParseInt(p.ID, 10, 64)
	mp := &mpost{id: id, author: who, tags: tags, status: "ready"}
	if err := m.e.db.QueryRow(context.Background(), `SELECT created_at FROM posts WHERE id = $1`, id).Scan(&mp.created); err != nil {
		m.e.t.Fatal(err)
	}
	if _, ok := m.uid[who]; !ok {
		var uid int64
		if err := m.e.db.QueryRow(context.Background(), `SELECT id FROM users WHERE username = $1`, who).Scan(&uid); err != nil {
			m.e.t.Fatal(err)
		}
		m.uid[who] = uid
	}
	m.posts[p.ID] = mp
	return p.ID
}

// rate rates over HTTP (stars 0 withdraws), expects 200, updates the model
// and checks the answer's stats and my_rating.
func (m *model) rate(c *client, who, id string, stars int) ratedPost {
	m.e.t.Helper()
	var r *resp
	if stars == 0 {
		r = c.do("DELETE", "/api/v1/posts/"+id+"/rating", nil).want(200)
	} else {
		r = c.do("PUT", "/api/v1/posts/"+id+"/rating", map[string]int{"stars": stars}).want(200)
	}
	k := who + "/" + id
	p := m.posts[id]
	if old := m.stars[k]; old > 0 {
		p.h = p.h.Remove(old)
	}
	if stars > 0 {
		p.h = p.h.Add(stars)
	}
	m.stars[k] = stars
	var got ratedPost
	r.json(&got)
	m.checkPost(got, stars)
	return got
}

// checkPost compares a post's stats with the model and my_rating with mine.
func (m *model) checkPost(got ratedPost, mine int) {
	m.e.t.Helper()
	p := m.posts[got.ID]
	h := p.h
	want := map[string]int64{"1": h[0], "2": h[1], "3": h[2], "4": h[3], "5": h[4]}
	st := got.Stats
	if st.Count != h.Count() || st.Laughs != h.Sum() || st.Average != h.Average() || !mapsEqual(st.Histogram, want) ||
		st.ScoreTop != ranking.Quantize(ranking.TopScore(h)) || st.ScoreHot != ranking.Quantize(ranking.HotScore(h, p.created)) {
		m.e.t.Fatalf("post %s stats %+v, want histogram %v (top %v, hot %v)", got.ID, st, want,
			ranking.Quantize(ranking.TopScore(h)), ranking.Quantize(ranking.HotScore(h, p.created)))
	}
	if (mine == 0) != (got.MyRating == nil) || (got.MyRating != nil && *got.MyRating != mine) {
		m.e.t.Fatalf("post %s my_rating %v, want %d", got.ID, got.MyRating, mine)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

type ranked struct {
	id    string
	score float64
}

// board computes a post board from the model: kind top, hot or new, over
// ready posts (with tag, if given), best first, ties by id, newer first.
func (m *model) board(kind, tag string) []ranked {
	var out []ranked
	var ids []int64
	for _, p := range m.posts {
		if p.status == "ready" && (tag == "" || slices.Contains(p.tags, tag)) {
			ids = append(ids, p.id)
		}
	}
	for _, id := range ids {
		p := m.posts[strconv.FormatInt(id, 10)]
		var s float64
		switch kind {
		case "top":
			s = ranking.Quantize(ranking.TopScore(p.h))
		case "hot":
			s = ranking.Quantize(ranking.HotScore(p.h, p.created))
		case "new":
			s = float64(p.id)
		}
		out = append(out, ranked{strconv.FormatInt(id, 10), s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		a, _ := strconv.ParseInt(out[i].id, 10, 64)
		b, _ := strconv.ParseInt(out[j].id, 10, 64)
		return a > b
	})
	return out
}

// creators computes the creators board: laughs on ready and culled posts.
func (m *model) creators() []ranked {
	laughs := map[string]int64{}
	for _, p := range m.posts {
		if p.status == "ready" || p.status == "culled" {
			laughs[p.author] += p.h.Sum()
		}
	}
	var out []ranked
	for who, l := range laughs {
		if l > 0 {
			out = append(out, ranked{who, float64(l)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return m.uid[out[i].id] > m.uid[out[j].id]
	})
	return out
}

// fetchBoard reads a whole board (one page of up to 100).
func (m *model) fetchBoard(c *client, path string) boardPage {
	m.e.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var page boardPage
	c.get(path + sep + "limit=100").want(200).json(&page)
	return page
}

// wantBoard asserts a board read over HTTP equals want, with ranks and
// scores.
func (m *model) wantBoard(c *client, path string, want []ranked) {
	m.e.t.Helper()
	page := m.fetchBoard(c, path)
	var got []ranked
	for i, it := range page.Items {
		if it.Rank != i+1 {
			m.e.t.Fatalf("%s: item %d has rank %d", path, i, it.Rank)
		}
		switch {
		case it.Post != nil:
			got = append(got, ranked{it.Post.ID, it.Score})
			if m.posts[it.Post.ID] == nil {
				m.e.t.Fatalf("%s: post %s is not the test's", path, it.Post.ID)
			}
			m.checkPost(*it.Post, 0) // read anonymously
		case it.Creator != nil:
			if float64(it.Creator.Laughs) != it.Score {
				m.e.t.Fatalf("%s: creator %s laughs %d, score %v", path, it.Creator.Username, it.Creator.Laughs, it.Score)
			}
			got = append(got, ranked{it.Creator.Username, it.Score})
		default:
			m.e.t.Fatalf("%s: item %d has neither post nor creator", path, i)
		}
	}
	if page.NextCursor != nil {
		m.e.t.Fatalf("%s: a next page after %d items", path, len(got))
	}
	if !slices.Equal(got, want) {
		m.e.t.Fatalf("%s:\n got %v\nwant %v", path, got, want)
	}
}

// wantList asserts GET /posts?… lists want's posts in order.
func (m *model) wantList(c *client, path string, want []ranked) {
	m.e.t.Helper()
	var list struct {
		Items      []ratedPost `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}
	c.get(path + "&limit=100").want(200).json(&list)
	var got, ids []string
	for _, p := range list.Items {
		got = append(got, p.ID)
		m.checkPost(p, 0)
	}
	for _, r := range want {
		ids = append(ids, r.id)
	}
	if !slices.Equal(got, ids) || list.NextCursor != nil {
		m.e.t.Fatalf("%s:\n got %v\nwant %v", path, got, ids)
	}
}

// checkAll compares every board (and the ranked post lists) with the model.
func (m *model) checkAll(c *client) {
	m.e.t.Helper()
	top := m.board("top", "")
	m.wantBoard(c, "/api/v1/leaderboards/top", top)
	m.wantBoard(c, "/api/v1/leaderboards/top?window=all", top)
	m.wantBoard(c, "/api/v1/leaderboards/top?window=day", top) // every post is from today
	m.wantBoard(c, "/api/v1/leaderboards/top?window=week", top)
	m.wantBoard(c, "/api/v1/leaderboards/hot", m.board("hot", ""))
	m.wantBoard(c, "/api/v1/leaderboards/new", m.board("new", ""))
	m.wantBoard(c, "/api/v1/leaderboards/tag:cats", m.board("top", "cats"))
	m.wantBoard(c, "/api/v1/leaderboards/tag:CATS?sort=hot", m.board("hot", "cats"))
	m.wantBoard(c, "/api/v1/leaderboards/tag:dogs?sort=top", m.board("top", "dogs"))
	m.wantBoard(c, "/api/v1/leaderboards/tag:nosuchtag", nil)
	m.wantBoard(c, "/api/v1/leaderboards/creators", m.creators())
	m.wantList(c, "/api/v1/posts?sort=top", top)
	m.wantList(c, "/api/v1/posts?sort=top&window=day", top)
	m.wantList(c, "/api/v1/posts?sort=hot", m.board("hot", ""))
	m.wantList(c, "/api/v1/posts?sort=top&tag=cats", m.board("top", "cats"))
	m.wantList(c, "/api/v1/posts?sort=hot&tag=cats", m.board("hot", "cats"))
}

func (e *env) waitRanked() {
	e.t.Helper()
	e.eventually("the boards are built", func() bool { return e.rank.Ready(context.Background()) })
}

func TestRating_RateChangeWithdraw(t *testing.T) {
	e := newEnv(t)
	m := newModel(e)
	amy, bob, cat, dan := e.signup("amy"), e.signup("bob"), e.signup("cat"), e.signup("dan")
	a1 := m.add(amy, "amy", "cats")
	a2 := m.add(amy, "amy")
	m.add(bob, "bob")
	e.waitRanked()

	p := m.rate(cat, "cat", a1, 5)
	if p.Stats.Count != 1 || p.Stats.Average != 5 || p.Stats.Histogram["5"] != 1 || *p.MyRating != 5 {
		t.Fatalf("%+v", p)
	}
	// The best-rated post leads top (all, day, week); everything is ranked.
	if p.Ranks["top"] != 1 || p.Ranks["top_day"] != 1 || p.Ranks["top_week"] != 1 || p.Ranks["hot"] < 1 {
		t.Fatalf("ranks %v", p.Ranks)
	}
	m.rate(cat, "cat", a1, 5) // the same again: fine, nothing changes
	p = m.rate(cat, "cat", a1, 2)
	if p.Stats.Histogram["2"] != 1 || p.Stats.Histogram["5"] != 0 || p.Ranks["top"] == 1 {
		t.Fatalf("after a change to 2: %+v", p)
	}
	m.rate(dan, "dan", a1, 4)
	m.rate(dan, "dan", a2, 3)
	p = m.rate(cat, "cat", a1, 0) // withdraw
	if p.MyRating != nil || p.Stats.Count != 1 || p.Stats.Histogram["4"] != 1 {
		t.Fatalf("after withdrawing: %+v", p)
	}
	m.rate(cat, "cat", a1, 0) // nothing to withdraw: fine

	// Everyone sees the stats; only the rater sees my_rating.
	var got ratedPost
	dan.get("/api/v1/posts/" + a1).want(200).json(&got)
	m.checkPost(got, 4)
	e.client().get("/api/v1/posts/" + a1).want(200).json(&got)
	m.checkPost(got, 0)
	cat.get("/api/v1/posts/" + a1).want(200).json(&got)
	m.checkPost(got, 0)
	if n := e.count(`SELECT count(*) FROM ratings`); n != 2 {
		t.Fatalf("%d ratings stored, want 2", n)
	}
	m.checkAll(e.client())
}

func TestRating_Rules(t *testing.T) {
	e := newEnv(t)
	m := newModel(e)
	amy, cat, dan := e.signup("amy"), e.signup("cat"), e.signup("dan")
	zoe := e.signup("zoe")
	if _, err := e.db.Exec(context.Background(), `UPDATE users SET is_admin = true WHERE username = 'zoe'`); err != nil {
		t.Fatal(err)
	}
	a1 := m.add(amy, "amy")
	culled := m.add(amy, "amy")
	removed := m.add(amy, "amy")
	e.waitRanked()
	m.rate(cat, "cat", culled, 5)
	m.rate(cat, "cat", removed, 4)

	put := func(c *client, id string, body any) *resp {
		t.Helper()
		return c.do("PUT", "/api/v1/posts/"+id+"/rating", body)
	}
	// Own post, bad stars, no account, no such post.
	if code := put(amy, a1, map[string]int{"stars": 5}).want(403).errCode(); code != "forbidden" {
		t.Fatalf("own post: %s", code)
	}
	for _, body := range []any{map[string]int{"stars": 0}, map[string]int{"stars": 6}, map[string]int{"stars": -1},
		map[string]any{}, map[string]any{"stars": nil}} {
		r := put(cat, a1, body).want(400)
		if r.errCode() != "invalid" || r.field("stars") == "" {
			t.Fatalf("%v: %s", body, r.Body)
		}
	}
	put(cat, a1, map[string]any{"stars": 4.5}).want(400)
	put(cat, a1, map[string]any{"stars": "5"}).want(400)
	put(cat, a1, "not json").want(400)
	put(e.client(), a1, map[string]int{"stars": 5}).want(401)
	e.client().do("DELETE", "/api/v1/posts/"+a1+"/rating", nil).want(401)
	put(cat, "999999", map[string]int{"stars": 5}).want(404)
	cat.do("DELETE", "/api/v1/posts/999999/rating", nil).want(404)
	put(cat, "abc", map[string]int{"stars": 5}).want(404)

	// A post still processing is not there yet.
	img := amy.newPost(jpegOf(64, 64, 3), "x.jpg", "caption", "pic").want(201).post()
	if img.Status != "processing" {
		t.Fatalf("%+v", img)
	}
	put(cat, img.ID, map[string]int{"stars": 5}).want(404)

	// Culled (by the cull, here by hand) and removed (by a moderator) posts
	// cannot be rated any more: 409.
	if _, err := e.db.Exec(context.Background(), `UPDATE posts SET status = 'culled' WHERE id = $1`, culled); err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(culled, 10, 64)
	e.rank.PostChanged(context.Background(), id)
	m.posts[culled].status = "culled"
	zoe.post("/api/v1/admin/posts/"+removed+"/remove", map[string]string{"reason": "rule 3"}).want(200)
	m.posts[removed].status = "removed"
	for _, p := range []string{culled, removed} {
		if code := put(dan, p, map[string]int{"stars": 5}).want(409).errCode(); code != "conflict" {
			t.Fatalf("rating a %s post: %s", m.posts[p].status, code)
		}
		if code := put(cat, p, map[string]int{"stars": 1}).want(409).errCode(); code != "conflict" {
			t.Fatalf("changing a rating of a %s post: %s", m.posts[p].status, code)
		}
	}
	if n := e.count(`SELECT count(*) FROM ratings WHERE stars = 5 AND post_id = $1`, id); n != 1 {
		t.Fatalf("the culled post's rating changed")
	}
	// Withdrawing from a culled post: a rating that is there goes; none is 409.
	dan.do("DELETE", "/api/v1/posts/"+culled+"/rating", nil).want(409)
	cat.do("DELETE", "/api/v1/posts/"+culled+"/rating", nil).want(200)
	m.posts[culled].h = ranking.Histogram{}
	m.stars["cat/"+culled] = 0
	if n := e.count(`SELECT count(*) FROM ratings WHERE post_id = $1`, id); n != 0 {
		t.Fatalf("withdrawn rating still there")
	}
	if n := e.count(`SELECT count(*) FROM ratings`); n != 1 {
		t.Fatalf("%d ratings; only cat's on the removed post should be left", n)
	}
	m.checkAll(e.client())
}

func TestRating_Leaderboards(t *testing.T) {
	e := newEnv(t)
	m := newModel(e)
	amy, bob := e.signup("amy"), e.signup("bob")
	raters := map[string]*client{}
	for _, n := range []string{"cat", "dan", "eve", "fay", "gus"} {
		raters[n] = e.signup(n)
	}
	a1 := m.add(amy, "amy", "cats")
	a2 := m.add(amy, "amy", "cats", "dogs")
	a3 := m.add(amy, "amy")
	b1 := m.add(bob, "bob", "cats")
	b2 := m.add(bob, "bob", "dogs")
	m.add(bob, "bob") // never rated
	e.waitRanked()
	for _, r := range []struct {
		who, post string
		stars     int
	}{
		{"cat", a1, 5}, {"dan", a1, 5}, {"eve", a1, 5},
		{"cat", a2, 4}, {"dan", a2, 5},
		{"cat", a3, 1}, {"dan", a3, 1}, {"eve", a3, 2},
		{"cat", b1, 3}, {"fay", b1, 4}, {"gus", b1, 5},
		{"eve", b2, 2},
		{"dan", a2, 3}, // a change
		{"eve", a3, 0}, // a withdrawal
	} {
		m.rate(raters[r.who], r.who, r.post, r.stars)
	}
	c := e.client()
	m.checkAll(c)
	if top := m.board("top", ""); top[0].id != a1 || top[len(top)-1].id != a3 {
		t.Fatalf("the test data should put a1 first and a3 last on top: %v", top)
	}
	if cr := m.creators(); len(cr) != 2 || cr[0].id != "amy" {
		t.Fatalf("creators %v", cr)
	}

	// Paging by position.
	top := m.board("top", "")
	var page boardPage
	c.get("/api/v1/leaderboards/top?limit=2").want(200).json(&page)
	if len(page.Items) != 2 || page.NextCursor == nil || *page.NextCursor != "2" || page.Items[1].Post.ID != top[1].id {
		t.Fatalf("first page %+v", page)
	}
	c.get("/api/v1/leaderboards/top?limit=2&cursor=" + *page.NextCursor).want(200).json(&page)
	if len(page.Items) != 2 || page.Items[0].Rank != 3 || page.Items[0].Post.ID != top[2].id {
		t.Fatalf("second page %+v", page)
	}
	c.get("/api/v1/posts?sort=top&limit=2&cursor=2").want(200)

	// Bad boards and windows.
	for _, path := range []string{"/api/v1/leaderboards/sideways", "/api/v1/leaderboards/top?window=year",
		"/api/v1/leaderboards/tag:cats?sort=new", "/api/v1/leaderboards/tag:", "/api/v1/leaderboards/tag:no%20spaces",
		"/api/v1/posts?sort=top&window=year", "/api/v1/leaderboards/top?cursor=x", "/api/v1/leaderboards/top?cursor=100001",
		"/api/v1/posts?sort=hot&cursor=100001"} {
		if code := c.get(path).want(400).errCode(); code != "invalid" {
			t.Fatalf("%s: %s", path, code)
		}
	}

	// Profiles carry the author's numbers.
	for _, who := range []string{"amy", "bob"} {
		var prof struct {
			Stats struct {
				Posts          int64 `json:"posts"`
				LaughsReceived int64 `json:"laughs_received"`
				BestRank       *int  `json:"best_rank"`
			} `json:"stats"`
		}
		c.get("/api/v1/profiles/" + who).want(200).json(&prof)
		var posts, laughs int64
		best := 0
		for i, r := range top {
			if m.posts[r.id].author == who && best == 0 {
				best = i + 1
			}
		}
		for _, p := range m.posts {
			if p.author == who {
				posts++
				laughs += p.h.Sum()
			}
		}
		if prof.Stats.Posts != posts || prof.Stats.LaughsReceived != laughs || prof.Stats.BestRank == nil || *prof.Stats.BestRank != best {
			t.Fatalf("%s: stats %+v (best rank %v), want posts %d laughs %d best rank %d", who, prof.Stats,
				deref(prof.Stats.BestRank), posts, laughs, best)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// While Redis is flushed and rebuilt, boards are read from PostgreSQL: never
// a 5xx, never empty, and in the same order.
func TestRating_BoardsWhileRedisFlushed(t *testing.T) {
	srv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := newEnv(t, func(c *config.Config) {
		c.RedisURL = "redis://" + srv.Addr + "/0"
		c.RateIP = ratelimit.Rule{} // the background reader is busy
	})
	m := newModel(e)
	amy, bob := e.signup("amy"), e.signup("bob")
	names := []string{"cat", "dan", "eve", "fay", "gus", "hal"}
	raters := map[string]*client{}
	for _, n := range names {
		raters[n] = e.signup(n)
	}
	var ids []string
	for i := range 8 {
		if i%2 == 0 {
			ids = append(ids, m.add(amy, "amy", "cats"))
		} else {
			ids = append(ids, m.add(bob, "bob"))
		}
	}
	e.waitRanked()
	for i, n := range names {
		m.rate(raters[n], n, ids[i%len(ids)], 1+i%5)
	}

	// A reader in the background: every answer must be a full board.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	reads := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		hc := &http.Client{Timeout: 30 * time.Second}
		for {
			for _, path := range []string{"/api/v1/leaderboards/top?limit=50", "/api/v1/leaderboards/hot?limit=50",
				"/api/v1/leaderboards/new?limit=50", "/api/v1/posts?sort=top&limit=50", "/api/v1/leaderboards/creators"} {
				select {
				case <-stop:
					return
				default:
				}
				want := len(ids)
				if strings.Contains(path, "creators") {
					want = 2
				}
				n, status, err := countItems(hc, e.base+path)
				mu.Lock()
				reads++
				if err != nil || status != 200 || n != want {
					bad = append(bad, fmt.Sprintf("%s: status %d, %d items (want %d), %v", path, status, n, want, err))
				}
				mu.Unlock()
			}
		}
	}()

	c := e.client()
	ctx := context.Background()
	for round := range 5 {
		for i, n := range names {
			m.rate(raters[n], n, ids[(i+round*3)%len(ids)], 1+(i*round)%5)
		}
		if err := e.rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// Straight after the flush (from PostgreSQL, or the rebuild)...
		m.checkAll(c)
		// ... while ratings go on ...
		m.rate(raters["cat"], "cat", ids[round], 5)
		m.checkAll(c)
		// ... and once the boards are rebuilt.
		e.waitRanked()
		m.checkAll(c)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d background board reads were wrong, e.g.:\n%s", len(bad), reads, strings.Join(bad[:min(10, len(bad))], "\n"))
	}
	t.Logf("%d background board reads", reads)
}

// countItems GETs a list and counts its items (no test helpers: it runs on
// another goroutine).
func countItems(hc *http.Client, url string) (int, int, error) {
	res, err := hc.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	var v struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		return 0, res.StatusCode, err
	}
	return len(v.Items), res.StatusCode, nil
}
