package cull

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jokster/jokster/testkit"
)

// ratedMeanwhile is a querier that commits a rating (as the ranking would:
// histogram, version and scores together) just before the score backfill
// writes.
type ratedMeanwhile struct {
	querier
	rate func()
}

func (q ratedMeanwhile) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if strings.Contains(sql, "UPDATE posts") {
		q.rate()
	}
	return q.querier.Exec(ctx, sql, args...)
}

// The backfill of missing scores computes them from the histogram it read;
// a rating that stored newer scores in between must keep them.
func TestStoreMissingScoresKeepsNewerScores(t *testing.T) {
	ctx := context.Background()
	db, _ := testkit.Pool(t)
	var author, post int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('a', 'a@example.com', 'x') RETURNING id`).Scan(&author); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h1)
		VALUES ($1, 'joke', 'text', 'ready', $2, 3) RETURNING id`, author, time.Now().Add(-time.Hour)).Scan(&post); err != nil {
		t.Fatal(err)
	}
	q := ratedMeanwhile{querier: db, rate: func() {
		if _, err := db.Exec(ctx, `UPDATE posts SET h5 = h5 + 1, rank_version = rank_version + 1, score_top = 0.75, score_hot = 1000.5
			WHERE id = $1`, post); err != nil {
			t.Error(err)
		}
	}}
	if err := storeMissingScores(ctx, q); err != nil {
		t.Fatal(err)
	}
	var top, hot float64
	if err := db.QueryRow(ctx, `SELECT score_top, score_hot FROM posts WHERE id = $1`, post).Scan(&top, &hot); err != nil {
		t.Fatal(err)
	}
	if top != 0.75 || hot != 1000.5 {
		t.Fatalf("scores after the backfill: top %v, hot %v; want the rating's 0.75 and 1000.5", top, hot)
	}
}
