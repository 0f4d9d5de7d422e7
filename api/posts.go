package api

import (
	"mime/multipart"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/media"
	"github.com/jokster/jokster/posts"
)

type reportJSON struct {
	ID         string     `json:"id"`
	PostID     string     `json:"post_id"`
	Reporter   *string    `json:"reporter"`
	Reason     string     `json:"reason"`
	Note       string     `json:"note"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	Resolution string     `json:"resolution"`
}

func reportOut(r jokster.Report) reportJSON {
	if r.ResolvedAt != nil {
		t := r.ResolvedAt.UTC()
		r.ResolvedAt = &t
	}
	return reportJSON{ID: strconv.FormatInt(r.ID, 10), PostID: strconv.FormatInt(r.PostID, 10), Reporter: optStr(r.Reporter),
		Reason: r.Reason, Note: r.Note, CreatedAt: r.CreatedAt.UTC(), ResolvedAt: r.ResolvedAt, Resolution: r.Resolution}
}

func pathID(c *fiber.Ctx, name string) (int64, error) {
	id, ok := parseID(c.Params(name))
	if !ok {
		what := "post"
		if name != "id" {
			what = name[:len(name)-2]
		}
		return 0, jokster.Errorf(jokster.ENOTFOUND, "no such %s", what)
	}
	return id, nil
}

// createPost takes multipart/form-data: an optional `media` file, `caption`,
// and `tags` (repeated fields or one comma-separated field).
func (s *server) createPost(c *fiber.Ctx) error {
	ctx := c.UserContext()
	uid := viewer(c)
	if err := s.Posts.CheckBan(ctx, uid); err != nil {
		return err
	}
	var in posts.CreateInput
	var up *media.Upload
	err := parts(c, s.cfg.UploadMaxBytes+64<<10, func(p *multipart.Part) error {
		switch p.FormName() {
		case "media":
			if up != nil {
				return jokster.Invalid(map[string]string{"media": "one file per post"})
			}
			empty, r := emptyFile(p)
			if empty {
				return nil
			}
			u, err := s.Posts.Ingest(ctx, r)
			if err != nil {
				return err
			}
			up = &u
		case "caption":
			v, err := formValue(p, 16<<10)
			in.Caption = v
			return err
		case "tags":
			v, err := formValue(p, 4<<10)
			in.Tags = append(in.Tags, v)
			return err
		default:
			return jokster.Invalid(map[string]string{p.FormName(): "unknown field; send media, caption and tags"})
		}
		return nil
	})
	if err != nil {
		s.Posts.Discard(ctx, up)
		return err
	}
	in.Upload = up
	p, err := s.Posts.Create(ctx, uid, in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/posts/" + strconv.FormatInt(p.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(postOut(p))
}

// postRules is GET /posts/rules: what a post may be on this server.
func (s *server) postRules(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(s.Posts.Rules())
}

func (s *server) getPost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	return s.sendPost(c, id)
}

func (s *server) updatePost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Caption *string  `json:"caption"`
		Tags    []string `json:"tags"`
	}
	// encoding/json leaves Tags nil for an absent key and for null, which
	// PostUpdate says are the same (unchanged), and makes [] an empty,
	// non-nil slice: remove every tag.
	if err := decode(c, &in); err != nil {
		return err
	}
	if _, err := s.Posts.Update(c.UserContext(), id, viewer(c), posts.Update{Caption: in.Caption, Tags: in.Tags}); err != nil {
		return err
	}
	return s.sendPost(c, id)
}

func (s *server) deletePost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.Posts.Delete(c.UserContext(), id, viewer(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// listPosts is GET /posts?sort=new&tag=&author=&cursor=&limit=.
func (s *server) listPosts(c *fiber.Ctx) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	q := posts.ListQuery{Author: c.Query("author"), Cursor: cursor, Limit: limit, Viewer: viewer(c)}
	if t := c.Query("tag"); t != "" {
		tag, ok := posts.NormalizeTag(t)
		if !ok {
			return jokster.Invalid(map[string]string{"tag": "a tag is letters, digits and underscores"})
		}
		q.Tag = tag
	}
	switch sort := c.Query("sort", "new"); sort {
	case "new":
	case "hot", "top":
		if q.Author != "" {
			return jokster.Invalid(map[string]string{"author": "author lists are sorted by new only"})
		}
		return s.rankedPosts(c, sort, q.Tag, cursor, limit)
	default:
		return jokster.Invalid(map[string]string{"sort": "one of new, hot, top"})
	}
	pg, err := s.Posts.List(c.UserContext(), q)
	if err != nil {
		return err
	}
	s.pageRanks(c, pg.Items)
	return c.JSON(listOf(pg, postOut))
}

func (s *server) feed(c *fiber.Ctx) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	pg, err := s.Posts.Feed(c.UserContext(), viewer(c), cursor, limit)
	if err != nil {
		return err
	}
	s.pageRanks(c, pg.Items)
	return c.JSON(listOf(pg, postOut))
}

func (s *server) addComment(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	cm, err := s.Posts.AddComment(c.UserContext(), id, viewer(c), in.Body)
	if err != nil {
		return err
	}
	c.Location("/api/v1/posts/" + strconv.FormatInt(id, 10) + "/comments/" + strconv.FormatInt(cm.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(commentOut(cm))
}

func (s *server) listComments(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	pg, err := s.Posts.Comments(c.UserContext(), id, viewer(c), cursor, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, commentOut))
}

func (s *server) deleteComment(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cid, err := pathID(c, "commentId")
	if err != nil {
		return err
	}
	if err := s.Posts.DeleteComment(c.UserContext(), id, cid, viewer(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) react(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.Posts.React(c.UserContext(), id, viewer(c), c.Params("kind")); err != nil {
		return err
	}
	return s.sendPost(c, id)
}

func (s *server) unreact(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.Posts.Unreact(c.UserContext(), id, viewer(c), c.Params("kind")); err != nil {
		return err
	}
	return s.sendPost(c, id)
}

func (s *server) reportPost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
		Note   string `json:"note"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Posts.Report(c.UserContext(), id, viewer(c), in.Reason, in.Note); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"message": "thanks: a moderator will look at it"})
}

func (s *server) listReports(c *fiber.Ctx) error {
	cursor, limit, err := page(c)
	if err != nil {
		return err
	}
	pg, err := s.Posts.Reports(c.UserContext(), viewer(c), c.QueryBool("all"), cursor, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, reportOut))
}

func (s *server) resolveReport(c *fiber.Ctx) error {
	id, err := pathID(c, "reportId")
	if err != nil {
		return err
	}
	var in struct {
		Resolution string `json:"resolution"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Posts.ResolveReport(c.UserContext(), viewer(c), id, in.Resolution); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) removePost(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.Posts.Remove(c.UserContext(), viewer(c), id, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(postOut(p))
}

func (s *server) banUser(c *fiber.Ctx) error {
	var in struct {
		Hours  float64 `json:"hours"`
		Reason string  `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Hours < 1 || in.Hours > 100*365*24 {
		return jokster.Invalid(map[string]string{"hours": "a ban lasts from 1 hour to a century"})
	}
	name, until, err := s.Posts.Ban(c.UserContext(), viewer(c), c.Params("username"), time.Now().Add(time.Duration(in.Hours*float64(time.Hour))), in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"username": name, "until": until.UTC()})
}

func (s *server) unbanUser(c *fiber.Ctx) error {
	if err := s.Posts.Unban(c.UserContext(), viewer(c), c.Params("username")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
