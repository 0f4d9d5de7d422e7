package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
)

func (s *server) listProfiles(c *fiber.Ctx) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	p, err := s.Profiles.List(c.UserContext(), c.Query("q"), cursor, limit, viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(listOf(p, profileOut))
}

type authorStatsJSON struct {
	Posts          int64 `json:"posts"`
	LaughsReceived int64 `json:"laughs_received"`
	BestRank       *int  `json:"best_rank"`
	// The cull: posts that faced a cull and are still up, posts culled.
	PostsSurvived int64 `json:"posts_survived"`
	PostsCulled   int64 `json:"posts_culled"`
}

type profileWithStats struct {
	profileJSON
	Stats authorStatsJSON `json:"stats"`
}

// authorStats are a profile's numbers: posts up, laughs received, and the
// best rank any of their posts holds on the all-time top board.
func (s *server) authorStats(c *fiber.Ctx, user int64) (authorStatsJSON, error) {
	if s.Posts == nil {
		return authorStatsJSON{}, nil
	}
	st, err := s.Posts.StatsOf(c.UserContext(), user)
	if err != nil {
		return authorStatsJSON{}, err
	}
	out := authorStatsJSON{Posts: st.Posts, LaughsReceived: st.Laughs}
	if s.Ranking != nil {
		out.BestRank = optInt(s.Ranking.BestRank(c.UserContext(), st.Ready))
	}
	if s.Cull != nil {
		cs, err := s.Cull.AuthorStats(c.UserContext(), user)
		if err != nil {
			return authorStatsJSON{}, err
		}
		out.PostsSurvived, out.PostsCulled = cs.Survived, cs.Culled
	}
	return out, nil
}

func (s *server) getProfile(c *fiber.Ctx) error {
	p, err := s.Profiles.Get(c.UserContext(), c.Params("username"), viewer(c))
	if err != nil {
		return err
	}
	st, err := s.authorStats(c, p.UserID)
	if err != nil {
		return err
	}
	return c.JSON(profileWithStats{profileJSON: profileOut(p), Stats: st})
}

func (s *server) follow(c *fiber.Ctx) error {
	p, err := s.Profiles.Follow(c.UserContext(), viewer(c), c.Params("username"))
	if err != nil {
		return err
	}
	return c.JSON(profileOut(p))
}

func (s *server) unfollow(c *fiber.Ctx) error {
	p, err := s.Profiles.Unfollow(c.UserContext(), viewer(c), c.Params("username"))
	if err != nil {
		return err
	}
	return c.JSON(profileOut(p))
}

func (s *server) followers(c *fiber.Ctx) error {
	return s.followList(c, true)
}

func (s *server) following(c *fiber.Ctx) error {
	return s.followList(c, false)
}

func (s *server) followList(c *fiber.Ctx, followers bool) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	get := s.Profiles.Following
	if followers {
		get = s.Profiles.Followers
	}
	p, err := get(c.UserContext(), c.Params("username"), cursor, limit, viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(listOf(p, profileOut))
}

func (s *server) listNotifications(c *fiber.Ctx) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	unread := false
	switch c.Query("unread") {
	case "", "false", "0":
	case "true", "1":
		unread = true
	default:
		return jokster.Invalid(map[string]string{"unread": "true or false"})
	}
	p, err := s.Notifications.List(c.UserContext(), viewer(c), unread, cursor, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(p, notificationOut))
}

func (s *server) unreadCount(c *fiber.Ctx) error {
	n, err := s.Notifications.UnreadCount(c.UserContext(), viewer(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"count": n})
}

func (s *server) markRead(c *fiber.Ctx) error {
	var in struct {
		IDs []string `json:"ids"`
		All bool     `json:"all"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if !in.All && len(in.IDs) == 0 {
		return jokster.Invalid(map[string]string{"ids": "send ids, or all: true"})
	}
	if len(in.IDs) > 500 {
		return jokster.Invalid(map[string]string{"ids": "at most 500 at a time"})
	}
	ids := make([]int64, 0, len(in.IDs))
	for _, v := range in.IDs {
		id, ok := parseID(v)
		if !ok {
			return jokster.Invalid(map[string]string{"ids": "each id must be a notification id"})
		}
		ids = append(ids, id)
	}
	n, err := s.Notifications.MarkRead(c.UserContext(), viewer(c), ids, in.All)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"unread_count": n})
}
