package api

import (
	"bufio"
	"context"
	"log/slog"
	"mime/multipart"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/profiles"
)

func (s *server) me(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u, err := s.Accounts.User(ctx, viewer(c))
	if err != nil {
		return err
	}
	p, err := s.Profiles.ByID(ctx, u.ID, 0)
	if err != nil {
		return err
	}
	return c.JSON(meOut(u, p))
}

type passwordBody struct {
	Password string `json:"password"`
}

func (s *server) deleteMe(c *fiber.Ctx) error {
	var in passwordBody
	if err := decode(c, &in); err != nil {
		return err
	}
	photo, posts, rated, err := s.Accounts.Delete(c.UserContext(), viewer(c), in.Password)
	if err != nil {
		return err
	}
	s.Posts.AccountDeleted(c.UserContext(), posts, rated)
	s.Profiles.RemovePhotoFile(c.UserContext(), photo)
	s.clearRefreshCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// exportWriteTime bounds how long an export holds its database connection
// and snapshot while the client reads it: the server's write timeout ends
// the download then anyway.
const exportWriteTime = 70 * time.Second

// maxExports is how many data exports one node streams at once. Each holds
// a PostgreSQL connection (one snapshot) for as long as its client takes
// to read it, and the pool is small: a few slow downloads must not starve
// every other request.
const maxExports = 2

// exportSlots admits one export per user and maxExports per node.
type exportSlots struct {
	slots chan struct{}
	mu    sync.Mutex
	users map[int64]bool
}

func newExportSlots(n int) exportSlots {
	return exportSlots{slots: make(chan struct{}, n), users: map[int64]bool{}}
}

var errExportBusy = &jokster.Error{Code: jokster.ETOOMANY, RetryAfter: 10,
	Message: "too many data exports are being downloaded right now (or yours already is): try again in a few seconds"}

// take admits uid's export, or says why not; release ends it.
func (e *exportSlots) take(uid int64) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.users[uid] {
		return nil, errExportBusy
	}
	select {
	case e.slots <- struct{}{}:
	default:
		return nil, errExportBusy
	}
	e.users[uid] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			delete(e.users, uid)
			e.mu.Unlock()
			<-e.slots
		})
	}, nil
}

func (s *server) exportMe(c *fiber.Ctx) error {
	release, err := s.exports.take(viewer(c))
	if err != nil {
		return err
	}
	exp, err := s.Accounts.Export(c.UserContext(), viewer(c))
	if err != nil {
		release()
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="jokster-export.json"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	// Streamed (chunked) as it is read, so an export costs a row of memory
	// however much the user has. The status is sent by then: a failure
	// midway cuts the document short, so a reader cannot mistake it for a
	// whole one, and is logged.
	uid, rid := viewer(c), requestID(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), exportWriteTime)
		defer cancel()
		defer exp.Close(ctx)
		if err := exp.WriteTo(ctx, w); err != nil {
			slog.Error("data export cut short", "user_id", uid, "request_id", rid, "err", err)
		}
	})
	return nil
}

func (s *server) changePassword(c *fiber.Ctx) error {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	sess, err := s.Accounts.ChangePassword(c.UserContext(), viewer(c), in.CurrentPassword, in.NewPassword)
	if err != nil {
		return err
	}
	s.setRefreshCookie(c, sess.RefreshToken, s.cfg.RefreshTokenTTL)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(sessionOut(sess))
}

func (s *server) changeEmail(c *fiber.Ctx) error {
	var in struct {
		NewEmail string `json:"new_email"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Accounts.RequestEmailChange(c.UserContext(), viewer(c), in.NewEmail, in.Password); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"message": "confirm the change with the link sent to the new address"})
}

// updateProfileOf is PATCH /profiles/{username}: the same as PATCH
// /me/profile for your own name, 403 for anyone else's.
func (s *server) updateProfileOf(c *fiber.Ctx) error {
	if cl, _ := c.Locals("claims").(accounts.Claims); !strings.EqualFold(cl.Username, c.Params("username")) {
		if _, err := s.Profiles.Get(c.UserContext(), c.Params("username"), 0); err != nil {
			return err
		}
		return jokster.Errorf(jokster.EFORBIDDEN, "you can only edit your own profile")
	}
	return s.updateProfile(c)
}

func (s *server) updateProfile(c *fiber.Ctx) error {
	var in struct {
		DisplayName *string `json:"display_name"`
		About       *string `json:"about"`
		Country     *string `json:"country"`
		City        *string `json:"city"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.Profiles.Update(c.UserContext(), viewer(c), profiles.Update{DisplayName: in.DisplayName, About: in.About, Country: in.Country, City: in.City})
	if err != nil {
		return err
	}
	p.FollowedByMe = nil
	return c.JSON(profileOut(p))
}

// setPhoto takes multipart/form-data with the image in a field named photo.
func (s *server) setPhoto(c *fiber.Ctx) error {
	// The photo is stored as it arrives and becomes the profile's only
	// once the whole request turned out well.
	var rel string
	got := false
	err := parts(c, s.cfg.PhotoMaxBytes+64<<10, func(part *multipart.Part) error {
		if part.FormName() != "photo" {
			return jokster.Invalid(map[string]string{part.FormName(): "unknown field; send the image in a field named photo"})
		}
		if got {
			return jokster.Invalid(map[string]string{"photo": "one photo at a time"})
		}
		got = true
		var err error
		rel, err = s.Profiles.StorePhoto(part)
		return err
	})
	if err != nil {
		s.Profiles.RemovePhotoFile(c.UserContext(), rel)
		return err
	}
	if !got {
		return &jokster.Error{Code: jokster.EINVALID, Message: "the photo is missing", Fields: map[string]string{"photo": "required: a JPEG, PNG, GIF or WebP image"}}
	}
	p, err := s.Profiles.UsePhoto(c.UserContext(), viewer(c), rel)
	if err != nil {
		s.Profiles.RemovePhotoFile(c.UserContext(), rel)
		return err
	}
	p.FollowedByMe = nil
	return c.JSON(profileOut(p))
}

func (s *server) deletePhoto(c *fiber.Ctx) error {
	p, err := s.Profiles.DeletePhoto(c.UserContext(), viewer(c))
	if err != nil {
		return err
	}
	p.FollowedByMe = nil
	return c.JSON(profileOut(p))
}
