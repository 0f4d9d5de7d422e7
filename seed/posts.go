package seed

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"log/slog"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
)

type demoPost struct {
	author, caption string
	tags            []string
	picture         func() []byte // nil: a text joke
}

var demoPosts = []demoPost{
	{"bob", "I told my wife she was drawing her eyebrows too high. She looked surprised.", []string{"dadjokes", "puns"}, nil},
	{"carol", "A SQL query walks into a bar, goes up to two tables and asks: may I join you?", []string{"databases", "nerd"}, nil},
	{"alice", "Sunset, as drawn by my cat", []string{"cats", "art"}, func() []byte { return gradientPNG(640, 480, 0) }},
	{"dave", "My dog's idea of a circle", []string{"dogs"}, func() []byte { return circlesGIF(160, 120, 12) }},
	{"erin", "Modern art or a spilled smoothie? You decide", []string{"art"}, func() []byte { return gradientPNG(800, 600, 2) }},
	{"bob", "Why do programmers prefer dark mode? Because light attracts bugs.", []string{"nerd", "puns"}, nil},
	{"carol", "Index scan vs. sequential scan, a dramatization", []string{"databases"}, func() []byte { return gradientPNG(600, 600, 4) }},
	{"alice", "Parallel lines have so much in common. It's a shame they'll never meet.", []string{"math", "puns"}, nil},
}

// gradientPNG draws a colourful generated picture (different per variant,
// so perceptual hashes differ).
func gradientPNG(w, h, variant int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := math.Sin(fx*float64(3+variant)*math.Pi) * math.Cos(fy*float64(2+variant)*math.Pi)
			img.Set(x, y, color.RGBA{uint8(255 * fx), uint8(127 + 127*v), uint8(255 * (1 - fy)), 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// circlesGIF is a small animation of a growing circle.
func circlesGIF(w, h, frames int) []byte {
	pal := color.Palette{color.White, color.RGBA{255, 120, 0, 255}, color.Black}
	anim := &gif.GIF{}
	for f := 0; f < frames; f++ {
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		r := float64(f+1) * float64(min(w, h)) / float64(2*frames)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dx, dy := float64(x-w/2), float64(y-h/2)
				if d := math.Hypot(dx, dy); d < r {
					img.SetColorIndex(x, y, 1)
				} else if d < r+2 {
					img.SetColorIndex(x, y, 2)
				}
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 8)
	}
	var buf bytes.Buffer
	_ = gif.EncodeAll(&buf, anim)
	return buf.Bytes()
}

// seedPosts adds the demo posts unless their authors already have posts,
// processing their pictures at once so they are ready when the server
// starts.
func seedPosts(ctx context.Context, db *pgxpool.Pool, ps *posts.Service) error {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts p JOIN users u ON u.id = p.author_id WHERE u.username IN ('alice', 'bob', 'carol', 'dave', 'erin')`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		slog.Info("seed: demo posts exist", "count", n)
		return nil
	}
	for _, d := range demoPosts {
		var uid int64
		if err := db.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, d.author).Scan(&uid); err != nil {
			return err
		}
		in := posts.CreateInput{Caption: d.caption, Tags: d.tags}
		if d.picture != nil {
			u, err := ps.Ingest(ctx, bytes.NewReader(d.picture()))
			if err != nil {
				return err
			}
			in.Upload = &u
		}
		p, err := ps.Create(ctx, uid, in)
		if err != nil {
			return err
		}
		if d.picture != nil {
			if err := ps.Process(ctx, p.ID); err != nil {
				return err
			}
		}
	}
	slog.Info("seed: demo posts created", "count", len(demoPosts))
	return nil
}

// seedRatings has every demo user rate every other demo user's posts, with
// stars that differ by post so the boards have an order to show. Posts by
// anyone else are left alone (seed runs on every `make run`, against a
// database people have used since), and so are demo users banned since.
func seedRatings(ctx context.Context, db *pgxpool.Pool, rank *ranking.Service) error {
	rows, err := db.Query(ctx, `WITH demo AS (SELECT id FROM users WHERE username IN ('alice', 'bob', 'carol', 'dave', 'erin'))
		SELECT u.id, p.id FROM demo u CROSS JOIN posts p
		WHERE p.author_id IN (SELECT id FROM demo) AND p.author_id <> u.id AND p.status = 'ready'
		AND NOT EXISTS (SELECT 1 FROM bans b WHERE b.user_id = u.id AND b.until > now())
		AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.post_id = p.id AND r.user_id = u.id) ORDER BY p.id, u.id`)
	if err != nil {
		return err
	}
	type pair struct{ user, post int64 }
	pairs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pair, error) {
		var p pair
		err := r.Scan(&p.user, &p.post)
		return p, err
	})
	if err != nil {
		return err
	}
	for _, p := range pairs {
		stars := int((p.post*7+p.user*3)%5) + 1
		if _, err := rank.Rate(ctx, p.post, p.user, stars); err != nil {
			return err
		}
	}
	slog.Info("seed: demo ratings", "count", len(pairs))
	return nil
}
