package api

import (
	"strconv"
	"time"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
)

// The JSON shapes of the public contract. IDs are strings.

type profileJSON struct {
	ID             string    `json:"id"`
	Username       string    `json:"username"`
	DisplayName    string    `json:"display_name"`
	About          string    `json:"about"`
	Country        string    `json:"country"`
	City           string    `json:"city"`
	PhotoURL       *string   `json:"photo_url"`
	FollowersCount int64     `json:"followers_count"`
	FollowingCount int64     `json:"following_count"`
	CreatedAt      time.Time `json:"created_at"`
	FollowedByMe   *bool     `json:"followed_by_me,omitempty"`
}

func profileOut(p jokster.Profile) profileJSON {
	out := profileJSON{
		ID: strconv.FormatInt(p.UserID, 10), Username: p.Username, DisplayName: p.DisplayName, About: p.About,
		Country: p.Country, City: p.City, FollowersCount: p.Followers, FollowingCount: p.Following,
		CreatedAt: p.CreatedAt.UTC(), FollowedByMe: p.FollowedByMe,
	}
	if p.PhotoURL != "" {
		out.PhotoURL = &p.PhotoURL
	}
	return out
}

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

type notificationJSON struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Actor     *string        `json:"actor"`
	Data      map[string]any `json:"data"`
	Read      bool           `json:"read"`
	CreatedAt time.Time      `json:"created_at"`
}

func notificationOut(n jokster.Notification) notificationJSON {
	out := notificationJSON{ID: strconv.FormatInt(n.ID, 10), Kind: n.Kind, Data: n.Data, Read: n.Read, CreatedAt: n.CreatedAt.UTC()}
	if out.Data == nil {
		out.Data = map[string]any{}
	}
	if n.Actor != "" {
		out.Actor = &n.Actor
	}
	return out
}
