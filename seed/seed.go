// Package seed fills a database with demo content so that a fresh `make run`
// has something to look at. It is idempotent: running it again adds only
// what is missing. Later features add their own demo content here.
package seed

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/profiles"
	"github.com/jokster/jokster/ranking"
)

// Password is every demo user's password (printed by `jokster seed`).
const Password = "laughing-out-loud-42"

type demoUser struct {
	username, displayName, about, country, city string
}

var demoUsers = []demoUser{
	{"alice", "Alice", "Collects cat GIFs. Admin of this demo.", "GB", "London"},
	{"bob", "Bob the Punster", "Puns, dad jokes and more puns.", "US", "Austin"},
	{"carol", "Carol", "Memes about databases.", "DE", "Berlin"},
	{"dave", "Dave", "Short videos of my dog failing at things.", "BR", "Recife"},
	{"erin", "Erin", "I rate everything 5 laughs.", "JP", "Osaka"},
}

// Run creates the demo users (alice is an admin, verified like all of
// them) with profiles, a few follows, and demo posts.
func Run(ctx context.Context, db *pgxpool.Pool, acc *accounts.Service, prof *profiles.Service, ps *posts.Service, rank *ranking.Service) error {
	for i, d := range demoUsers {
		u, err := acc.Register(ctx, accounts.RegisterInput{Username: d.username, Email: d.username + "@example.com", Password: Password})
		switch {
		case jokster.ErrorCode(err) == jokster.ECONFLICT:
			slog.Info("seed: user exists", "username", d.username)
			continue
		case err != nil:
			return err
		}
		if _, err := db.Exec(ctx, `UPDATE users SET verified_at = now(), is_admin = $2 WHERE id = $1`, u.ID, i == 0); err != nil {
			return err
		}
		if _, err := prof.Update(ctx, u.ID, profiles.Update{DisplayName: &d.displayName, About: &d.about, Country: &d.country, City: &d.city}); err != nil {
			return err
		}
		slog.Info("seed: user created", "username", d.username, "admin", i == 0)
	}
	// Everyone follows alice; alice follows bob and carol.
	follows := [][2]string{{"bob", "alice"}, {"carol", "alice"}, {"dave", "alice"}, {"erin", "alice"}, {"alice", "bob"}, {"alice", "carol"}, {"erin", "dave"}}
	for _, f := range follows {
		var id int64
		if err := db.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, f[0]).Scan(&id); err != nil {
			return err
		}
		if _, err := prof.Follow(ctx, id, f[1]); err != nil {
			return err
		}
	}
	slog.Info("seed: demo users ready", "users", len(demoUsers), "password", Password)
	if err := seedPosts(ctx, db, ps); err != nil {
		return err
	}
	return seedRatings(ctx, db, rank)
}
