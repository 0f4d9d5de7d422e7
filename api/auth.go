package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
)

// refreshCookie carries the refresh token for browsers: httpOnly so scripts
// cannot read it, SameSite=Strict so other sites cannot make us use it, and
// scoped to the auth routes that need it.
const refreshCookie = "jokster_refresh"

func (s *server) setRefreshCookie(c *fiber.Ctx, token string, ttl time.Duration) {
	c.Cookie(&fiber.Cookie{
		Name: refreshCookie, Value: token, Path: "/api/v1/auth", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: strings.HasPrefix(s.cfg.PublicURL, "https://"), MaxAge: int(ttl.Seconds()),
	})
}

func (s *server) clearRefreshCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: refreshCookie, Value: "", Path: "/api/v1/auth", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: strings.HasPrefix(s.cfg.PublicURL, "https://"),
		Expires: time.Unix(0, 0), MaxAge: -1})
}

func (s *server) register(c *fiber.Ctx) error {
	var in struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.Accounts.Register(c.UserContext(), accounts.RegisterInput{Username: in.Username, Email: in.Email, Password: in.Password})
	if err != nil {
		return err
	}
	c.Location("/api/v1/profiles/" + u.Username)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": userOut(u)})
}

func (s *server) login(c *fiber.Ctx) error {
	var in struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	sess, err := s.Accounts.Login(c.UserContext(), accounts.LoginInput{Username: in.Username, Email: in.Email, Password: in.Password, IP: clientKey(c.IP())})
	if err != nil {
		return err
	}
	s.setRefreshCookie(c, sess.RefreshToken, s.cfg.RefreshTokenTTL)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(sessionOut(sess))
}

// refreshToken reads the token from the body, else from the cookie.
func (s *server) refreshToken(c *fiber.Ctx) (string, error) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if len(c.Body()) > 0 {
		if err := decode(c, &in); err != nil {
			return "", err
		}
	}
	if in.RefreshToken == "" {
		in.RefreshToken = c.Cookies(refreshCookie)
	}
	return in.RefreshToken, nil
}

func (s *server) refresh(c *fiber.Ctx) error {
	tok, err := s.refreshToken(c)
	if err != nil {
		return err
	}
	if tok == "" {
		return jokster.Errorf(jokster.EUNAUTHORIZED, "send refresh_token in the body or the refresh cookie")
	}
	sess, err := s.Accounts.Refresh(c.UserContext(), tok)
	if err != nil {
		if jokster.ErrorCode(err) == jokster.EUNAUTHORIZED {
			s.clearRefreshCookie(c)
		}
		return err
	}
	s.setRefreshCookie(c, sess.RefreshToken, s.cfg.RefreshTokenTTL)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(sessionOut(sess))
}

func (s *server) logout(c *fiber.Ctx) error {
	tok, err := s.refreshToken(c)
	if err != nil {
		return err
	}
	if err := s.Accounts.Logout(c.UserContext(), tok); err != nil {
		return err
	}
	s.clearRefreshCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

type tokenBody struct {
	Token string `json:"token"`
}

func (s *server) verifyEmail(c *fiber.Ctx) error {
	var in tokenBody
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Accounts.VerifyEmail(c.UserContext(), in.Token); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"email_verified": true})
}

// verifyEmailLink is where the link in the mail lands: it verifies and
// sends the browser to the app with the outcome in the query.
func (s *server) verifyEmailLink(c *fiber.Ctx) error {
	if err := s.Accounts.VerifyEmail(c.UserContext(), c.Query("token")); err != nil {
		if jokster.ErrorCode(err) != jokster.EINVALID {
			return err
		}
		return c.Redirect("/?email_verified=0", fiber.StatusSeeOther)
	}
	return c.Redirect("/?email_verified=1", fiber.StatusSeeOther)
}

func (s *server) resendVerification(c *fiber.Ctx) error {
	if err := s.Accounts.ResendVerification(c.UserContext(), viewer(c)); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"message": "a new link is on its way"})
}

func (s *server) forgotPassword(c *fiber.Ctx) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Accounts.ForgotPassword(c.UserContext(), in.Email); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"message": "if an account has this address, a reset link is on its way"})
}

func (s *server) resetPassword(c *fiber.Ctx) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.Accounts.ResetPassword(c.UserContext(), in.Token, in.Password); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) confirmEmail(c *fiber.Ctx) error {
	var in tokenBody
	if err := decode(c, &in); err != nil {
		return err
	}
	addr, err := s.Accounts.ConfirmEmailChange(c.UserContext(), in.Token)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"email": addr, "email_verified": true})
}

func (s *server) confirmEmailLink(c *fiber.Ctx) error {
	if _, err := s.Accounts.ConfirmEmailChange(c.UserContext(), c.Query("token")); err != nil {
		if code := jokster.ErrorCode(err); code != jokster.EINVALID && code != jokster.ECONFLICT {
			return err
		}
		return c.Redirect("/?email_changed=0", fiber.StatusSeeOther)
	}
	return c.Redirect("/?email_changed=1", fiber.StatusSeeOther)
}
