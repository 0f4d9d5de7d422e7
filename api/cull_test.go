package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/cull"
)

// cullSettings are the env's CULL_* settings, as cmd/jokster builds them.
func cullSettings(cfg config.Config) cull.Settings {
	return cull.Settings{Interval: cfg.CullInterval, Grace: cfg.CullGrace, Share: cfg.CullShare, Max: cfg.CullMax,
		Floor: cfg.CullFloor, Board: cfg.CullBoard}
}

type cullStatusView struct {
	NextCullAt time.Time `json:"next_cull_at"`
	Cycle      int64     `json:"cycle"`
	Settings   struct {
		Share float64 `json:"share"`
		Floor int     `json:"floor"`
		Board string  `json:"board"`
	} `json:"settings"`
	Ready    int `json:"ready"`
	Eligible int `json:"eligible"`
	Danger   struct {
		Count     int      `json:"count"`
		SafeScore *float64 `json:"safe_score"`
		Items     []struct {
			Rank     int      `json:"rank"`
			Score    float64  `json:"score"`
			Distance *float64 `json:"distance"`
			Places   int      `json:"places"`
			PostID   string   `json:"post_id"`
			Post     *struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"post"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	} `json:"danger"`
	RecentRuns []cullRunView `json:"recent_runs"`
}

type cullRunView struct {
	ID           string `json:"id"`
	Cycle        int64  `json:"cycle"`
	Eligible     int    `json:"eligible"`
	VictimCount  int    `json:"victim_count"`
	FollowupDone bool   `json:"followup_done"`
	Victims      struct {
		Items []struct {
			Rank   int     `json:"rank"`
			Score  float64 `json:"score"`
			PostID string  `json:"post_id"`
			Post   *struct {
				Status string `json:"status"`
			} `json:"post"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	} `json:"victims"`
}

// GET /cull lists the danger zone; when the cycle then runs (no ratings in
// between), it culls exactly those posts, at those ranks and scores; the
// culled posts say where they fell, leave the boards, and their authors
// are told.
func TestCull_DangerZoneIsWhatIsCulled_200(t *testing.T) {
	// The cull's clock stands still: a test that ran across the top of the
	// hour (a cycle's start) would otherwise compare the danger zone of one
	// cycle with the run of the next.
	frozen := time.Now()
	cullClock = func() time.Time { return frozen }
	defer func() { cullClock = nil }()
	e := newEnv(t, func(c *config.Config) { c.CullShare = 0.3; c.CullFloor = 2 })
	ctx := context.Background()
	alice, bob, carol := e.signup("alice"), e.signup("bob"), e.signup("carol")
	var old []string
	for i := range 10 {
		author := alice
		if i%2 == 1 {
			author = bob
		}
		p := author.newPost(nil, "", "caption", fmt.Sprintf("joke %d", i)).want(201).post()
		carol.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 1 + i%5}).want(200)
		old = append(old, p.ID)
	}
	young := bob.newPost(nil, "", "caption", "a fresh joke").want(201).post() // unrated and young: safe
	// The ten are two days old: past the grace period.
	if _, err := e.db.Exec(ctx, `UPDATE posts SET created_at = now() - interval '48 hours' WHERE id = ANY($1::bigint[])`, old); err != nil {
		t.Fatal(err)
	}

	anon := e.client()
	// Anonymous board pages are cached until the boards change: read the
	// page now, so that the check after the cull also proves the cull
	// moved the cache on.
	anon.get("/api/v1/leaderboards/top?limit=100").want(200)
	var st cullStatusView
	anon.get("/api/v1/cull").want(200).json(&st)
	if st.Ready != 11 || st.Eligible != 10 || st.Danger.Count != 3 || len(st.Danger.Items) != 3 || st.Danger.NextCursor != nil {
		t.Fatalf("ready %d, eligible %d, danger %d (%d items); want 11, 10, ⌊0.3 × 10⌋ = 3", st.Ready, st.Eligible, st.Danger.Count, len(st.Danger.Items))
	}
	if st.Settings.Board != "top" || st.Settings.Share != 0.3 || st.Settings.Floor != 2 || st.NextCullAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("settings %+v, next cull %s", st.Settings, st.NextCullAt)
	}
	var danger []string
	for i, it := range st.Danger.Items {
		danger = append(danger, it.PostID)
		if it.Post == nil || it.Post.ID != it.PostID || it.Post.Status != "ready" || it.Places != i+1 || it.Distance == nil || st.Danger.SafeScore == nil {
			t.Fatalf("item %d: %+v", i, it)
		}
		if it.PostID == young.ID {
			t.Fatal("a young post is in the danger zone")
		}
	}
	// Paging: one item at a time gives the same list.
	var paged []string
	cursor := ""
	for {
		var pg cullStatusView
		anon.get("/api/v1/cull?limit=1&cursor=" + cursor).want(200).json(&pg)
		for _, it := range pg.Danger.Items {
			paged = append(paged, it.PostID)
		}
		if pg.Danger.NextCursor == nil {
			break
		}
		cursor = *pg.Danger.NextCursor
	}
	if !slices.Equal(paged, danger) {
		t.Fatalf("paged %v, whole %v", paged, danger)
	}

	// The worker's tick runs the due cycle and its follow-up.
	e.startWorker()
	if err := e.cull.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var runID string
	e.eventually("the cull and its follow-up", func() bool {
		var s cullStatusView
		anon.get("/api/v1/cull").want(200).json(&s)
		if len(s.RecentRuns) == 0 || !s.RecentRuns[0].FollowupDone {
			return false
		}
		runID = s.RecentRuns[0].ID
		return true
	})
	var run cullRunView
	anon.get("/api/v1/cull/runs/" + runID).want(200).json(&run)
	if run.VictimCount != 3 || run.Eligible != 10 || run.Cycle != st.Cycle || run.Victims.NextCursor != nil {
		t.Fatalf("run %+v; the danger zone was for cycle %d", run, st.Cycle)
	}
	for i, v := range run.Victims.Items {
		d := st.Danger.Items[i]
		if v.PostID != d.PostID || v.Rank != d.Rank || v.Score != d.Score || v.Post == nil || v.Post.Status != "culled" {
			t.Fatalf("victim %d: %+v; the danger zone listed %+v", i, v, d)
		}
	}
	// Victims page by rank too.
	var first cullRunView
	anon.get("/api/v1/cull/runs/" + runID + "?limit=2").want(200).json(&first)
	if len(first.Victims.Items) != 2 || first.Victims.NextCursor == nil {
		t.Fatalf("first page %+v", first.Victims)
	}
	var second cullRunView
	anon.get("/api/v1/cull/runs/" + runID + "?limit=2&cursor=" + *first.Victims.NextCursor).want(200).json(&second)
	if len(second.Victims.Items) != 1 || second.Victims.Items[0].PostID != danger[2] || second.Victims.NextCursor != nil {
		t.Fatalf("second page %+v", second.Victims)
	}
	// A rank cursor out of range is the caller's mistake, not the server's.
	for _, cur := range []string{"3000000000", "-1", "x"} {
		if code := anon.get("/api/v1/cull/runs/" + runID + "?cursor=" + cur).want(400).errCode(); code != "invalid" {
			t.Fatalf("cursor %s: %s", cur, code)
		}
	}

	// A culled post's page says where it fell.
	var page struct {
		Status string `json:"status"`
		Media  any    `json:"media"`
		Culled *struct {
			RunID string `json:"run_id"`
			Cycle int64  `json:"cycle"`
			Rank  int    `json:"rank"`
		} `json:"culled"`
	}
	anon.get("/api/v1/posts/" + danger[0]).want(200).json(&page)
	if page.Status != "culled" || page.Culled == nil || page.Culled.RunID != runID || page.Culled.Cycle != st.Cycle || page.Culled.Rank != st.Danger.Items[0].Rank {
		t.Fatalf("culled post page: %+v", page)
	}
	var live struct{ Culled any }
	anon.get("/api/v1/posts/" + young.ID).want(200).json(&live)
	if live.Culled != nil {
		t.Fatal("a ready post says it was culled")
	}
	// It left the boards and the lists.
	var board struct {
		Items []struct {
			Post struct{ ID string } `json:"post"`
		} `json:"items"`
	}
	anon.get("/api/v1/leaderboards/top?limit=100").want(200).json(&board)
	var lst struct{ Items []struct{ ID string } }
	anon.get("/api/v1/posts?limit=100").want(200).json(&lst)
	for _, id := range danger {
		for _, it := range board.Items {
			if it.Post.ID == id {
				t.Fatalf("culled post %s is on the top board", id)
			}
		}
		for _, it := range lst.Items {
			if it.ID == id {
				t.Fatalf("culled post %s is in the list", id)
			}
		}
		n := e.count(`SELECT count(*) FROM posts WHERE id = $1 AND culled_rank IS NOT NULL`, id)
		if n != 1 {
			t.Fatalf("post %s not marked", id)
		}
	}
	if n, err := e.rdb.ZCard(ctx, e.rankPrefix+"board:top:all").Result(); err != nil || n != 8 {
		t.Fatalf("the Redis top board holds %d posts (%v); want 8", n, err)
	}
	// The authors were told, once per culled post.
	victimsOf := map[string]int{}
	for _, id := range danger {
		victimsOf[map[bool]string{true: "alice", false: "bob"}[slices.Index(old, id)%2 == 0]]++
	}
	for name, c := range map[string]*client{"alice": alice, "bob": bob} {
		var notes struct {
			Items []struct {
				Kind string         `json:"kind"`
				Data map[string]any `json:"data"`
			} `json:"items"`
		}
		c.get("/api/v1/notifications?limit=100").want(200).json(&notes)
		culled := 0
		for _, n := range notes.Items {
			if n.Kind == "culled" {
				culled++
				if n.Data["run_id"] != runID || n.Data["cycle"] != float64(st.Cycle) {
					t.Errorf("%s: culled notification %v", name, n.Data)
				}
			}
		}
		if culled != victimsOf[name] {
			t.Errorf("%s got %d culled notifications; %d of their posts were culled", name, culled, victimsOf[name])
		}
	}
	// Profiles count survivors and the culled.
	var prof struct {
		Stats struct {
			Posts    int `json:"posts"`
			Survived int `json:"posts_survived"`
			Culled   int `json:"posts_culled"`
		} `json:"stats"`
	}
	anon.get("/api/v1/profiles/bob").want(200).json(&prof)
	if prof.Stats.Culled != victimsOf["bob"] || prof.Stats.Survived != 5-victimsOf["bob"] || prof.Stats.Posts != 6-victimsOf["bob"] {
		t.Fatalf("bob's stats %+v; %d culled", prof.Stats, victimsOf["bob"])
	}
	// GET /cull now shows the run and the next cycle's zone.
	var after cullStatusView
	anon.get("/api/v1/cull").want(200).json(&after)
	if after.Cycle != st.Cycle+1 || len(after.RecentRuns) != 1 || after.RecentRuns[0].ID != runID || after.Danger.Count != 2 {
		t.Fatalf("after the cull: cycle %d, runs %+v, danger %d", after.Cycle, after.RecentRuns, after.Danger.Count)
	}
}

// The danger zone check tells authors when their post enters it.
func TestCull_DangerNotification_200(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.CullShare = 0.5; c.CullFloor = 0 })
	alice, _, ids := oldRatedPosts(t, e)
	if _, err := e.cull.CheckDanger(context.Background()); err != nil {
		t.Fatal(err)
	}
	var notes struct {
		Items []struct {
			Kind string         `json:"kind"`
			Data map[string]any `json:"data"`
		} `json:"items"`
	}
	alice.get("/api/v1/notifications").want(200).json(&notes)
	var entered []string
	for _, n := range notes.Items {
		if n.Kind == "danger" && n.Data["state"] == "entered" {
			entered = append(entered, n.Data["post_id"].(string))
		}
	}
	slices.Sort(entered)
	if want := []string{ids[0], ids[1]}; !slices.Equal(entered, want) {
		t.Fatalf("danger notifications for %v; want %v", entered, want)
	}
}

func TestCullRun_404_400(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if code := c.get("/api/v1/cull/runs/999").want(404).errCode(); code != "not_found" {
		t.Fatal(code)
	}
	c.get("/api/v1/cull/runs/abc").want(404)
	c.get("/api/v1/cull?limit=0").want(400)
	c.get("/api/v1/cull?cursor=x").want(400)
	// The zone is as long as the quota, which can pass a board's depth.
	c.get("/api/v1/cull?cursor=150000").want(200)
	var st cullStatusView
	c.get("/api/v1/cull").want(200).json(&st)
	if st.Danger.Count != 0 || len(st.Danger.Items) != 0 || st.RecentRuns == nil || len(st.RecentRuns) != 0 {
		t.Fatalf("empty site: %+v", st)
	}
}

// Anonymous GET /cull answers are shared between readers, but never
// outlive a change: right after ratings move posts in or out of the danger
// zone, an anonymous reader sees the same zone as a signed-in one (whose
// answer is computed afresh).
func TestCull_AnonymousZoneFollowsRatings_200(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.CullShare = 0.5; c.CullFloor = 0 })
	_, carol, ids := oldRatedPosts(t, e)
	zone := func(c *client) []string {
		t.Helper()
		var st cullStatusView
		c.get("/api/v1/cull").want(200).json(&st)
		out := make([]string, 0, len(st.Danger.Items))
		for _, it := range st.Danger.Items {
			out = append(out, it.PostID)
		}
		slices.Sort(out)
		return out
	}
	anon := e.client()
	before := zone(anon)
	if again := zone(anon); !slices.Equal(before, again) || len(before) != 2 {
		t.Fatalf("danger zone %v, then %v; want the same two posts", before, again)
	}
	// The lowest-rated post gets three five-star ratings and climbs out.
	for _, name := range []string{"dave", "erin", "fred"} {
		e.signup(name).do("PUT", "/api/v1/posts/"+ids[0]+"/rating", map[string]int{"stars": 5}).want(200)
	}
	after, fresh := zone(anon), zone(carol)
	if !slices.Equal(after, fresh) {
		t.Fatalf("anonymous danger zone %v, signed-in %v: the anonymous answer is stale", after, fresh)
	}
	if slices.Contains(after, ids[0]) || slices.Equal(after, before) {
		t.Fatalf("danger zone %v before and %v after %s climbed out", before, after, ids[0])
	}
}

// oldRatedPosts has alice post four jokes that carol rates 1 to 4 stars,
// all made two days old (past the grace period); it returns the two users
// and the posts, lowest-rated first.
func oldRatedPosts(t *testing.T, e *env) (alice, carol *client, ids []string) {
	t.Helper()
	alice, carol = e.signup("alice"), e.signup("carol")
	for i := range 4 {
		p := alice.newPost(nil, "", "caption", fmt.Sprintf("joke %d", i)).want(201).post()
		carol.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 1 + i}).want(200)
		ids = append(ids, p.ID)
	}
	if _, err := e.db.Exec(context.Background(), `UPDATE posts SET created_at = now() - interval '48 hours'`); err != nil {
		t.Fatal(err)
	}
	return alice, carol, ids
}

// The cull's transaction records its victims and leaves their posts rows
// to the follow-up, which marks them in batches. In between — here, the
// follow-up has not run at all — the victims are culled for everyone all
// the same: their pages say where they fell, they are in no list and on
// no board served by PostgreSQL, they take no ratings, comments,
// reactions or edits, their authors' profiles count them culled, and the
// next danger zone does not count them. After the follow-up, the answers
// are the same, and the rows say it too.
func TestCull_VictimsCulledBeforeTheirRowsAreMarked_409(t *testing.T) {
	frozen := time.Now()
	cullClock = func() time.Time { return frozen }
	defer func() { cullClock = nil }()
	e := newEnv(t, func(c *config.Config) { c.CullShare = 0.5; c.CullFloor = 0 })
	ctx := context.Background()
	alice, carol := e.signup("alice"), e.signup("carol")
	var old []string
	for i := range 4 {
		p := alice.newPost(nil, "", "caption", fmt.Sprintf("joke %d", i)).want(201).post()
		carol.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 1 + i}).want(200)
		old = append(old, p.ID)
	}
	if _, err := e.db.Exec(ctx, `UPDATE posts SET created_at = now() - interval '48 hours' WHERE id = ANY($1::bigint[])`, old); err != nil {
		t.Fatal(err)
	}
	// A post's stats_version orders its copies (browsers keep the newer):
	// the copy that says culled must be newer than the one that said
	// ready, before the rows are marked as after.
	versionOf := func(id string) int64 {
		var p struct {
			Version int64 `json:"stats_version"`
		}
		e.client().get("/api/v1/posts/" + id).want(200).json(&p)
		return p.Version
	}
	before := versionOf(old[0])
	c, err := e.cull.NextCycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run, created, err := e.cull.Cull(ctx, c)
	if err != nil || !created || run.Victims != 2 {
		t.Fatalf("Cull = %+v, %v, %v; want 2 victims", run, created, err)
	}
	victims, survivors := old[:2], old[2:] // the two worst rated
	culledAt := versionOf(old[0])
	if culledAt <= before {
		t.Fatalf("stats_version %d once culled, %d before: the culled copy is not the newer", culledAt, before)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE id = ANY($1::bigint[]) AND status = 'ready'`, victims); n != 2 {
		t.Fatalf("%d victims' rows still say ready; this test is about the time before they are marked", n)
	}
	anon := e.client()
	check := func(when string) {
		t.Helper()
		for _, id := range victims {
			var page struct {
				Status string `json:"status"`
				Culled *struct {
					RunID string `json:"run_id"`
					Cycle int64  `json:"cycle"`
				} `json:"culled"`
			}
			anon.get("/api/v1/posts/" + id).want(200).json(&page)
			if page.Status != "culled" || page.Culled == nil || page.Culled.RunID != fmt.Sprint(run.ID) || page.Culled.Cycle != c.Number {
				t.Fatalf("%s: post %s: %+v", when, id, page)
			}
			for _, path := range []string{"/api/v1/posts?limit=100", "/api/v1/leaderboards/new?limit=100", "/api/v1/posts?author=alice&limit=100"} {
				var lst struct {
					Items []struct {
						ID   string `json:"id"`
						Post struct {
							ID string `json:"id"`
						} `json:"post"`
					} `json:"items"`
				}
				anon.get(path).want(200).json(&lst)
				for _, it := range lst.Items {
					if it.ID == id || it.Post.ID == id {
						t.Fatalf("%s: culled post %s listed by %s", when, id, path)
					}
				}
			}
			if code := carol.do("PUT", "/api/v1/posts/"+id+"/rating", map[string]int{"stars": 5}).want(409).errCode(); code != "conflict" {
				t.Fatalf("%s: rating a culled post: %s", when, code)
			}
			carol.do("POST", "/api/v1/posts/"+id+"/comments", map[string]string{"body": "still funny"}).want(409)
			carol.do("PUT", "/api/v1/posts/"+id+"/reactions/laugh", nil).want(409)
			alice.do("PATCH", "/api/v1/posts/"+id, map[string]string{"caption": "edited"}).want(409)
		}
		var prof struct {
			Stats struct {
				Posts  int `json:"posts"`
				Culled int `json:"posts_culled"`
			} `json:"stats"`
		}
		anon.get("/api/v1/profiles/alice").want(200).json(&prof)
		if prof.Stats.Posts != 2 || prof.Stats.Culled != 2 {
			t.Fatalf("%s: alice's stats %+v; want 2 posts up, 2 culled", when, prof.Stats)
		}
		var st cullStatusView
		anon.get("/api/v1/cull").want(200).json(&st)
		if st.Ready != 2 || st.Eligible != 2 {
			t.Fatalf("%s: the next zone counts %d ready, %d eligible; want 2 and 2", when, st.Ready, st.Eligible)
		}
		for _, id := range survivors {
			carol.do("PUT", "/api/v1/posts/"+id+"/rating", map[string]int{"stars": 5}).want(200)
		}
	}
	check("before the follow-up")
	if err := e.cull.Followup(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE id = ANY($1::bigint[]) AND status = 'culled' AND culled_run_id = $2`, victims, run.ID); n != 2 {
		t.Fatalf("%d victims' rows marked by the follow-up; want 2", n)
	}
	check("after the follow-up")
	if v := versionOf(old[0]); v != culledAt {
		t.Fatalf("stats_version %d once the row is marked, %d before: the same state must keep its version", v, culledAt)
	}
}
