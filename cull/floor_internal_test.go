package cull

import (
	"context"
	"testing"
	"time"

	"github.com/jokster/jokster/testkit"
)

// A post that leaves `ready` while the cull runs (a moderator removes it
// between the cull's plan and its statement: each sees its own snapshot)
// must not let the cull take the community below the floor: the cull is
// undone and planned again with the posts as they are.
func TestCullFloorHoldsWhenPostsLeaveMeanwhile(t *testing.T) {
	ctx := context.Background()
	db, _ := testkit.Pool(t)
	var author int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('a', 'a@example.com', 'x') RETURNING id`).Scan(&author); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Hour).Add(time.Minute)
	// Ten old posts, post i with i five-star ratings (post 0 is the worst).
	var ids []int64
	for i := range 10 {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h5)
			VALUES ($1, 'joke', 'text', 'ready', $2, $3) RETURNING id`, author, now.Add(-48*time.Hour), i).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Scores stored first: the cull would store them itself, locking the
	// rows the removal below must write.
	if err := storeMissingScores(ctx, db); err != nil {
		t.Fatal(err)
	}
	set := Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.5, Floor: 7, Board: "top"}
	s := New(db, set, Deps{Now: func() time.Time { return now }})
	removed := false
	s.beforeCull = func() {
		if removed {
			return
		}
		removed = true
		// The best post leaves, committed by another connection.
		if _, err := db.Exec(ctx, `UPDATE posts SET status = 'removed' WHERE id = $1`, ids[9]); err != nil {
			t.Error(err)
		}
	}
	run, created, err := s.Cull(ctx, set.CycleAt(now))
	if err != nil || !created {
		t.Fatalf("Cull = %v, %v", created, err)
	}
	var ready int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts WHERE status = 'ready'`).Scan(&ready); err != nil {
		t.Fatal(err)
	}
	// Planned with 10 ready: 3 victims. After the removal only 2 may go.
	if ready != 7 || run.Victims != 2 || run.Ready != 9 {
		t.Fatalf("after the cull: %d ready (floor 7); run: %d victims of %d ready", ready, run.Victims, run.Ready)
	}
}
