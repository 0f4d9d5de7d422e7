package ranking

// Tests of capped boards (cap.go): each post board keeps its top k posts
// in Redis with a floor, reads and ranks below it come from PostgreSQL,
// and refills bring shrunken boards back to k while ratings go on. The
// checkers compare Redis with the truth computed from PostgreSQL
// (fixture.truth).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/testkit"
)

// floors reads the boards' floors and write floors from Redis.
func (f *fixture) floors() (map[string]float64, map[string]float64) {
	f.t.Helper()
	read := func(key string) map[string]float64 {
		vals, err := f.rdb.HGetAll(context.Background(), key).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		out := map[string]float64{}
		for name, v := range vals {
			x, err := strconv.ParseFloat(v, 64)
			if v == "-inf" {
				x, err = math.Inf(-1), nil
			}
			if err != nil {
				f.t.Fatalf("%s %s: %q", key, name, v)
			}
			out[name] = x
		}
		return out
	}
	return read(f.s.k.floor()), read(f.s.k.wfloor())
}

// aboveFloors is the truth's boards that Redis holds, each cut at its
// floor: what the sorted sets hold when no refill runs.
func aboveFloors(tr truth, floors map[string]float64) map[string][]zEntry {
	out := map[string][]zEntry{}
	for b, l := range tr.inRedis() {
		fl, capped := floors[b]
		var keep []zEntry
		for _, e := range l {
			if !capped || e.Score > fl {
				keep = append(keep, e)
			}
		}
		if len(keep) > 0 {
			out[b] = keep
		}
	}
	return out
}

// capDiff describes how Redis's boards differ from the truth ("" if they
// agree). Outside a refill each sorted set holds exactly the posts of its
// board above its floor (all of them without one) with their scores, at
// most the cap; no write floor is left and the creators board has no
// floor. Errors (Redis restarting) are described too.
func (f *fixture) capDiff(tr truth) string {
	ctx := context.Background()
	floors, err := f.rdb.HGetAll(ctx, f.s.k.floor()).Result()
	if err != nil {
		return err.Error()
	}
	fl := map[string]float64{}
	for name, v := range floors {
		if fl[name], err = strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("floor of %s: %q", name, v)
		}
	}
	got, err := f.redisBoards()
	if err != nil {
		return err.Error()
	}
	var problems []string
	if d := diffBoards(aboveFloors(tr, fl), got); d != "" {
		problems = append(problems, d)
	}
	if w, err := f.rdb.HGetAll(ctx, f.s.k.wfloor()).Result(); err != nil || len(w) > 0 {
		problems = append(problems, fmt.Sprintf("write floors left: %v %v", w, err))
	}
	if _, ok := fl["creators"]; ok {
		problems = append(problems, "the creators board has a floor")
	}
	for b, l := range got {
		if b != "creators" && int64(len(l)) > f.s.cap() {
			problems = append(problems, fmt.Sprintf("board %s holds %d posts, over the cap %d", b, len(l), f.s.cap()))
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "\n")
}

// checkInvariant asserts the boards' invariant (see keys) against the
// truth, as it must hold at every instant, refills included: each sorted
// set holds only posts of its board, with their current scores, and every
// post of the board above its floor.
func (f *fixture) checkInvariant(tr truth) {
	f.t.Helper()
	floors, _ := f.floors()
	got, err := f.redisBoards()
	if err != nil {
		f.t.Fatal(err)
	}
	want := tr.inRedis()
	for b, l := range got {
		on := map[int64]float64{}
		for _, e := range want[b] {
			on[e.ID] = e.Score
		}
		for _, e := range l {
			if sc, ok := on[e.ID]; !ok || sc != e.Score {
				f.t.Fatalf("board %s holds post %d at %v; on the board: %v (score %v)\n holds %v", b, e.ID, e.Score, ok, sc, clip(l))
			}
		}
	}
	for b, l := range aboveFloors(tr, floors) {
		in := map[int64]bool{}
		for _, e := range got[b] {
			in[e.ID] = true
		}
		for _, e := range l {
			if !in[e.ID] {
				f.t.Fatalf("board %s lacks post %d (score %v), above its floor %v\n holds %v", b, e.ID, e.Score, floors[b], clip(got[b]))
			}
		}
	}
}

// checkFull asserts that boards hold their top: min(cap, size) posts, and
// a floor exactly if the board is larger than the cap (as after a rebuild
// or a refill).
func (f *fixture) checkFull(tr truth, boards ...string) {
	f.t.Helper()
	floors, _ := f.floors()
	k := int(f.s.cap())
	for _, b := range boards {
		n := len(tr.boards[b])
		c := int(f.rdb.ZCard(context.Background(), f.s.k.board(b)).Val())
		_, capped := floors[b]
		if c != min(n, k) || capped != (n > k) {
			f.t.Fatalf("board %s holds %d posts and has a floor: %v; the board has %d posts, the cap is %d", b, c, capped, n, k)
		}
	}
}

// checkPages asserts that Board gives every page of each board (many
// offsets and limits, across the floor and to the end) with the truth's
// entries, ranks, scores and "more".
func (f *fixture) checkPages(tr truth, boards ...string) {
	f.t.Helper()
	ctx := context.Background()
	for _, b := range boards {
		want := tr.boards[b]
		if len(want) == 0 {
			f.t.Fatalf("board %s is empty in the truth", b)
		}
		for off := 0; off <= len(want); off++ {
			if off > 2*int(f.s.cap())+3 && off < len(want)-2 {
				continue
			}
			for _, lim := range []int{1, 2, 3, 5, 8, len(want) + 1} {
				got, more, err := f.s.Board(ctx, b, off, lim)
				if err != nil {
					f.t.Fatalf("Board(%s, %d, %d): %v", b, off, lim, err)
				}
				exp := want[min(off, len(want)):min(off+lim, len(want))]
				ok := len(got) == len(exp) && more == (off+lim < len(want))
				for i := 0; ok && i < len(got); i++ {
					ok = got[i].ID == exp[i].ID && got[i].Rank == off+i+1 && got[i].Score == display(b, exp[i])
				}
				if !ok {
					f.t.Fatalf("Board(%s, %d, %d) = %v (more %v); want %v from rank %d (more %v)", b, off, lim, got, more, exp, off+1, off+lim < len(want))
				}
			}
		}
	}
}

// checkRanks asserts that Ranks gives every ready post its place on each
// main board it is above the floor of, and no rank on the others.
func (f *fixture) checkRanks(tr truth) {
	f.t.Helper()
	ctx := context.Background()
	rows, err := f.db.Query(ctx, `SELECT id, created_at FROM posts WHERE status = 'ready'`)
	if err != nil {
		f.t.Fatal(err)
	}
	created := map[int64]time.Time{}
	var id int64
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { created[id] = at; return nil }); err != nil {
		f.t.Fatal(err)
	}
	floors, _ := f.floors()
	want := map[int64]map[string]int{}
	for id, at := range created {
		for name, b := range map[string]string{"hot": "hot", "top": "top:all", "top_day": "top:day:" + isoDay(at), "top_week": "top:week:" + isoWeek(at)} {
			l := tr.boards[b]
			i := slices.IndexFunc(l, func(e zEntry) bool { return e.ID == id })
			if fl, capped := floors[b]; i < 0 || (capped && l[i].Score <= fl) {
				continue
			}
			if want[id] == nil {
				want[id] = map[string]int{}
			}
			want[id][name] = i + 1
		}
	}
	if got := f.s.Ranks(ctx, created); !reflect.DeepEqual(got, want) {
		f.t.Fatalf("Ranks:\n got %v\nwant %v\nfloors %v", got, want, floors)
	}
	for id := range created {
		if got := f.s.BestRank(ctx, []int64{id}); got != want[id]["top"] {
			f.t.Fatalf("BestRank of post %d: %d; want %d (floor %v)", id, got, want[id]["top"], floors["top:all"])
		}
	}
}

// capWorld is a capped fixture with posts of distinct scores over nine
// days, two tags, and users to rate them.
type capWorld struct {
	*fixture
	users    []int64
	posts    []int64
	authorOf map[int64]int64
	mu       sync.Mutex
	rated    map[int64]int // post → how many of users[4:] rated it
}

// newCapWorld makes n posts (authors users[0:4]) rated straight in
// PostgreSQL, so that their histograms, and top scores, differ, and
// rebuilds the boards with cap k.
func newCapWorld(t *testing.T, f *fixture, n int) *capWorld {
	t.Helper()
	ctx := context.Background()
	w := &capWorld{fixture: f, users: f.users(90), authorOf: map[int64]int64{}, rated: map[int64]int{}}
	now := time.Now()
	var rp, ru []int64
	var rs []int
	// Histograms of up to three ratings a level whose top scores differ.
	var hists []Histogram
	seen := map[float64]bool{}
	for c := 0; len(hists) < n; c++ {
		h := Histogram{int64(c % 4), int64(c / 4 % 4), int64(c / 16 % 4), int64(c / 64 % 4), int64(c / 256 % 4)}
		if q := Quantize(TopScore(h)); h.Count() > 0 && !seen[q] {
			seen[q] = true
			hists = append(hists, h)
		}
	}
	for i := range n {
		var tags []string
		if i%3 == 0 {
			tags = append(tags, "cats")
		}
		if i%7 == 0 {
			tags = append(tags, "dogs")
		}
		author := w.users[i%4]
		id := f.post(author, now.Add(-time.Duration(i%9)*24*time.Hour-time.Duration(i)*time.Minute), "ready", tags...)
		w.posts = append(w.posts, id)
		w.authorOf[id] = author
		for level, c := range hists[i] {
			for range c {
				rp, ru, rs = append(rp, id), append(ru, w.users[4+w.rated[id]]), append(rs, level+1)
				w.rated[id]++
			}
		}
	}
	f.exec(`INSERT INTO ratings (post_id, user_id, stars) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[])`, rp, ru, rs)
	if err := f.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	top := f.truth().boards["top:all"]
	for i := 1; i < len(top); i++ {
		if display("top:all", top[i]) == display("top:all", top[i-1]) {
			t.Fatalf("test data: posts %d and %d tie on top:all", top[i-1].ID, top[i].ID)
		}
	}
	return w
}

// rateInto has users who did not rate post p yet rate it so that its
// top:all score lands strictly between lo and hi (as few ratings as
// possible), through Rate.
func (w *capWorld) rateInto(p int64, lo, hi float64) {
	w.t.Helper()
	var h Histogram
	if err := w.db.QueryRow(context.Background(), `SELECT h1, h2, h3, h4, h5 FROM posts WHERE id = $1`, p).
		Scan(&h[0], &h[1], &h[2], &h[3], &h[4]); err != nil {
		w.t.Fatal(err)
	}
	best, bestN := Histogram{}, -1
	var add Histogram
	var search func(level, left int)
	search = func(level, left int) {
		if level == 5 {
			n := int(add.Count())
			if n == 0 || (bestN >= 0 && n >= bestN) {
				return
			}
			sum := h
			for i := range sum {
				sum[i] += add[i]
			}
			if sc := BoardScore(TopScore(sum), p); sc > lo && sc < hi {
				best, bestN = add, n
			}
			return
		}
		for c := 0; c <= left; c++ {
			add[level] = int64(c)
			search(level+1, left-c)
		}
		add[level] = 0
	}
	search(0, 12)
	if bestN < 0 {
		w.t.Fatalf("test data: no ratings put post %d (histogram %v) between %v and %v", p, h, lo, hi)
	}
	for level, c := range best {
		for range c {
			w.mu.Lock()
			u := w.users[4+w.rated[p]]
			w.rated[p]++
			w.mu.Unlock()
			w.rate(p, u, level+1)
		}
	}
}

// cull marks posts culled as the cull does (the statement bumps their
// versions) and takes them off the boards with UnlistAt.
func (w *capWorld) cull(ids ...int64) {
	w.t.Helper()
	ctx := context.Background()
	rows, err := w.db.Query(ctx, `UPDATE posts SET status = 'culled', rank_version = rank_version + 1, rank_changed_at = now()
		WHERE id = ANY($1) RETURNING id, rank_version`, ids)
	if err != nil {
		w.t.Fatal(err)
	}
	var gone, versions []int64
	var id, v int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		gone, versions = append(gone, id), append(versions, v)
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	if n, err := w.s.UnlistAt(ctx, gone, versions); err != nil || n != len(ids) {
		w.t.Fatalf("unlisted %d of %v: %v", n, ids, err)
	}
}

// shrink culls the top of top:all until Redis holds fewer than half the
// cap of it (a refill is due).
func (w *capWorld) shrink() {
	w.t.Helper()
	ctx := context.Background()
	for 2*w.rdb.ZCard(ctx, w.s.k.board("top:all")).Val() >= w.s.cap() {
		first, _, err := w.s.boardFromPostgres(ctx, "top:all", 0, 1)
		if err != nil || len(first) != 1 {
			w.t.Fatalf("the top of top:all: %v %v", first, err)
		}
		w.cull(first[0].ID)
	}
}

// mainBoards are the boards the checks page through: hot, top, tags',
// days' and weeks'.
func (w *capWorld) mainBoards(tr truth) []string {
	var out []string
	for b := range tr.inRedis() {
		if b != "creators" {
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// checkAll runs every check that holds outside a refill.
func (w *capWorld) checkAll(tr truth) {
	w.t.Helper()
	w.checkRedis(tr)
	w.checkInvariant(tr)
	w.checkPages(tr, w.mainBoards(tr)...)
	w.checkRanks(tr)
}

// ---------------------------------------------------------------------------

// Ratings move posts across the floor: a post rated above it joins the top
// and pushes the lowest one out (the floor rises), a member rated below it
// leaves, a post below it stays out whatever it is rated, and every page
// and rank stays the truth's, pages below the top being read from
// PostgreSQL.
func TestCappedBoardsFollowRatings(t *testing.T) {
	w := newCapWorld(t, newCappedFixture(t, nil, "", 3), 20)
	ctx := context.Background()
	tr := w.truth()
	w.checkAll(tr)
	w.checkFull(tr, w.mainBoards(tr)...)
	if n := len(tr.boards["tag:dogs:top"]); n > 3 {
		t.Fatalf("test data: tag dogs has %d posts; it should fit whole", n)
	}

	// Pages above the floor are Redis's; a page that crosses it is
	// PostgreSQL's.
	deep := func() float64 { return testutil.ToFloat64(boardReads.WithLabelValues("below_cap")) }
	before := deep()
	if _, more, err := w.s.Board(ctx, "top:all", 0, 2); err != nil || !more || deep() != before {
		t.Fatalf("a page of the top: more %v, err %v; %v reads below the cap (want none)", more, err, deep()-before)
	}
	if _, _, err := w.s.Board(ctx, "top:all", 1, 5); err != nil || deep() != before+1 {
		t.Fatalf("a page across the floor: err %v; %v reads below the cap (want 1)", err, deep()-before)
	}
	if _, _, err := w.s.Board(ctx, "tag:dogs:top", 0, 10); err != nil || deep() != before+1 {
		t.Fatalf("a whole board: err %v; %v reads below the cap (want 1)", err, deep()-before)
	}

	floorOf := func() float64 {
		floors, _ := w.floors()
		fl, ok := floors["top:all"]
		if !ok {
			t.Fatal("top:all has no floor")
		}
		return fl
	}
	top := tr.boards["top:all"]

	// A post from below the floor rated to the top: it joins, the third
	// member leaves, and the floor rises to that member's score.
	low := top[10].ID
	w.rateInto(low, top[0].Score, math.Inf(1))
	tr = w.truth()
	if got := tr.boards["top:all"][0].ID; got != low {
		t.Fatalf("post %d is not first after its ratings (%d is)", low, got)
	}
	if fl := floorOf(); fl != top[2].Score {
		t.Fatalf("floor %v after post %d joined; want %v (post %d's score, pushed out)", fl, low, top[2].Score, top[2].ID)
	}
	w.checkAll(tr)
	w.checkFull(tr, "top:all")

	// A member rated below the floor leaves; the floor stays.
	fl := floorOf()
	member := tr.boards["top:all"][1].ID
	w.rateInto(member, math.Inf(-1), tr.boards["top:all"][8].Score)
	if floorOf() != fl {
		t.Fatal("the floor moved as a member left")
	}
	if c := w.rdb.ZCard(ctx, w.s.k.board("top:all")).Val(); c != 2 {
		t.Fatalf("top:all holds %d posts after a member left; want 2", c)
	}
	w.checkAll(w.truth())

	// A post below the floor rated up, but not above it, stays out (the
	// board has room: only the floor keeps it out).
	tr = w.truth()
	l := tr.boards["top:all"]
	below := l[12].ID
	w.rateInto(below, l[4].Score, fl)
	if _, err := w.rdb.ZScore(ctx, w.s.k.board("top:all"), strconv.FormatInt(below, 10)).Result(); err == nil {
		t.Fatalf("post %d, rated up to just below the floor, is on top:all in Redis", below)
	}
	// A member rated within the top stays, with its new score.
	tr = w.truth()
	w.rateInto(tr.boards["top:all"][1].ID, fl, math.Inf(1))
	w.checkAll(w.truth())
}

// Culled posts leave their boards whether they were in Redis (the top) or
// not (below the floor): rank:pv records the new version and no boards,
// and pages and ranks stay right.
func TestUnlistCappedMembersAndNonMembers(t *testing.T) {
	w := newCapWorld(t, newCappedFixture(t, nil, "", 3), 20)
	ctx := context.Background()
	top := w.truth().boards["top:all"]
	member, nonMember := top[1].ID, top[15].ID
	_, boardsBefore := w.placed(nonMember)
	if len(boardsBefore) < 4 {
		t.Fatalf("post %d below the floor is on boards %v in rank:pv; want its placement", nonMember, boardsBefore)
	}
	w.cull(member, nonMember)
	for _, id := range []int64{member, nonMember} {
		v, boards := w.placed(id)
		var want string
		if err := w.db.QueryRow(ctx, `SELECT rank_version::text FROM posts WHERE id = $1`, id).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if v != want || len(boards) != 0 {
			t.Fatalf("post %d after its cull: version %q boards %v; want %s and none", id, v, boards, want)
		}
	}
	w.checkAll(w.truth())
	// A post given twice in one call moves once.
	x := w.truth().boards["top:all"][0].ID
	var v int64
	if err := w.db.QueryRow(ctx, `UPDATE posts SET status = 'culled', rank_version = rank_version + 1 WHERE id = $1 RETURNING rank_version`, x).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if n, err := w.s.UnlistAt(ctx, []int64{x, x}, []int64{v, v}); err != nil || n != 1 {
		t.Fatalf("UnlistAt of a post given twice: %d, %v; want 1", n, err)
	}
	w.checkAll(w.truth())
	// Given twice at two versions, in either order, a post ends at the
	// newer one (a later sync of the older is then stale).
	for _, order := range [][2]int64{{1, 2}, {2, 1}} {
		y := w.truth().boards["top:all"][0].ID
		var base int64
		if err := w.db.QueryRow(ctx, `UPDATE posts SET status = 'culled', rank_version = rank_version + 2 WHERE id = $1 RETURNING rank_version - 2`, y).Scan(&base); err != nil {
			t.Fatal(err)
		}
		if n, err := w.s.UnlistAt(ctx, []int64{y, y}, []int64{base + order[0], base + order[1]}); err != nil || n != 1 {
			t.Fatalf("UnlistAt of a post given at two versions: %d, %v; want 1", n, err)
		}
		if got, _ := w.placed(y); got != strconv.FormatInt(base+2, 10) {
			t.Fatalf("post %d given at versions %d then %d: rank:pv holds version %s; want %d", y, base+order[0], base+order[1], got, base+2)
		}
		w.checkAll(w.truth())
	}
	// Unlist (which reads the posts) of a member and a non-member.
	top = w.truth().boards["top:all"]
	a, b := top[0].ID, top[12].ID
	w.exec(`UPDATE posts SET status = 'removed' WHERE id = ANY($1)`, []int64{a, b})
	if n, err := w.s.Unlist(ctx, []int64{a, b}); err != nil || n != 2 {
		t.Fatalf("Unlist: %d, %v", n, err)
	}
	w.checkAll(w.truth())
}

// A board that removals took below half its cap is refilled to its top k
// (and one left with no more than k posts becomes whole again); one above
// half is not (hysteresis). Run does it by itself.
func TestRefillRestoresTopK(t *testing.T) {
	rdb, _ := testkit.OwnRedis(t)
	w := newCapWorld(t, newCappedFixture(t, rdb, "r:", 5), 50)
	ctx := context.Background()
	zcard := func(b string) int64 { return w.rdb.ZCard(ctx, w.s.k.board(b)).Val() }
	top := w.truth().boards["top:all"]
	w.cull(top[0].ID, top[1].ID)
	floors, _ := w.floors()
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	if after, _ := w.floors(); zcard("top:all") != 3 || after["top:all"] != floors["top:all"] {
		t.Fatalf("top:all at 3 of 5 posts was refilled: %d posts, floor %v → %v", zcard("top:all"), floors["top:all"], after["top:all"])
	}
	w.checkAll(w.truth())

	w.cull(top[2].ID)
	if zcard("top:all") != 2 {
		t.Fatalf("top:all holds %d posts", zcard("top:all"))
	}
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	tr := w.truth()
	w.checkAll(tr)
	w.checkFull(tr, "top:all")
	if floors, _ := w.floors(); floors["top:all"] != tr.boards["top:all"][5].Score {
		t.Fatalf("top:all's floor after the refill is %v; want %v, the 6th post's score", floors["top:all"], tr.boards["top:all"][5].Score)
	}

	// A board down to no more than k posts is whole again after its refill.
	day := ""
	for b, l := range tr.boards {
		if floors, _ := w.floors(); strings.HasPrefix(b, "top:day:") && len(l) > 5 && zcard(b) == 5 && floors[b] > 0 {
			day = b
		}
	}
	if day == "" {
		t.Fatal("test data: no day board over the cap")
	}
	var gone []int64
	for _, e := range tr.boards[day][:len(tr.boards[day])-2] {
		gone = append(gone, e.ID)
	}
	w.cull(gone...)
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	tr = w.truth()
	w.checkAll(tr)
	w.checkFull(tr, day)
	if floors, _ := w.floors(); len(tr.boards[day]) != 2 || zcard(day) != 2 {
		t.Fatalf("%s: %d posts, %d in Redis, floor %v", day, len(tr.boards[day]), zcard(day), floors[day])
	}

	// Run refills by itself.
	w.shrink()
	w.run(20 * time.Millisecond)
	// Culling top:all's best posts shrank other boards too (hot, days,
	// weeks, tags), which Run refills after top:all: check once it has
	// refilled every board due and no refill is under way.
	w.eventually("Run refills top:all and every other board due", func() bool {
		due, refilling, err := w.s.boardsDue(ctx, w.s.cap())
		return err == nil && len(due) == 0 && !refilling && zcard("top:all") == 5
	})
	tr = w.truth()
	w.checkAll(tr)
	w.checkFull(tr, "top:all")
}

// A refill races ratings that move posts across its target and the floor
// while it runs; at given steps (deterministic) and at random (raters in
// goroutines, refills of two posts a call). The invariant holds
// throughout, and the boards equal the truth afterwards.
func TestRefillRacesRatings(t *testing.T) {
	w := newCapWorld(t, newCappedFixture(t, nil, "", 5), 50)
	ctx := context.Background()
	var hooks map[string]func()
	w.s.refillStep = func(board, step string) {
		if h := hooks[step]; h != nil && board == "top:all" {
			hooks[step] = nil
			h()
		}
	}
	// state returns the board, its floor and write floor.
	state := func() ([]zEntry, float64, float64) {
		floors, wfloors := w.floors()
		return w.truth().boards["top:all"], floors["top:all"], wfloors["top:all"]
	}

	// 1. Once the refill has read the board (the batch is loaded): two
	// posts from far below rise between its target and its floor, and a
	// post it read (loaded at its version) falls below its target. The
	// risers are let in by the write floor (with the floor they would be
	// left out, the read having missed them); the faller is not put back
	// at its old score. Meanwhile pages and ranks stay right: the risers
	// are members below the floor, which reads must not trust.
	w.shrink()
	hooks = map[string]func(){"batch": func() {
		l, fl, target := state()
		if target != l[5].Score || l[2].Score > fl || l[1].Score <= fl {
			t.Fatalf("at the batch: target %v, floor %v, board %v", target, fl, clip(l))
		}
		w.rateInto(l[10].ID, l[3].Score, l[2].Score)
		w.rateInto(l[11].ID, l[4].Score, l[3].Score)
		w.rateInto(l[3].ID, math.Inf(-1), target)
		tr := w.truth()
		w.checkInvariant(tr)
		if members := w.rdb.ZCard(ctx, w.s.k.board("top:all")).Val(); members != 4 {
			t.Fatalf("top:all holds %d posts at the batch; want the 2 of the top and the 2 risers", members)
		}
		w.checkPages(tr, "top:all")
		w.checkRanks(tr)
	}}
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	if hooks["batch"] != nil {
		t.Fatal("the refill of top:all did not run")
	}
	tr := w.truth()
	w.checkAll(tr)
	w.checkFull(tr, "top:all")

	// 2. Between setting the write floor and reading the board, two posts
	// rise to the top, pushing two posts above the target out of the read;
	// then a post the read holds falls below the target, so the refill
	// puts in too few posts to trim. The floor must rise to the last post
	// read, or the posts pushed out would be missing above it.
	w.shrink()
	hooks = map[string]func(){
		"started": func() {
			l, _, _ := state()
			w.rateInto(l[10].ID, l[0].Score, math.Inf(1))
			w.rateInto(l[11].ID, l[0].Score, math.Inf(1))
		},
		"batch": func() {
			l, _, target := state()
			w.rateInto(l[4].ID, math.Inf(-1), target)
			w.checkInvariant(w.truth())
		},
	}
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	if hooks["started"] != nil || hooks["batch"] != nil {
		t.Fatal("the refill of top:all did not run")
	}
	w.checkAll(w.truth())

	// 3. At random: raters rate the remaining posts while boards are
	// culled and refilled, two posts a call, the refill yielding at every
	// step.
	w.s.refillBatch = 2
	hooks = nil
	w.s.refillStep = func(string, string) { time.Sleep(time.Millisecond) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := w.posts[(i*7+r*13)%len(w.posts)]
				u := w.users[4+(i*11+r*17)%80]
				_, err := w.s.Rate(ctx, p, u, 1+(i+r)%5)
				if err != nil && jokster.ErrorCode(err) != jokster.ECONFLICT {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for range 5 {
		w.shrink()
		if err := w.s.maintainBoards(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d ratings failed, e.g. %s", len(bad), bad[0])
	}
	w.checkAll(w.truth())
}

// A refill that dies half-way (its context ends) leaves its write floor
// behind; the next pass drops it and refills the board.
func TestInterruptedRefillIsRedone(t *testing.T) {
	w := newCapWorld(t, newCappedFixture(t, nil, "", 5), 30)
	ctx := context.Background()
	w.shrink()
	cctx, cancel := context.WithCancel(ctx)
	w.s.refillStep = func(board, step string) {
		if board == "top:all" && step == "batch" {
			cancel()
		}
	}
	if err := w.s.maintainBoards(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted refill: %v", err)
	}
	w.s.refillStep = nil
	if _, wfloors := w.floors(); len(wfloors) == 0 {
		t.Fatal("no write floor after an interrupted refill")
	}
	// A post rises between the write floor and the floor: let in, below
	// the floor.
	l := w.truth().boards["top:all"]
	w.rateInto(l[9].ID, l[3].Score, l[2].Score)
	w.checkInvariant(w.truth())
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	tr := w.truth()
	w.checkAll(tr)
	w.checkFull(tr, "top:all")
}

// A rebuild after FLUSHALL (which took the floors with the boards) ends
// with every board at its top and consistent floors; so does one after
// the old format was cleared, whatever floors were there.
func TestRebuildAfterFlushAllCapped(t *testing.T) {
	rdb, _ := testkit.OwnRedis(t)
	w := newCapWorld(t, newCappedFixture(t, rdb, "fl:", 3), 20)
	ctx := context.Background()
	w.shrink()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	tr := w.truth()
	w.checkAll(tr)
	w.checkFull(tr, w.mainBoards(tr)...)

	// Boards of the old format, with floors far too high (of another
	// world): they are cleared, floors included, and rebuilt.
	rdb.HSet(ctx, "fl:rank:v", "1", "1")
	for _, b := range w.mainBoards(tr) {
		rdb.HSet(ctx, w.s.k.floor(), b, "1e300")
		rdb.HSet(ctx, w.s.k.wfloor(), b, "1e299")
	}
	if err := w.s.dropLegacy(ctx); err != nil {
		t.Fatal(err)
	}
	if w.s.Ready(ctx) || rdb.Exists(ctx, "fl:rank:v").Val() != 0 {
		t.Fatal("the old format is still there")
	}
	if err := w.s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	w.checkAll(tr)
	w.checkFull(tr, w.mainBoards(tr)...)
}

// Boards over the cap (the cap was lowered, or they were filled before
// caps) are trimmed to it by Run's first pass.
func TestRunTrimsBoardsOverTheCap(t *testing.T) {
	w := newCapWorld(t, newCappedFixture(t, nil, "", 0), 20)
	ctx := context.Background()
	tr := w.truth()
	if floors, _ := w.floors(); len(floors) > 0 || w.rdb.ZCard(ctx, w.s.k.board("top:all")).Val() != 20 {
		t.Fatalf("with the default cap: floors %v", floors)
	}
	w.s.SetBoardCap(3)
	if err := w.s.maintainBoards(ctx); err != nil {
		t.Fatal(err)
	}
	w.checkAll(tr)
	w.checkFull(tr, w.mainBoards(tr)...)
}
