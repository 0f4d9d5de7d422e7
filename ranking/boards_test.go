package ranking

// Integration tests of the boards against real PostgreSQL and Redis: many
// users rate concurrently, then every board in Redis, and every board read
// from PostgreSQL, must equal a ranking this file computes on its own from
// the ratings table with the package's pure score functions.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// fixture is a Service on a fresh database and its own Redis key space.
type fixture struct {
	t      *testing.T
	db     *pgxpool.Pool
	rdb    redis.UniversalClient
	prefix string
	s      *Service
	heard  *Memory
	nUsers int
}

// newFixture starts a Service (its rating writers) on a fresh database.
// rdb nil means a Redis database of the test's own on the shared server.
func newFixture(t *testing.T, rdb redis.UniversalClient, prefix string) *fixture {
	t.Helper()
	return newCappedFixture(t, rdb, prefix, 0)
}

// newCappedFixture is newFixture with post boards capped at k posts (0:
// the default cap).
func newCappedFixture(t *testing.T, rdb redis.UniversalClient, prefix string, k int) *fixture {
	t.Helper()
	db, _ := testkit.Pool(t)
	if rdb == nil {
		rdb, _, prefix = testkit.Redis(t)
	}
	f := &fixture{t: t, db: db, rdb: rdb, prefix: prefix, heard: &Memory{}}
	f.s = New(db, rdb, prefix, f.heard)
	if k > 0 {
		f.s.SetBoardCap(k)
	}
	f.s.Start()
	t.Cleanup(f.s.Stop)
	return f
}

// users inserts n accounts and returns their ids.
func (f *fixture) users(n int) []int64 {
	f.t.Helper()
	rows, err := f.db.Query(context.Background(), `INSERT INTO users (username, email, password_hash)
		SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series($1::int, $2::int) g RETURNING id`,
		f.nUsers+1, f.nUsers+n)
	if err != nil {
		f.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		f.t.Fatal(err)
	}
	f.nUsers += n
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// post inserts a text post directly (as the posts package would, minus
// the ranking call) and returns its id.
func (f *fixture) post(author int64, created time.Time, status string, tags ...string) int64 {
	f.t.Helper()
	ctx := context.Background()
	var id int64
	if err := f.db.QueryRow(ctx, `INSERT INTO posts (author_id, kind, status, caption, created_at, updated_at)
		VALUES ($1, 'text', $2, 'a joke', $3, $3) RETURNING id`, author, status, created).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	for _, tag := range tags {
		if _, err := f.db.Exec(ctx, `INSERT INTO post_tags (post_id, tag) VALUES ($1, $2)`, id, tag); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

// placed is what Redis records of post id: the version last applied and
// the boards it put the post on.
func (f *fixture) placed(id int64) (string, []string) {
	f.t.Helper()
	v, err := f.rdb.HGet(context.Background(), f.s.k.versions(), strconv.FormatInt(id, 10)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	} else if err != nil {
		f.t.Fatal(err)
	}
	w := strings.Fields(v)
	return w[0], w[1:]
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatal(err)
	}
}

// rate rates and fails the test on error.
func (f *fixture) rate(post, user int64, stars int) Stats {
	f.t.Helper()
	st, err := f.s.Rate(context.Background(), post, user, stars)
	if err != nil {
		f.t.Fatalf("rate post %d by %d with %d: %v", post, user, stars, err)
	}
	return st
}

// ---------------------------------------------------------------------------
// The truth, computed independently from PostgreSQL.

// zEntry is a board member and its stored Redis score.
type zEntry struct {
	ID    int64
	Score float64
}

type truth struct {
	hist   map[int64]Histogram // every post, from the ratings table
	boards map[string][]zEntry // every non-empty board, best first
	laughs map[int64]int64     // creators with laughs
}

// isoDay and isoWeek name the UTC day and ISO week windows (computed here,
// not with the package's helpers).
func isoDay(t time.Time) string { return t.UTC().Format("2006-01-02") }
func isoWeek(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// truth computes every board from PostgreSQL: histograms from the ratings
// rows (not posts.h*), scores with the pure functions, ties by id (newer
// first). It also asserts that posts.h* and the stored scores agree.
func (f *fixture) truth() truth {
	f.t.Helper()
	ctx := context.Background()
	tr := truth{hist: map[int64]Histogram{}, boards: map[string][]zEntry{}, laughs: map[int64]int64{}}
	rows, err := f.db.Query(ctx, `SELECT post_id, stars, count(*) FROM ratings GROUP BY post_id, stars`)
	if err != nil {
		f.t.Fatal(err)
	}
	var post, n int64
	var stars int
	if _, err := pgx.ForEachRow(rows, []any{&post, &stars, &n}, func() error {
		h := tr.hist[post]
		h[stars-1] = n
		tr.hist[post] = h
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	type info struct {
		id, author int64
		status     string
		created    time.Time
		stored     Histogram
		top, hot   *float64
		tags       []string
	}
	rows, err = f.db.Query(ctx, `SELECT p.id, p.author_id, p.status, p.created_at, p.h1, p.h2, p.h3, p.h4, p.h5,
		p.score_top, p.score_hot, coalesce((SELECT array_agg(tag) FROM post_tags t WHERE t.post_id = p.id), '{}')
		FROM posts p ORDER BY p.id`)
	if err != nil {
		f.t.Fatal(err)
	}
	posts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (info, error) {
		var p info
		err := r.Scan(&p.id, &p.author, &p.status, &p.created, &p.stored[0], &p.stored[1], &p.stored[2], &p.stored[3], &p.stored[4],
			&p.top, &p.hot, &p.tags)
		return p, err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	type ranked struct {
		id int64
		q  float64 // quantised score (or the id for "new")
		z  float64 // stored Redis score
	}
	lists := map[string][]ranked{}
	add := func(board string, id int64, q, z float64) {
		lists[board] = append(lists[board], ranked{id, q, z})
	}
	for _, p := range posts {
		h := tr.hist[p.id]
		tr.hist[p.id] = h
		if p.stored != h {
			f.t.Errorf("post %d: posts.h1..h5 = %v, but its ratings give %v", p.id, p.stored, h)
		}
		if p.status == "ready" || p.status == "culled" {
			if l := h.Sum(); l > 0 {
				tr.laughs[p.author] += l
			}
		}
		if p.status != "ready" {
			continue
		}
		top, hot := TopScore(h), HotScore(h, p.created)
		if p.top == nil || p.hot == nil || *p.top != Quantize(top) || *p.hot != Quantize(hot) {
			f.t.Errorf("post %d: stored scores (top %v, hot %v), want (%v, %v)", p.id, deref(p.top), deref(p.hot), Quantize(top), Quantize(hot))
		}
		add("hot", p.id, Quantize(hot), BoardScore(hot, p.id))
		add("new", p.id, float64(p.id), float64(p.id))
		for _, b := range []string{"top:all", "top:day:" + isoDay(p.created), "top:week:" + isoWeek(p.created)} {
			add(b, p.id, Quantize(top), BoardScore(top, p.id))
		}
		for _, tag := range p.tags {
			add("tag:"+tag+":top", p.id, Quantize(top), BoardScore(top, p.id))
			add("tag:"+tag+":hot", p.id, Quantize(hot), BoardScore(hot, p.id))
		}
	}
	for author, l := range tr.laughs {
		add("creators", author, float64(l), CreatorScore(l, author))
	}
	for b, l := range lists {
		sort.Slice(l, func(i, j int) bool {
			if l[i].q != l[j].q {
				return l[i].q > l[j].q
			}
			return l[i].id > l[j].id
		})
		out := make([]zEntry, len(l))
		for i, r := range l {
			out[i] = zEntry{r.id, r.z}
		}
		tr.boards[b] = out
	}
	return tr
}

// inRedis is the truth's boards that Redis holds (the new board is
// PostgreSQL's alone).
func (tr truth) inRedis() map[string][]zEntry {
	out := make(map[string][]zEntry, len(tr.boards))
	for b, l := range tr.boards {
		if !fromPostgresOnly(b) {
			out[b] = l
		}
	}
	return out
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// display is the score Board returns for an entry of board b.
func display(b string, z zEntry) float64 {
	switch {
	case b == "creators":
		return float64(int64(z.Score) >> CreatorTieBits)
	case b == "new":
		return z.Score
	}
	q, _ := SplitBoardScore(z.Score)
	return q
}

// redisBoards reads every board key under the prefix.
func (f *fixture) redisBoards() (map[string][]zEntry, error) {
	ctx := context.Background()
	out := map[string][]zEntry{}
	var cursor uint64
	for {
		ks, next, err := f.rdb.Scan(ctx, cursor, f.prefix+"board:*", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			zs, err := f.rdb.ZRevRangeWithScores(ctx, k, 0, -1).Result()
			if err != nil {
				return nil, err
			}
			l := make([]zEntry, len(zs))
			for i, z := range zs {
				id, err := strconv.ParseInt(z.Member.(string), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: member %q", k, z.Member)
				}
				l[i] = zEntry{id, z.Score}
			}
			if len(l) > 0 {
				out[strings.TrimPrefix(k, f.prefix+"board:")] = l
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// diffBoards describes how got differs from want ("" if equal).
func diffBoards(want, got map[string][]zEntry) string {
	var names []string
	for b := range want {
		names = append(names, b)
	}
	for b := range got {
		if _, ok := want[b]; !ok {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	var d []string
	for _, b := range names {
		if !slices.Equal(want[b], got[b]) {
			d = append(d, fmt.Sprintf("board %s:\n  want %v\n  got  %v", b, clip(want[b]), clip(got[b])))
		}
	}
	return strings.Join(d, "\n")
}

func clip(l []zEntry) string {
	s := fmt.Sprint(l)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// checkRedis asserts every board in Redis equals the truth above its
// floor (see capDiff).
func (f *fixture) checkRedis(tr truth) {
	f.t.Helper()
	if d := f.capDiff(tr); d != "" {
		f.t.Fatalf("Redis boards differ from PostgreSQL:\n%s", d)
	}
}

// checkRead asserts that Board returns every board of the truth in order,
// with display scores, whole and paged (from Redis or PostgreSQL, whichever
// Board picks).
func (f *fixture) checkRead(tr truth, from string) {
	f.t.Helper()
	ctx := context.Background()
	for b, want := range tr.boards {
		got, more, err := f.s.Board(ctx, b, 0, len(want)+5)
		if err != nil {
			f.t.Fatalf("%s: Board(%s): %v", from, b, err)
		}
		if more || len(got) != len(want) {
			f.t.Fatalf("%s: Board(%s) gave %d entries (more %v), want %d", from, b, len(got), more, len(want))
		}
		for i, e := range got {
			if e.ID != want[i].ID || e.Rank != i+1 || e.Score != display(b, want[i]) {
				f.t.Fatalf("%s: Board(%s)[%d] = %+v, want id %d rank %d score %v\n got %v\nwant %v",
					from, b, i, e, want[i].ID, i+1, display(b, want[i]), got, want)
			}
		}
		if len(want) > 4 { // a middle page
			page, more, err := f.s.Board(ctx, b, 2, 2)
			if err != nil || !more || len(page) != 2 || page[0].ID != want[2].ID || page[1].ID != want[3].ID || page[0].Rank != 3 {
				f.t.Fatalf("%s: Board(%s, 2, 2) = %v, %v, %v; want ids %d, %d and more", from, b, page, more, err, want[2].ID, want[3].ID)
			}
		}
	}
	if got, more, err := f.s.Board(ctx, "tag:nosuchtag:top", 0, 10); err != nil || more || len(got) != 0 {
		f.t.Fatalf("%s: an unknown tag's board: %v, %v, %v", from, got, more, err)
	}
}

// ---------------------------------------------------------------------------
// Concurrent rating load.

// rater records what the raters were told: the last acknowledged rating of
// each (user, post), 0 once withdrawn.
type rater struct {
	f        *fixture
	authorOf map[int64]int64
	closed   map[int64]bool // culled or removed: rating is refused
	mu       sync.Mutex
	last     map[[2]int64]int
	unknown  map[[2]int64]bool // a call failed unexpectedly: outcome unknown
	bad      []string
	acked    atomic.Int64
}

func newRater(f *fixture, authorOf map[int64]int64, closed map[int64]bool) *rater {
	return &rater{f: f, authorOf: authorOf, closed: closed, last: map[[2]int64]int{}, unknown: map[[2]int64]bool{}}
}

// seed records ratings made before the load.
func (r *rater) seed(user, post int64, stars int) {
	r.last[[2]int64{user, post}] = stars
}

// one makes one rating (stars 0 withdraws) and checks the answer against the
// rules.
func (r *rater) one(ctx context.Context, user, post int64, stars int) {
	var err error
	if stars == 0 {
		_, err = r.f.s.Withdraw(ctx, post, user)
	} else {
		_, err = r.f.s.Rate(ctx, post, user, stars)
	}
	key := [2]int64{user, post}
	want := ""
	switch {
	case r.closed[post] && stars != 0:
		want = jokster.ECONFLICT
	case r.authorOf[post] == user && stars != 0:
		want = jokster.EFORBIDDEN
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && want == "":
		r.last[key] = stars
		r.acked.Add(1)
	case err != nil && jokster.ErrorCode(err) == want:
	default:
		r.unknown[key] = true
		r.bad = append(r.bad, fmt.Sprintf("user %d post %d stars %d: err %v, want code %q", user, post, stars, err, want))
	}
}

// run lets users rate posts at random until each made perUser calls or
// until stop is closed (perUser 0).
func (r *rater) run(users, posts []int64, perUser int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(u), uint64(i)))
			for n := 0; perUser == 0 || n < perUser; n++ {
				if perUser == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
				p := posts[rnd.IntN(len(posts))]
				stars := 1 + rnd.IntN(5)
				if rnd.IntN(7) == 0 && !r.closed[p] {
					stars = 0
				}
				r.one(context.Background(), u, p, stars)
			}
		}()
	}
	wg.Wait()
}

// check asserts that no call failed unexpectedly and that PostgreSQL holds
// exactly the acknowledged ratings.
func (r *rater) check() {
	t := r.f.t
	t.Helper()
	if len(r.bad) > 0 {
		t.Fatalf("%d unexpected rating answers, e.g.:\n%s", len(r.bad), strings.Join(r.bad[:min(10, len(r.bad))], "\n"))
	}
	rows, err := r.f.db.Query(context.Background(), `SELECT user_id, post_id, stars FROM ratings`)
	if err != nil {
		t.Fatal(err)
	}
	in := map[[2]int64]int{}
	var u, p int64
	var s int
	if _, err := pgx.ForEachRow(rows, []any{&u, &p, &s}, func() error { in[[2]int64{u, p}] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	for k, stars := range r.last {
		if got := in[k]; got != stars {
			t.Errorf("user %d post %d: acknowledged %d stars last, PostgreSQL has %d", k[0], k[1], stars, got)
		}
	}
	for k, stars := range in {
		if _, ok := r.last[k]; !ok {
			t.Errorf("user %d post %d: PostgreSQL has %d stars nobody was told about", k[0], k[1], stars)
		}
	}
}

// world is a set of users and posts for the load tests: authors among the
// raters (so own-post refusals happen), posts over the last ten days (so
// there are several day and week boards), tags, one culled post with
// ratings, one processing post.
type world struct {
	now          time.Time // the posts' "today"
	users, posts []int64
	authorOf     map[int64]int64
	closed       map[int64]bool
	r            *rater
}

func (f *fixture) world(nUsers, nPosts int) *world {
	f.t.Helper()
	now := time.Now()
	w := &world{now: now, users: f.users(nUsers), authorOf: map[int64]int64{}, closed: map[int64]bool{}}
	rnd := rand.New(rand.NewPCG(7, 7))
	tagSets := [][]string{nil, {"cats"}, {"dogs"}, {"cats", "puns"}}
	for i := range nPosts {
		author := w.users[i%5]
		created := now.Add(-time.Duration(rnd.Int64N(int64(10 * 24 * time.Hour))))
		if i < 3 {
			created = now.Add(-time.Duration(i) * time.Minute) // a few today
		}
		id := f.post(author, created, "ready", tagSets[i%len(tagSets)]...)
		w.posts = append(w.posts, id)
		w.authorOf[id] = author
	}
	w.r = newRater(f, w.authorOf, w.closed)
	// A culled post keeps the laughs it earned (creators board) but leaves
	// the post boards and cannot be rated any more.
	culled := f.post(w.users[1], now.Add(-time.Hour), "ready", "cats")
	w.authorOf[culled] = w.users[1]
	for i, u := range w.users[10:14] {
		f.rate(culled, u, 2+i)
		w.r.seed(u, culled, 2+i)
	}
	f.exec(`UPDATE posts SET status = 'culled' WHERE id = $1`, culled)
	f.s.PostChanged(context.Background(), culled)
	w.closed[culled] = true
	w.posts = append(w.posts, culled)
	f.post(w.users[2], now, "processing") // on no board
	return w
}

// ---------------------------------------------------------------------------

func TestConcurrentRatingsBoardsEqualPostgres(t *testing.T) {
	concurrentRatingsBoardsEqualPostgres(t, 0)
}

// The same with post boards capped at 5 posts (the world has 20): the
// boards keep their tops, and reads and ranks below them come from
// PostgreSQL.
func TestConcurrentRatingsCappedBoardsEqualPostgres(t *testing.T) {
	concurrentRatingsBoardsEqualPostgres(t, 5)
}

// concurrentRatingsBoardsEqualPostgres lets many users rate at once, with
// post boards capped at k posts (0: the default), and compares every board
// with the truth.
func concurrentRatingsBoardsEqualPostgres(t *testing.T, k int) {
	f := newCappedFixture(t, nil, "", k)
	ctx := context.Background()
	w := f.world(50, 20)
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.s.Ready(ctx) {
		t.Fatal("not ready after a rebuild")
	}
	f.checkRedis(f.truth())

	w.r.run(w.users, w.posts, 40, nil)
	w.r.check()
	t.Logf("%d ratings acknowledged", w.r.acked.Load())

	tr := f.truth()
	for _, b := range []string{"hot", "top:all", "new", "creators", "tag:cats:top", "tag:cats:hot", "tag:puns:top",
		"top:day:" + isoDay(w.now), "top:week:" + isoWeek(w.now)} {
		if len(tr.boards[b]) == 0 {
			t.Fatalf("board %s is empty in the truth; the test data should fill it", b)
		}
	}
	if len(tr.boards["top:all"]) != 20 || len(tr.boards["creators"]) != 5 {
		t.Fatalf("top:all has %d posts, creators %d people", len(tr.boards["top:all"]), len(tr.boards["creators"]))
	}
	f.checkRedis(tr)
	f.checkRead(tr, "Redis")
	if k > 0 {
		if floors, _ := f.floors(); len(floors) == 0 {
			t.Fatal("no board was capped")
		}
		f.checkRanks(tr)
	}

	// Reads from PostgreSQL (what readers get while Redis rebuilds) order
	// the same way.
	if err := f.rdb.Del(ctx, f.s.k.ready()).Err(); err != nil {
		t.Fatal(err)
	}
	if f.s.Ready(ctx) {
		t.Fatal("still ready without the marker")
	}
	f.checkRead(tr, "PostgreSQL")

	// A rebuild over complete boards changes nothing.
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	f.checkRedis(tr)
	f.checkRead(tr, "Redis after rebuild")

	// Announcements: each post's last version was announced with its
	// final statistics, and no version twice.
	events, boards := f.heard.Snapshot()
	seen := map[[2]int64]bool{}
	maxV := map[int64]StatsEvent{}
	for _, e := range events {
		k := [2]int64{e.Post, e.Version}
		if seen[k] {
			t.Fatalf("post %d version %d announced twice", e.Post, e.Version)
		}
		seen[k] = true
		if e.Version > maxV[e.Post].Version {
			maxV[e.Post] = e
		}
	}
	for _, id := range w.posts[:20] {
		var v int64
		if err := f.db.QueryRow(ctx, `SELECT rank_version FROM posts WHERE id = $1`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		e := maxV[id]
		h := tr.hist[id]
		if e.Version != v || e.Stats.Histogram != h || e.Stats.Top != Quantize(TopScore(h)) || e.Stats.Version != v {
			t.Fatalf("post %d: last announcement %+v, want version %d histogram %v", id, e, v, h)
		}
	}
	for _, b := range []string{"hot", "top:all", "creators", "tag:cats:top"} {
		if boards[b] == 0 {
			t.Fatalf("board %s changed but was never announced: %v", b, boards)
		}
	}
}

func TestVersionGuard(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(4)
	p := f.post(u[0], time.Now(), "ready", "cats")
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	f.rate(p, u[1], 5)
	f.rate(p, u[2], 4)
	rows, err := loadRows(ctx, f.db, []int64{p})
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	cur := rows[0]
	if cur.version < 3 {
		t.Fatalf("version %d after two ratings", cur.version)
	}

	snapshot := func() map[string]any {
		t.Helper()
		out := map[string]any{}
		for _, b := range place(cur).boards {
			s, err := f.rdb.ZScore(ctx, f.s.k.board(b), strconv.FormatInt(p, 10)).Result()
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			out[b] = s
		}
		v, m := f.placed(p)
		sort.Strings(m)
		out["members"] = strings.Join(m, ",")
		out["version"] = v
		c, _ := f.rdb.ZScore(ctx, f.s.k.board("creators"), strconv.FormatInt(u[0], 10)).Result()
		out["creators"] = c
		return out
	}
	before := snapshot()
	if before["version"] != strconv.FormatInt(cur.version, 10) {
		t.Fatalf("Redis holds version %v, PostgreSQL %d", before["version"], cur.version)
	}
	events, _ := f.heard.Snapshot()

	older := cur
	older.version = cur.version - 1
	older.hist = Histogram{9, 0, 0, 0, 0} // a very different score
	older.tags = []string{"dogs"}
	gone := cur
	gone.version = cur.version - 1
	gone.status = "removed"
	same := cur
	same.hist = Histogram{0, 0, 0, 0, 7}
	for _, stale := range []postRow{older, gone, same} {
		if err := f.s.apply(ctx, []postRow{stale}, true); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("applying version %d (%s) after %d changed Redis:\nbefore %v\nafter  %v", stale.version, stale.status, cur.version, before, after)
		}
		if n, _ := f.rdb.Exists(ctx, f.s.k.board("tag:dogs:top")).Result(); n != 0 {
			t.Fatal("a stale update put the post on a board")
		}
	}
	if after, _ := f.heard.Snapshot(); len(after) != len(events) {
		t.Fatalf("stale updates were announced: %v", after[len(events):])
	}

	// The stored scores (the PostgreSQL fallback's order) are guarded the
	// same way: scores computed from an older version never overwrite
	// newer ones.
	if err := f.s.storeScores(ctx, []postRow{older}); err != nil {
		t.Fatal(err)
	}
	var top, hot float64
	if err := f.db.QueryRow(ctx, `SELECT score_top, score_hot FROM posts WHERE id = $1`, p).Scan(&top, &hot); err != nil {
		t.Fatal(err)
	}
	if top != Quantize(TopScore(cur.hist)) || hot != Quantize(HotScore(cur.hist, cur.created)) {
		t.Fatalf("stored scores (%v, %v) after storing an older version; want (%v, %v)", top, hot,
			Quantize(TopScore(cur.hist)), Quantize(HotScore(cur.hist, cur.created)))
	}

	// The current version from PostgreSQL is a no-op too; a newer one applies.
	if err := f.s.syncIDs(ctx, []int64{p}, true); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("re-applying the current version changed Redis:\nbefore %v\nafter  %v", before, after)
	}
	f.rate(p, u[3], 1)
	after := snapshot()
	if after["top:all"] == before["top:all"] || after["version"] == before["version"] {
		t.Fatalf("a newer rating did not apply: %v → %v", before, after)
	}
	f.checkRedis(f.truth())
}

func TestRatingRules(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(3)
	author, alice, bob := u[0], u[1], u[2]
	p := f.post(author, time.Now(), "ready")
	processing := f.post(author, time.Now(), "processing")
	failed := f.post(author, time.Now(), "failed")
	culled := f.post(author, time.Now(), "culled")
	removed := f.post(author, time.Now(), "removed")
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}

	code := func(err error) string {
		if err == nil {
			return ""
		}
		var e *jokster.Error
		if !errors.As(err, &e) {
			t.Fatalf("not a jokster error: %v", err)
		}
		return jokster.ErrorCode(err)
	}
	for _, c := range []struct {
		what        string
		post, user  int64
		stars, want int
		code        string
	}{
		{"own post", p, author, 5, 0, jokster.EFORBIDDEN},
		{"processing post", processing, alice, 5, 0, jokster.ENOTFOUND},
		{"failed post", failed, alice, 5, 0, jokster.ENOTFOUND},
		{"culled post", culled, alice, 5, 0, jokster.ECONFLICT},
		{"removed post", removed, alice, 5, 0, jokster.ECONFLICT},
		{"no such post", 1 << 40, alice, 5, 0, jokster.ENOTFOUND},
		{"zero stars", p, alice, 0, 0, jokster.EINVALID},
		{"six stars", p, alice, 6, 0, jokster.EINVALID},
		{"negative stars", p, alice, -1, 0, jokster.EINVALID},
	} {
		_, err := f.s.Rate(ctx, c.post, c.user, c.stars)
		if got := code(err); got != c.code {
			t.Errorf("%s: error %v (code %q), want code %q", c.what, err, got, c.code)
		}
	}
	if n := count(t, f.db, `SELECT count(*) FROM ratings`); n != 0 {
		t.Fatalf("%d ratings written by refused calls", n)
	}

	st := f.rate(p, alice, 4)
	if st.Histogram != (Histogram{0, 0, 0, 1, 0}) || st.Count() != 1 {
		t.Fatalf("stats after one 4: %+v", st)
	}
	again := f.rate(p, alice, 4) // unchanged: not an error, nothing changes
	if again != st {
		t.Fatalf("unchanged rating changed the stats: %+v → %+v", st, again)
	}
	st = f.rate(p, alice, 2) // changed
	if st.Histogram != (Histogram{0, 1, 0, 0, 0}) || st.Version <= again.Version {
		t.Fatalf("stats after changing to 2: %+v", st)
	}
	st = f.rate(p, bob, 5)
	if st.Histogram != (Histogram{0, 1, 0, 0, 1}) {
		t.Fatalf("stats after bob's 5: %+v", st)
	}
	st, err := f.s.Withdraw(ctx, p, alice)
	if err != nil || st.Histogram != (Histogram{0, 0, 0, 0, 1}) {
		t.Fatalf("withdraw: %+v, %v", st, err)
	}
	st2, err := f.s.Withdraw(ctx, p, alice) // nothing to withdraw: fine
	if err != nil || st2 != st {
		t.Fatalf("second withdraw: %+v, %v", st2, err)
	}
	if _, err := f.s.Withdraw(ctx, p, author); err != nil {
		t.Fatalf("the author withdrawing nothing: %v", err)
	}
	if _, err := f.s.Withdraw(ctx, 1<<40, alice); code(err) != jokster.ENOTFOUND {
		t.Fatalf("withdraw on no such post: %v", err)
	}
	got, err := f.s.Stats(ctx, p)
	if err != nil || got != st {
		t.Fatalf("Stats = %+v, %v; want %+v", got, err, st)
	}
	// Withdrawing from a post that left the boards: a rating that is there
	// goes (the post is frozen otherwise); none is a conflict.
	f.exec(`INSERT INTO ratings (post_id, user_id, stars) VALUES ($1, $2, 3)`, culled, bob)
	if _, err := f.s.Withdraw(ctx, culled, alice); code(err) != jokster.ECONFLICT {
		t.Fatalf("withdrawing nothing from a culled post: %v", err)
	}
	if _, err := f.s.Withdraw(ctx, removed, alice); code(err) != jokster.ECONFLICT {
		t.Fatalf("withdrawing nothing from a removed post: %v", err)
	}
	if _, err := f.s.Withdraw(ctx, processing, alice); code(err) != jokster.ENOTFOUND {
		t.Fatalf("withdrawing from a processing post: %v", err)
	}
	if st, err := f.s.Withdraw(ctx, culled, bob); err != nil || st.Count() != 0 {
		t.Fatalf("withdrawing a rating from a culled post: %+v, %v", st, err)
	}
	if _, err := f.s.Stats(ctx, 1<<40); code(err) != jokster.ENOTFOUND {
		t.Fatalf("Stats of no such post: %v", err)
	}
	f.checkRedis(f.truth())
}

func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAnnouncements(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(4)
	created := time.Now()
	p := f.post(u[0], created, "ready", "cats")
	q := f.post(u[0], created, "ready")
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	_, boards0 := f.heard.Snapshot()
	f.rate(p, u[1], 3)
	f.rate(p, u[2], 5)
	f.rate(p, u[1], 1)
	if _, err := f.s.Withdraw(ctx, p, u[2]); err != nil {
		t.Fatal(err)
	}
	f.rate(p, u[3], 4)
	f.rate(p, u[3], 4) // unchanged: no announcement
	f.rate(q, u[1], 2)

	events, boards := f.heard.Snapshot()
	var versions []int64
	var hists []Histogram
	for _, e := range events {
		if e.Post == p {
			versions = append(versions, e.Version)
			hists = append(hists, e.Stats.Histogram)
			if e.Stats.Version != e.Version {
				t.Fatalf("event %+v: stats version differs", e)
			}
		}
	}
	wantHists := []Histogram{{0, 0, 1, 0, 0}, {0, 0, 1, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 0}, {1, 0, 0, 1, 0}}
	if !slices.Equal(hists, wantHists) {
		t.Fatalf("announced histograms %v, want %v", hists, wantHists)
	}
	for i := 1; i < len(versions); i++ {
		if versions[i] <= versions[i-1] {
			t.Fatalf("versions not increasing: %v", versions)
		}
	}
	var v int64
	if err := f.db.QueryRow(ctx, `SELECT rank_version FROM posts WHERE id = $1`, p).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if versions[len(versions)-1] != v {
		t.Fatalf("last announced version %d, PostgreSQL has %d", versions[len(versions)-1], v)
	}
	for _, b := range []string{"hot", "top:all", "creators", "top:day:" + isoDay(created), "top:week:" + isoWeek(created),
		"tag:cats:top", "tag:cats:hot"} {
		if boards[b] <= boards0[b] {
			t.Errorf("board %s was not announced (before %d, after %d)", b, boards0[b], boards[b])
		}
	}
	// Ratings do not move the new board (it is by id); a post that
	// becomes ready does.
	if boards["new"] != boards0["new"] {
		t.Errorf("ratings announced the new board (before %d, after %d)", boards0["new"], boards["new"])
	}
	r := f.post(u[1], created, "processing")
	f.exec(`UPDATE posts SET status = 'ready' WHERE id = $1`, r)
	_, before := f.heard.Snapshot()
	f.s.PostChanged(ctx, r)
	if _, after := f.heard.Snapshot(); after["new"] <= before["new"] {
		t.Errorf("a post that became ready did not announce the new board")
	}

	// A post leaving the boards announces them too.
	f.exec(`UPDATE posts SET status = 'removed' WHERE id = $1`, q)
	_, before = f.heard.Snapshot()
	f.s.PostChanged(ctx, q)
	_, after := f.heard.Snapshot()
	for _, b := range []string{"hot", "top:all", "new"} {
		if after[b] <= before[b] {
			t.Errorf("board %s not announced when a post left it", b)
		}
	}
	// Every board a post leaves is announced — its tags' and its day's
	// too — whether it leaves one post at a time, in bulk, or loses a tag.
	day, week := "top:day:"+isoDay(created), "top:week:"+isoWeek(created)
	check := func(how string, do func(), want ...string) {
		t.Helper()
		_, before := f.heard.Snapshot()
		do()
		_, after := f.heard.Snapshot()
		for _, b := range want {
			if after[b] <= before[b] {
				t.Errorf("%s: board %s not announced", how, b)
			}
		}
	}
	tagged := f.post(u[2], created, "ready", "dogs")
	f.s.PostChanged(ctx, tagged)
	check("a tag dropped", func() {
		f.exec(`DELETE FROM post_tags WHERE post_id = $1`, tagged)
		f.s.PostChanged(ctx, tagged)
	}, "tag:dogs:top", "tag:dogs:hot")
	check("a post removed in bulk", func() {
		f.exec(`UPDATE posts SET status = 'removed' WHERE id = $1`, p)
		if _, err := f.s.Unlist(ctx, []int64{p}); err != nil {
			t.Fatal(err)
		}
	}, "hot", "top:all", "new", day, week, "tag:cats:top", "tag:cats:hot")
	f.checkRedis(f.truth())
}

// A rating whose commit the reconcile loop applies before the rating's own
// writer does is announced by the reconcile: the writer then finds its
// version applied and says nothing, and live viewers would never hear of it.
func TestReconcileAnnouncesWhatItApplies(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(2)
	p := f.post(u[0], time.Now(), "ready")
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	// Committed as Rate commits it (the trigger bumps the post's version),
	// not yet applied by the writer.
	f.exec(`INSERT INTO ratings (post_id, user_id, stars) VALUES ($1, $2, 4)`, p, u[1])
	var v int64
	if err := f.db.QueryRow(ctx, `SELECT rank_version FROM posts WHERE id = $1`, p).Scan(&v); err != nil {
		t.Fatal(err)
	}
	events0, boards0 := f.heard.Snapshot()
	if n, err := f.s.Reconcile(ctx, time.Now().Add(-time.Minute)); err != nil || n != 1 {
		t.Fatalf("reconciled %d: %v", n, err)
	}
	events, boards := f.heard.Snapshot()
	got := events[len(events0):]
	if len(got) != 1 || got[0].Post != p || got[0].Version != v || got[0].Stats.Histogram != (Histogram{0, 0, 0, 1, 0}) {
		t.Fatalf("the reconcile announced %+v, want post %d at version %d with one 4", got, p, v)
	}
	if boards["top:all"] <= boards0["top:all"] {
		t.Fatalf("the reconcile did not announce the board the rating moved")
	}
	// The writer, late, applies nothing and announces nothing; a second
	// reconcile neither.
	f.s.PostChanged(ctx, p)
	if _, err := f.s.Reconcile(ctx, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if events, _ := f.heard.Snapshot(); len(events) != len(events0)+1 {
		t.Fatalf("announced %d more times after the reconcile", len(events)-len(events0)-1)
	}
	f.checkRedis(f.truth())
}

func TestNotifyRatingsBatches(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(15)
	author := u[0]
	p := f.post(author, time.Now(), "ready")
	notes := notifications.New(f.db, nil)
	var wg sync.WaitGroup
	for _, r := range u[1:13] {
		wg.Add(1)
		go func() { defer wg.Done(); f.rate(p, r, 3) }()
	}
	wg.Wait()
	f.rate(p, u[1], 5)                                     // a change is not a new rating
	if _, err := f.s.Rate(ctx, p, author, 5); err == nil { // refused
		t.Fatal("rated own post")
	}

	n, err := f.s.NotifyRatings(ctx, notes)
	if err != nil || n != 1 {
		t.Fatalf("NotifyRatings = %d, %v; want 1 notification", n, err)
	}
	type note struct {
		user      int64
		kind      string
		post      string
		newN, all int64
	}
	read := func() []note {
		rows, err := f.db.Query(ctx, `SELECT user_id, kind, data->>'post_id', (data->>'new_ratings')::bigint, (data->>'ratings')::bigint
			FROM notifications WHERE data->>'caption' = 'a joke' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		l, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (note, error) {
			var n note
			err := r.Scan(&n.user, &n.kind, &n.post, &n.newN, &n.all)
			return n, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	want := note{author, jokster.NotifyRated, strconv.FormatInt(p, 10), 12, 12}
	if l := read(); len(l) != 1 || l[0] != want {
		t.Fatalf("notifications %+v, want [%+v]", l, want)
	}
	if n, err := f.s.NotifyRatings(ctx, notes); err != nil || n != 0 {
		t.Fatalf("second run = %d, %v; want nothing new", n, err)
	}
	f.rate(p, u[13], 1)
	f.rate(p, u[14], 2)
	if _, err := f.s.Withdraw(ctx, p, u[2]); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.NotifyRatings(ctx, notes); err != nil || n != 1 {
		t.Fatalf("third run = %d, %v", n, err)
	}
	l := read()
	want2 := note{author, jokster.NotifyRated, strconv.FormatInt(p, 10), 2, 13}
	if len(l) != 2 || l[1] != want2 {
		t.Fatalf("notifications %+v, want the second %+v", l, want2)
	}
	// A rating withdrawn before it was announced is not announced.
	f.rate(p, u[2], 4)
	if _, err := f.s.Withdraw(ctx, p, u[2]); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.NotifyRatings(ctx, notes); err != nil || n != 0 {
		t.Fatalf("after a rating and its withdrawal: %d notifications, %v; want none", n, err)
	}
}

// Announcing ratings changes posts' rows, but no key of theirs: a
// repeatable-read transaction that began before it and then writes a row
// referring to one of those posts (the danger check records its zone in
// cull_danger) must not fail to serialize, as it did when the rows were
// locked FOR UPDATE.
func TestNotifyRatingsLeavesReferencesToPostsAlone(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(2)
	p := f.post(u[0], time.Now(), "ready")
	f.rate(p, u[1], 2)
	tx, err := f.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT count(*) FROM posts`); err != nil { // the snapshot
		t.Fatal(err)
	}
	if n, err := f.s.NotifyRatings(ctx, notifications.New(f.db, nil)); err != nil || n != 1 {
		t.Fatalf("NotifyRatings = %d, %v; want 1 notification", n, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO cull_danger (post_id, rank, score) VALUES ($1, 1, 0)`, p); err != nil {
		t.Fatalf("a row referring to the announced post, written in a snapshot from before: %v", err)
	}
}

// UnlistAt takes posts off every board at the versions given (the cull's),
// ignores a version older than the one Redis applied, and leaves the
// boards equal to PostgreSQL's ranking.
func TestUnlistAtVersions(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(3)
	a := f.post(u[0], time.Now().Add(-50*time.Hour), "ready", "cats")
	b := f.post(u[0], time.Now().Add(-30*time.Hour), "ready")
	c := f.post(u[1], time.Now(), "ready", "cats")
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	f.rate(a, u[2], 2)
	f.rate(b, u[2], 3)
	f.rate(c, u[2], 5)
	boardsOf := func(id int64) []string {
		_, m := f.placed(id)
		return m
	}
	if len(boardsOf(a)) < 4 || len(boardsOf(b)) < 4 {
		t.Fatalf("posts not on their boards: %v %v", boardsOf(a), boardsOf(b))
	}
	// a and b are culled the way the cull marks them: the statement bumps
	// the version itself (the trigger stays out of it).
	rows, err := f.db.Query(ctx, `UPDATE posts SET status = 'culled', rank_version = rank_version + 1, rank_changed_at = now()
		WHERE id = ANY($1) RETURNING id, rank_version`, []int64{a, b})
	if err != nil {
		t.Fatal(err)
	}
	ver := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		ver[id] = v
	}
	if rows.Err() != nil || len(ver) != 2 {
		t.Fatal(ver, rows.Err())
	}
	// A stale version (what Redis already has) moves nothing.
	if n, err := f.s.UnlistAt(ctx, []int64{a, b}, []int64{ver[a] - 1, ver[b] - 1}); err != nil || n != 0 {
		t.Fatalf("stale versions: moved %d, %v", n, err)
	}
	if len(boardsOf(a)) == 0 || len(boardsOf(b)) == 0 {
		t.Fatal("a stale version took a post off its boards")
	}
	gen := f.s.Generation(ctx)
	if n, err := f.s.UnlistAt(ctx, []int64{a, b}, []int64{ver[a], ver[b]}); err != nil || n != 2 {
		t.Fatalf("moved %d, %v; want 2", n, err)
	}
	// Cached board pages are keyed by the generation: it must move.
	if after := f.s.Generation(ctx); after == gen || gen == "" {
		t.Fatalf("generation %q before and %q after taking posts off the boards", gen, after)
	}
	if n, err := f.s.UnlistAt(ctx, []int64{a, b}, []int64{ver[a], ver[b]}); err != nil || n != 0 {
		t.Fatalf("again: moved %d, %v; want 0 (idempotent)", n, err)
	}
	if _, err := f.s.UnlistAt(ctx, []int64{a}, nil); err == nil {
		t.Fatal("UnlistAt without versions: no error")
	}
	f.checkRedis(f.truth())
}

// Unlist of more posts than one script call takes, on a Redis that lost
// its scripts (as after a restart): every call is made, the script is
// loaded again, and the boards end up equal to PostgreSQL's ranking.
func TestUnlistManyAfterScriptFlush(t *testing.T) {
	rdb, _ := testkit.OwnRedis(t)
	f := newFixture(t, rdb, "u:")
	ctx := context.Background()
	u := f.users(2)
	f.exec(`INSERT INTO posts (author_id, kind, status, created_at) SELECT $1, 'text', 'ready', now() - g * interval '1 minute'
		FROM generate_series(1, $2::int) g`, u[0], 2*unlistPerCall+30)
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	f.rate(f.post(u[0], time.Now(), "ready", "cats"), u[1], 4)
	rows, err := f.db.Query(ctx, `UPDATE posts SET status = 'culled' WHERE id IN (SELECT id FROM posts ORDER BY id LIMIT $1) RETURNING id`,
		2*unlistPerCall+20)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(gone) != 2*unlistPerCall+20 {
		t.Fatalf("culled %d posts: %v", len(gone), err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.Unlist(ctx, gone); err != nil || n != len(gone) {
		t.Fatalf("moved %d of %d: %v", n, len(gone), err)
	}
	f.checkRedis(f.truth())
	if c := rdb.ZCard(ctx, "u:board:top:all").Val(); c != 11 {
		t.Fatalf("top:all holds %d posts, want the 11 still ready", c)
	}
}

// A deleted post leaves every board and its author's laughs are counted
// again; so do the posts that an account's deletion takes with it (the
// cascade tells nobody), found by their tombstones — by Unlist when the
// caller knows them, by the reconcile loop when it does not.
func TestDeletedPostsAndAccounts(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(4)
	a1 := f.post(u[0], time.Now().Add(-2*time.Hour), "ready", "cats")
	a2 := f.post(u[0], time.Now().Add(-time.Hour), "ready")
	b1 := f.post(u[1], time.Now().Add(-3*time.Hour), "ready", "cats")
	b2 := f.post(u[1], time.Now(), "ready")
	c1 := f.post(u[2], time.Now(), "ready", "cats")
	for _, p := range []int64{a1, a2, b1, b2} {
		f.rate(p, u[3], 5)
	}
	f.rate(c1, u[3], 4)
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	f.checkRedis(f.truth())
	laughs := func(user int64) float64 {
		return f.rdb.ZScore(ctx, f.s.k.board("creators"), strconv.FormatInt(user, 10)).Val()
	}
	before := laughs(u[0])

	// One post deleted, as posts.Delete does it: the author keeps the laughs
	// of the other post only.
	f.exec(`DELETE FROM posts WHERE id = $1`, a1)
	f.s.PostChanged(ctx, a1)
	f.checkRedis(f.truth())
	if after := laughs(u[0]); after >= before || after == 0 {
		t.Fatalf("author's creators score %v after deleting a rated post, %v before", after, before)
	}

	// An account deleted, with the ids of its posts known (the API's way).
	var gone []int64
	if err := f.db.QueryRow(ctx, `WITH ps AS (SELECT array_agg(id) AS ids FROM posts WHERE author_id = $1),
		d AS (DELETE FROM users WHERE id = $1) SELECT (SELECT ids FROM ps)`, u[1]).Scan(&gone); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.Unlist(ctx, gone); err != nil || n != 2 {
		t.Fatalf("unlisted %d of %v: %v", n, gone, err)
	}
	f.checkRedis(f.truth())

	// An account deleted and nobody told: the reconcile loop finds the
	// tombstones.
	f.exec(`DELETE FROM users WHERE id = $1`, u[2])
	if n, err := f.s.Reconcile(ctx, time.Now().Add(-time.Minute)); err != nil || n == 0 {
		t.Fatalf("reconciled %d: %v", n, err)
	}
	f.checkRedis(f.truth())
	for _, id := range []string{strconv.FormatInt(u[1], 10), strconv.FormatInt(u[2], 10)} {
		if _, err := f.rdb.ZScore(ctx, f.s.k.board("creators"), id).Result(); err == nil {
			t.Fatalf("deleted account %s is still on the creators board", id)
		}
	}

	// Tombstones older than a day are purged; recent ones stay.
	f.exec(`UPDATE post_tombstones SET deleted_at = now() - interval '25 hours' WHERE post_id = $1`, a1)
	if n, err := f.s.PurgeTombstones(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d tombstones: %v", n, err)
	}
}

// Two processes updating one author's laughs at once: the one that read
// first must not write last. Node a reads the sum, then pauses; a rating
// commits; node b updates the same author. b must wait for a (the lock)
// rather than write the newer sum first and have a overwrite it with the
// older one, which the board would keep until the author's next rating.
func TestCreatorsNoStaleWriteAcrossNodes(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(3)
	author, r1, r2 := u[0], u[1], u[2]
	p := f.post(author, time.Now(), "ready")
	f.rate(p, r1, 5)

	b := New(f.db, f.rdb, f.prefix, nil) // another node: same database, same boards
	bDone := make(chan error, 1)
	f.s.creatorsWrite.Lock() // the hook is read under it (by the flusher too)
	defer f.s.creatorsWrite.Unlock()
	f.s.creatorsRead = func() {
		f.s.creatorsRead = nil
		f.exec(`INSERT INTO ratings (post_id, user_id, stars) VALUES ($1, $2, 3)`, p, r2)
		go func() { bDone <- b.updateCreators(ctx, []int64{author}) }()
		// Resume once b has written, or is waiting for a to finish.
		for {
			select {
			case err := <-bDone:
				bDone <- err
				return
			default:
			}
			var waiting bool
			if err := f.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
				AND NOT granted AND classid = $1 AND objid = $2 AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
				int64(lockCreators), author).Scan(&waiting); err != nil {
				t.Error(err)
				return
			}
			if waiting {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := f.s.writeCreators(ctx, []int64{author}); err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	got, err := f.rdb.ZScore(ctx, f.s.k.board("creators"), strconv.FormatInt(author, 10)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := CreatorScore(8, author); got != want {
		t.Fatalf("creators board holds %v for the author, want %v (8 laughs): an older sum was written last", got, want)
	}
}

// A rating sent while a cull (or a removal) of its post is committing is
// refused once the cull commits, and changes nothing: not the ratings, not
// the culled post's histogram.
func TestRatingWaitsForACullOfItsPost(t *testing.T) {
	f := newFixture(t, nil, "")
	ctx := context.Background()
	u := f.users(2)
	p := f.post(u[0], time.Now().Add(-48*time.Hour), "ready")
	tx, err := f.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `UPDATE posts SET status = 'culled' WHERE id = $1`, p); err != nil {
		t.Fatal(err)
	}
	rated := make(chan error, 1)
	go func() {
		_, err := f.s.Rate(ctx, p, u[1], 5)
		rated <- err
	}()
	// Commit the cull once the rating waits for the post's row.
	f.eventually("the rating waits for the cull", func() bool {
		var waiting bool
		err := f.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO ratings%')`).Scan(&waiting)
		return err == nil && waiting
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-rated; !errors.Is(err, errNotReady) {
		t.Fatalf("rating a post culled meanwhile = %v, want %v", err, errNotReady)
	}
	var ratings, h5 int
	if err := f.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM ratings WHERE post_id = $1), h5 FROM posts WHERE id = $1`, p).Scan(&ratings, &h5); err != nil {
		t.Fatal(err)
	}
	if ratings != 0 || h5 != 0 {
		t.Fatalf("after the refused rating: %d ratings, h5 %d; want none", ratings, h5)
	}
}
