package api

import (
	"strconv"
	"time"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/view"
)

// The JSON shapes of the public contract. IDs are strings.

type meJSON struct {
	ID            string      `json:"id"`
	Username      string      `json:"username"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"email_verified"`
	IsAdmin       bool        `json:"is_admin"`
	CreatedAt     time.Time   `json:"created_at"`
	Profile       profileJSON `json:"profile"`
}

func meOut(u jokster.User, p jokster.Profile) meJSON {
	p.FollowedByMe = nil
	return meJSON{ID: strconv.FormatInt(u.ID, 10), Username: u.Username, Email: u.Email, EmailVerified: u.Verified,
		IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt.UTC(), Profile: profileOut(p)}
}

type userJSON struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

func userOut(u jokster.User) userJSON {
	return userJSON{ID: strconv.FormatInt(u.ID, 10), Username: u.Username, Email: u.Email, EmailVerified: u.Verified, CreatedAt: u.CreatedAt.UTC()}
}

type sessionJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func sessionOut(s accounts.Session) sessionJSON {
	return sessionJSON{AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, ExpiresIn: s.ExpiresIn, TokenType: "Bearer"}
}

// The shared shapes live in package view.
type (
	profileJSON      = view.Profile
	notificationJSON = view.Notification
	postJSON         = view.Post
	commentJSON      = view.Comment
	statsJSON        = view.Stats
)

func profileOut(p jokster.Profile) profileJSON                { return view.ProfileOf(p) }
func notificationOut(n jokster.Notification) notificationJSON { return view.NotificationOf(n) }
func postOut(p jokster.Post) postJSON                         { return view.PostOf(p) }
func commentOut(c jokster.Comment) commentJSON                { return view.CommentOf(c) }
func optStr(s string) *string                                 { return view.OptStr(s) }
func optInt(n int) *int                                       { return view.OptInt(n) }
