package api

import (
	"encoding/json"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
)

// withRanks fills the posts' ranks on the main boards.
func (s *server) withRanks(c *fiber.Ctx, ps ...*jokster.Post) {
	if s.Ranking == nil {
		return
	}
	ask := map[int64]time.Time{}
	for _, p := range ps {
		if p.Status == jokster.PostReady {
			ask[p.ID] = p.CreatedAt
		}
	}
	ranks := s.Ranking.Ranks(c.UserContext(), ask)
	for _, p := range ps {
		p.Ranks = ranks[p.ID]
	}
}

// pageRanks fills the ranks of a page of posts.
func (s *server) pageRanks(c *fiber.Ctx, ps []jokster.Post) {
	ptrs := make([]*jokster.Post, len(ps))
	for i := range ps {
		ptrs[i] = &ps[i]
	}
	s.withRanks(c, ptrs...)
}

func (s *server) ratePost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Stars *int `json:"stars"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Stars == nil {
		return jokster.Invalid(map[string]string{"stars": "required: a whole number from 1 to 5"})
	}
	if _, err := s.Ranking.Rate(c.UserContext(), id, viewer(c), *in.Stars); err != nil {
		return err
	}
	return s.sendPost(c, id)
}

func (s *server) unrate(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.Ranking.Withdraw(c.UserContext(), id, viewer(c)); err != nil {
		return err
	}
	return s.sendPost(c, id)
}

// sendPost answers with the post as the caller now sees it.
func (s *server) sendPost(c *fiber.Ctx, id int64) error {
	p, err := s.Posts.Get(c.UserContext(), id, viewer(c))
	if err != nil {
		return err
	}
	s.withRanks(c, &p)
	return c.JSON(s.postView(c, p))
}

type boardItemJSON struct {
	Rank    int          `json:"rank"`
	Score   float64      `json:"score"`
	Post    *postJSON    `json:"post,omitempty"`
	Creator *creatorJSON `json:"creator,omitempty"`
}

type creatorJSON struct {
	profileJSON
	Laughs int64 `json:"laughs"`
}

// offsetCursor: boards page by position, since their order changes all the
// time; a cursor is the offset of the next page, at most max.
func offsetCursor(cursor string, max int) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 || n > max {
		return 0, jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})
	}
	return n, nil
}

// maxBoardOffset is how deep boards can be paged: a page deeper down costs
// a walk past every entry above it when PostgreSQL serves the board. Lists
// give out no cursor beyond it, so every cursor they give out is accepted.
const maxBoardOffset = 100000

// nextOffset is the cursor of the page after the one at offset, if there
// is one that may be asked for.
func nextOffset(more bool, offset, limit, max int) *string {
	if !more || offset+limit > max {
		return nil
	}
	next := strconv.Itoa(offset + limit)
	return &next
}

// leaderboard is GET /leaderboards/{board}?window=&sort=&cursor=&limit=.
func (s *server) leaderboard(c *fiber.Ctx) error {
	// Path parameters arrive as sent: a tag in another script is
	// percent-encoded.
	board, err := url.PathUnescape(c.Params("board"))
	if err != nil {
		return jokster.Invalid(map[string]string{"board": "not a board name"})
	}
	name, err := ranking.BoardName(board, c.Query("window"), c.Query("sort"))
	if err != nil {
		return jokster.Invalid(map[string]string{"board": err.Error()})
	}
	if len(name) > 4 && name[:4] == "tag:" {
		tag, ok := posts.NormalizeTag(board[4:])
		if !ok {
			return jokster.Invalid(map[string]string{"board": "a tag is letters, digits and underscores"})
		}
		name, _ = ranking.BoardName("tag:"+tag, "", c.Query("sort"))
	}
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	offset, err := offsetCursor(cursor, maxBoardOffset)
	if err != nil {
		return err
	}
	return s.sendShared(c, name+"|"+strconv.Itoa(offset)+"|"+strconv.Itoa(limit), func() ([]byte, error) {
		return s.renderBoard(c, name, offset, limit)
	})
}

// renderBoard renders one page of a board for c's viewer.
func (s *server) renderBoard(c *fiber.Ctx, name string, offset, limit int) ([]byte, error) {
	entries, more, err := s.Ranking.Board(c.UserContext(), name, offset, limit)
	if err != nil {
		return nil, err
	}
	out := list[boardItemJSON]{Items: []boardItemJSON{}}
	out.NextCursor = nextOffset(more, offset, limit, maxBoardOffset)
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	if name == "creators" {
		for _, e := range entries {
			p, err := s.Profiles.ByID(c.UserContext(), e.ID, viewer(c))
			if err != nil {
				continue // the account went after the board was read
			}
			cr := &creatorJSON{profileJSON: profileOut(p), Laughs: int64(e.Score)}
			out.Items = append(out.Items, boardItemJSON{Rank: e.Rank, Score: e.Score, Creator: cr})
		}
		return json.Marshal(out)
	}
	ps, err := s.Posts.GetMany(c.UserContext(), ids, viewer(c))
	if err != nil {
		return nil, err
	}
	byID := map[int64]*jokster.Post{}
	ptrs := make([]*jokster.Post, len(ps))
	for i := range ps {
		byID[ps[i].ID] = &ps[i]
		ptrs[i] = &ps[i]
	}
	s.withRanks(c, ptrs...)
	for _, e := range entries {
		p, ok := byID[e.ID]
		if !ok || p.Status != jokster.PostReady {
			continue // left the board since it was read
		}
		pj := postOut(*p)
		out.Items = append(out.Items, boardItemJSON{Rank: e.Rank, Score: e.Score, Post: &pj})
	}
	return json.Marshal(out)
}

// sendShared answers with the JSON page render makes. Anonymous readers
// share one rendering of a page until the boards change (the generation,
// which every applied change and every rebuild moves, ends the key): one
// rendering at a time per key, then kept for at most pageCacheTTL.
// Signed-in readers (pages can show their own ratings) render their own.
func (s *server) sendShared(c *fiber.Ctx, key string, render func() ([]byte, error)) error {
	var b []byte
	var err error
	if viewer(c) != 0 || s.Ranking == nil {
		b, err = render()
	} else {
		gen := s.Ranking.Generation(c.UserContext())
		key += "|" + gen
		var ok bool
		if b, ok = s.pages.get(key); !ok || gen == "" {
			var v any
			v, err, _ = s.rendering.Do(key, func() (any, error) {
				b, err := render()
				if err == nil && gen != "" {
					s.pages.put(key, b)
				}
				return b, err
			})
			b, _ = v.([]byte)
		}
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// pageCache keeps rendered anonymous pages for a short time.
type pageCache struct {
	mu      sync.Mutex
	entries map[string]cachedPage
}

type cachedPage struct {
	body []byte
	at   time.Time
}

// The generation in the key makes entries exact; the age limit only
// bounds how long a page of posts keeps showing an edited caption.
const pageCacheTTL = time.Second

func (b *pageCache) get(key string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || time.Since(e.at) > pageCacheTTL {
		return nil, false
	}
	return e.body, true
}

func (b *pageCache) put(key string, body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil || len(b.entries) > 1000 {
		b.entries = map[string]cachedPage{}
	}
	b.entries[key] = cachedPage{body: body, at: time.Now()}
}

// rankedPosts serves GET /posts?sort=hot|top from the boards, as a plain
// post list.
func (s *server) rankedPosts(c *fiber.Ctx, sort, tag string, cursor string, limit int) error {
	board := sort
	if tag != "" {
		board = "tag:" + tag
	}
	name, err := ranking.BoardName(board, c.Query("window"), sort)
	if err != nil {
		return jokster.Invalid(map[string]string{"window": err.Error()})
	}
	offset, err := offsetCursor(cursor, maxBoardOffset)
	if err != nil {
		return err
	}
	entries, more, err := s.Ranking.Board(c.UserContext(), name, offset, limit)
	if err != nil {
		return err
	}
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	ps, err := s.Posts.GetMany(c.UserContext(), ids, viewer(c))
	if err != nil {
		return err
	}
	ptrs := make([]*jokster.Post, len(ps))
	for i := range ps {
		ptrs[i] = &ps[i]
	}
	s.withRanks(c, ptrs...)
	out := list[postJSON]{Items: []postJSON{}}
	for _, p := range ps {
		if p.Status == jokster.PostReady {
			out.Items = append(out.Items, postOut(p))
		}
	}
	out.NextCursor = nextOffset(more, offset, limit, maxBoardOffset)
	return c.JSON(out)
}
