// Package view holds the JSON shapes of Jokster's public contract (REST
// responses and live WebSocket messages share them), built from domain
// types. IDs are strings; absent values are null.
package view

import (
	"strconv"
	"time"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/ranking"
)

type Profile struct {
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

func ProfileOf(p jokster.Profile) Profile {
	out := Profile{
		ID: strconv.FormatInt(p.UserID, 10), Username: p.Username, DisplayName: p.DisplayName, About: p.About,
		Country: p.Country, City: p.City, FollowersCount: p.Followers, FollowingCount: p.Following,
		CreatedAt: p.CreatedAt.UTC(), FollowedByMe: p.FollowedByMe,
	}
	if p.PhotoURL != "" {
		out.PhotoURL = &p.PhotoURL
	}
	return out
}

type Notification struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Actor     *string        `json:"actor"`
	Data      map[string]any `json:"data"`
	Read      bool           `json:"read"`
	CreatedAt time.Time      `json:"created_at"`
}

func NotificationOf(n jokster.Notification) Notification {
	out := Notification{ID: strconv.FormatInt(n.ID, 10), Kind: n.Kind, Data: n.Data, Read: n.Read, CreatedAt: n.CreatedAt.UTC()}
	if out.Data == nil {
		out.Data = map[string]any{}
	}
	if n.Actor != "" {
		out.Actor = &n.Actor
	}
	return out
}

type Author struct {
	ID          string  `json:"id"`
	Username    string  `json:"username"`
	DisplayName string  `json:"display_name"`
	PhotoURL    *string `json:"photo_url"`
}

func AuthorOf(id int64, username, name, photo string) Author {
	a := Author{ID: strconv.FormatInt(id, 10), Username: username, DisplayName: name}
	if photo != "" {
		a.PhotoURL = &photo
	}
	return a
}

type Media struct {
	URL        string  `json:"url"`
	ThumbURL   *string `json:"thumb_url"`
	PosterURL  *string `json:"poster_url"`
	Format     string  `json:"format"`
	Width      *int    `json:"width"`
	Height     *int    `json:"height"`
	DurationMS *int    `json:"duration_ms"`
}

type Removed struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

type Post struct {
	ID           string         `json:"id"`
	Author       Author         `json:"author"`
	Caption      string         `json:"caption"`
	Tags         []string       `json:"tags"`
	Kind         string         `json:"kind"`
	Status       string         `json:"status"`
	Failure      *string        `json:"failure,omitempty"`
	Media        *Media         `json:"media"`
	DuplicateOf  *string        `json:"duplicate_of"`
	CommentCount int            `json:"comment_count"`
	Reactions    map[string]int `json:"reactions"`
	MyReactions  []string       `json:"my_reactions"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Removed      *Removed       `json:"removed"`
	Stats        Stats          `json:"stats"`
	StatsVersion int64          `json:"stats_version"`
	// ReactionsVersion orders Reactions against live `reactions` messages.
	ReactionsVersion int64 `json:"reactions_version"`
	// CommentsVersion orders CommentCount against live comment messages.
	CommentsVersion int64          `json:"comments_version"`
	Ranks           map[string]int `json:"ranks"`
	MyRating        *int           `json:"my_rating"`
}

func OptStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func OptInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func PostOf(p jokster.Post) Post {
	out := Post{
		ID: strconv.FormatInt(p.ID, 10), Author: AuthorOf(p.AuthorID, p.Author, p.AuthorName, p.AuthorPhoto),
		Caption: p.Caption, Tags: p.Tags, Kind: p.Kind, Status: p.Status, Failure: OptStr(p.Failure),
		CommentCount: p.CommentCount, Reactions: p.Reactions, MyReactions: p.MyReactions,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		Stats: StatsOf(ranking.Histogram(p.Histogram), p.ScoreTop, p.ScoreHot), StatsVersion: p.StatsVersion, ReactionsVersion: p.ReactionsVersion, CommentsVersion: p.CommentsVersion, Ranks: p.Ranks, MyRating: OptInt(p.MyRating),
	}
	if out.Ranks == nil {
		out.Ranks = map[string]int{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Reactions == nil {
		out.Reactions = map[string]int{}
	}
	if out.MyReactions == nil {
		out.MyReactions = []string{}
	}
	if p.MediaURL != "" {
		out.Media = &Media{URL: p.MediaURL, ThumbURL: OptStr(p.ThumbURL), PosterURL: OptStr(p.PosterURL), Format: p.Format,
			Width: OptInt(p.Width), Height: OptInt(p.Height), DurationMS: OptInt(p.DurationMS)}
	}
	if p.DuplicateOf != 0 {
		d := strconv.FormatInt(p.DuplicateOf, 10)
		out.DuplicateOf = &d
	}
	if p.RemovedAt != nil {
		out.Removed = &Removed{At: p.RemovedAt.UTC(), Reason: p.RemovalReason}
	}
	return out
}

type Comment struct {
	ID        string    `json:"id"`
	PostID    string    `json:"post_id"`
	Author    Author    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

func CommentOf(c jokster.Comment) Comment {
	return Comment{ID: strconv.FormatInt(c.ID, 10), PostID: strconv.FormatInt(c.PostID, 10),
		Author: AuthorOf(c.AuthorID, c.Author, c.AuthorName, c.AuthorPhoto), Body: c.Body, CreatedAt: c.CreatedAt.UTC()}
}

type Stats struct {
	Count     int64            `json:"count"`
	Average   float64          `json:"average"`
	Laughs    int64            `json:"laughs"`
	Histogram map[string]int64 `json:"histogram"`
	ScoreTop  float64          `json:"score_top"`
	ScoreHot  float64          `json:"score_hot"`
}

func StatsOf(h ranking.Histogram, top, hot float64) Stats {
	return Stats{Count: h.Count(), Average: h.Average(), Laughs: h.Sum(),
		Histogram: map[string]int64{"1": h[0], "2": h[1], "3": h[2], "4": h[3], "5": h[4]},
		ScoreTop:  top, ScoreHot: hot}
}
