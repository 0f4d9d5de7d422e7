package api

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/cull"
)

type cullRunJSON struct {
	ID           string           `json:"id"`
	Cycle        int64            `json:"cycle"`
	CycleStart   time.Time        `json:"cycle_start"`
	Cutoff       time.Time        `json:"cutoff"`
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   *time.Time       `json:"finished_at"`
	Settings     cull.SettingsDoc `json:"settings"`
	Ready        int              `json:"ready"`
	Eligible     int              `json:"eligible"`
	VictimCount  int              `json:"victim_count"`
	FollowupDone bool             `json:"followup_done"`
}

func cullRunOut(r cull.Run) cullRunJSON {
	out := cullRunJSON{ID: strconv.FormatInt(r.ID, 10), Cycle: r.Cycle.Number, CycleStart: r.Cycle.Start.UTC(), Cutoff: r.Cutoff.UTC(),
		StartedAt: r.StartedAt.UTC(), Settings: r.Settings, Ready: r.Ready, Eligible: r.Eligible, VictimCount: r.Victims,
		FollowupDone: r.FollowupDoneAt != nil}
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	return out
}

type endangeredJSON struct {
	Rank     int       `json:"rank"`
	Score    float64   `json:"score"`
	Distance *float64  `json:"distance"`
	Places   int       `json:"places"`
	PostID   string    `json:"post_id"`
	Post     *postJSON `json:"post"`
}

type dangerJSON struct {
	Count      int              `json:"count"`
	SafeScore  *float64         `json:"safe_score"`
	Items      []endangeredJSON `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

type cullJSON struct {
	NextCullAt time.Time        `json:"next_cull_at"`
	Cycle      int64            `json:"cycle"`
	Cutoff     time.Time        `json:"cutoff"`
	Settings   cull.SettingsDoc `json:"settings"`
	Ready      int              `json:"ready"`
	Eligible   int              `json:"eligible"`
	Danger     dangerJSON       `json:"danger"`
	RecentRuns []cullRunJSON    `json:"recent_runs"`
}

// recentRuns is how many runs GET /cull shows.
const recentRuns = 10

// postsByID fetches the posts the caller may see, with their ranks.
func (s *server) postsByID(c *fiber.Ctx, ids []int64) (map[int64]*postJSON, error) {
	ps, err := s.Posts.GetMany(c.UserContext(), ids, viewer(c))
	if err != nil {
		return nil, err
	}
	ptrs := make([]*jokster.Post, len(ps))
	for i := range ps {
		ptrs[i] = &ps[i]
	}
	s.withRanks(c, ptrs...)
	out := make(map[int64]*postJSON, len(ps))
	for _, p := range ps {
		pj := postOut(p)
		out[p.ID] = &pj
	}
	return out, nil
}

// cull is GET /cull: the next cull, its settings, the danger zone (one
// page, best-ranked first) and the recent runs.
//
// Computing the zone counts the ready and eligible posts (an index-only
// scan of every ready post: about 0.1 s at a million) and this page is
// public, so anonymous answers are shared (sendShared): one computation at
// a time per page, kept while the boards' generation (which every rating,
// new post, removal and cull moves) and the cycle stay the same.
func (s *server) cull(c *fiber.Ctx) error {
	if s.Cull == nil {
		return jokster.Errorf(jokster.EUNAVAILABLE, "the cull is not configured on this node")
	}
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	offset, err := offsetCursor(cursor, math.MaxInt32) // the zone is as long as the cull's quota
	if err != nil {
		return err
	}
	// The key's cycle: eligibility changes when a new cycle starts.
	cycle := s.Cull.Settings().CycleAt(time.Now()).Number
	key := "cull|" + strconv.Itoa(offset) + "|" + strconv.Itoa(limit) + "|" + strconv.FormatInt(cycle, 10)
	return s.sendShared(c, key, func() ([]byte, error) { return s.cullPage(c, offset, limit) })
}

// cullPage renders GET /cull for c's viewer.
func (s *server) cullPage(c *fiber.Ctx, offset, limit int) ([]byte, error) {
	ctx := c.UserContext()
	z, err := s.Cull.Danger(ctx, offset, limit)
	if err != nil {
		return nil, err
	}
	runs, err := s.Cull.Recent(ctx, recentRuns)
	if err != nil {
		return nil, err
	}
	out := cullJSON{NextCullAt: z.CullAt.UTC(), Cycle: z.Cycle.Number, Cutoff: z.Cutoff.UTC(), Settings: s.Cull.Settings().Doc(),
		Ready: z.Ready, Eligible: z.Eligible, RecentRuns: make([]cullRunJSON, 0, len(runs)),
		Danger: dangerJSON{Count: z.Count, SafeScore: z.SafeScore, Items: make([]endangeredJSON, 0, len(z.Items))}}
	for _, r := range runs {
		out.RecentRuns = append(out.RecentRuns, cullRunOut(r))
	}
	ids := make([]int64, len(z.Items))
	for i, e := range z.Items {
		ids[i] = e.PostID
	}
	byID, err := s.postsByID(c, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range z.Items {
		out.Danger.Items = append(out.Danger.Items, endangeredJSON{Rank: e.Rank, Score: e.Score, Distance: e.Distance, Places: e.Places,
			PostID: strconv.FormatInt(e.PostID, 10), Post: byID[e.PostID]})
	}
	out.Danger.NextCursor = nextOffset(z.More, offset, limit, math.MaxInt32)
	return json.Marshal(out)
}

type victimJSON struct {
	Rank   int       `json:"rank"`
	Score  float64   `json:"score"`
	PostID string    `json:"post_id"`
	Post   *postJSON `json:"post"`
}

type cullRunWithVictims struct {
	cullRunJSON
	Victims list[victimJSON] `json:"victims"`
}

// cullRun is GET /cull/runs/{id}: one run and a page of its victims, by
// rank (the cursor is the last rank seen).
func (s *server) cullRun(c *fiber.Ctx) error {
	if s.Cull == nil {
		return jokster.Errorf(jokster.EUNAVAILABLE, "the cull is not configured on this node")
	}
	id, ok := parseID(c.Params("id"))
	if !ok {
		return cull.ErrNoRun
	}
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	after := 0
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 32) // a rank (int in PostgreSQL)
		if err != nil || n < 0 {
			return jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})
		}
		after = int(n)
	}
	ctx := c.UserContext()
	run, err := s.Cull.Run(ctx, id)
	if err != nil {
		return err
	}
	vs, more, err := s.Cull.Victims(ctx, id, after, limit)
	if err != nil {
		return err
	}
	ids := make([]int64, len(vs))
	for i, v := range vs {
		ids[i] = v.PostID
	}
	byID, err := s.postsByID(c, ids)
	if err != nil {
		return err
	}
	out := cullRunWithVictims{cullRunJSON: cullRunOut(run), Victims: list[victimJSON]{Items: make([]victimJSON, 0, len(vs))}}
	for _, v := range vs {
		out.Victims.Items = append(out.Victims.Items, victimJSON{Rank: v.Rank, Score: v.Score, PostID: strconv.FormatInt(v.PostID, 10), Post: byID[v.PostID]})
	}
	if more {
		next := strconv.Itoa(vs[len(vs)-1].Rank)
		out.Victims.NextCursor = &next
	}
	return c.JSON(out)
}

type culledJSON struct {
	RunID string    `json:"run_id"`
	Cycle int64     `json:"cycle"`
	Rank  int       `json:"rank"`
	At    time.Time `json:"at"`
}

type postWithCulled struct {
	postJSON
	Culled *culledJSON `json:"culled,omitempty"`
}

// postView is a post as its own page shows it: a culled post also says
// where it fell ("culled in cycle N at rank R").
func (s *server) postView(c *fiber.Ctx, p jokster.Post) any {
	if p.Status != jokster.PostCulled || s.Cull == nil {
		return postOut(p)
	}
	info, err := s.Cull.CulledInfo(c.UserContext(), []int64{p.ID})
	out := postWithCulled{postJSON: postOut(p)}
	if k, ok := info[p.ID]; ok && err == nil {
		out.Culled = &culledJSON{RunID: strconv.FormatInt(k.RunID, 10), Cycle: k.Cycle, Rank: k.Rank, At: k.At}
	}
	return out
}
