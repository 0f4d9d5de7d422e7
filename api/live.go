package api

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/realtime"
	"github.com/jokster/jokster/view"
)

// liveSnapshots teaches the hub what each channel looks like now, in the
// same JSON shapes as the REST API.
func (s *server) liveSnapshots(h *realtime.Hub) {
	h.Handle("post:", func(ctx context.Context, ch string, viewer int64) (any, error) {
		id, err := strconv.ParseInt(strings.TrimPrefix(ch, "post:"), 10, 64)
		if err != nil {
			return nil, err
		}
		p, err := s.Posts.Get(ctx, id, viewer)
		if err != nil {
			return nil, err
		}
		if s.Ranking != nil && p.Status == jokster.PostReady {
			p.Ranks = s.Ranking.Ranks(ctx, map[int64]time.Time{p.ID: p.CreatedAt})[p.ID]
		}
		return map[string]any{"post": view.PostOf(p), "viewers": h.Viewers(ctx, ch)}, nil
	})
	h.Handle("posts:new", func(ctx context.Context, _ string, viewer int64) (any, error) {
		pg, err := s.Posts.List(ctx, posts.ListQuery{Limit: 20, Viewer: viewer})
		if err != nil {
			return nil, err
		}
		items := make([]view.Post, 0, len(pg.Items))
		for _, p := range pg.Items {
			items = append(items, view.PostOf(p))
		}
		return map[string]any{"items": items}, nil
	})
	h.Handle("me:", func(ctx context.Context, _ string, viewer int64) (any, error) {
		n, err := s.Notifications.UnreadCount(ctx, viewer)
		if err != nil {
			return nil, err
		}
		pg, err := s.Notifications.List(ctx, viewer, false, "", 10)
		if err != nil {
			return nil, err
		}
		items := make([]view.Notification, 0, len(pg.Items))
		for _, it := range pg.Items {
			items = append(items, view.NotificationOf(it))
		}
		return map[string]any{"unread_count": n, "latest": items}, nil
	})
	if s.Ranking != nil {
		h.Boards(s.boardSource)
	}
	if s.Cull != nil {
		h.Handle("danger", func(ctx context.Context, _ string, _ int64) (any, error) {
			z, err := s.Cull.Danger(ctx, 0, 20)
			if err != nil {
				return nil, err
			}
			items := make([]map[string]any, 0, len(z.Items))
			for _, e := range z.Items {
				items = append(items, map[string]any{"post_id": strconv.FormatInt(e.PostID, 10), "rank": e.Rank,
					"score": e.Score, "distance": e.Distance, "places": e.Places})
			}
			return map[string]any{"next_cull_at": z.CullAt.UTC(), "cycle": z.Cycle.Number, "count": z.Count,
				"eligible": z.Eligible, "items": items}, nil
		})
	}
}

// boardSource reads the top of a board for live subscribers: hot, new,
// creators, top:all|day|week, tag:<name>:top|hot.
func (s *server) boardSource(ctx context.Context, board string) ([]realtime.BoardEntry, error) {
	name := board
	switch {
	case board == "top:day" || board == "top:week":
		name, _ = ranking.BoardName("top", strings.TrimPrefix(board, "top:"), "")
	case board == "top:all":
	}
	entries, _, err := s.Ranking.Board(ctx, name, 0, s.liveBoardSize())
	if err != nil {
		return nil, err
	}
	out := make([]realtime.BoardEntry, 0, len(entries))
	if name == "creators" {
		for _, e := range entries {
			p, err := s.Profiles.ByID(ctx, e.ID, 0)
			if err != nil {
				continue
			}
			out = append(out, realtime.BoardEntry{ID: strconv.FormatInt(e.ID, 10), Rank: e.Rank, Score: e.Score,
				Item: creatorJSON{profileJSON: profileOut(p), Laughs: int64(e.Score)}})
		}
		return out, nil
	}
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	ps, err := s.Posts.GetMany(ctx, ids, 0)
	if err != nil {
		return nil, err
	}
	byID := map[int64]jokster.Post{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	for _, e := range entries {
		p, ok := byID[e.ID]
		if !ok || p.Status != jokster.PostReady {
			continue
		}
		out = append(out, realtime.BoardEntry{ID: strconv.FormatInt(e.ID, 10), Rank: e.Rank, Score: e.Score, Item: view.PostOf(p)})
	}
	return out, nil
}

func (s *server) liveBoardSize() int { return 20 }
