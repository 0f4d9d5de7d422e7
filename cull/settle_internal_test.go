package cull

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/testkit"
)

// A run whose follow-up never settled it (its task lost) is settled by the
// next cull before it plans: the earlier victims' rows say culled, the
// new cull counts and takes only what is really ready, and both runs end
// settled.
func TestCullSettlesAnEarlierRunFirst(t *testing.T) {
	ctx := context.Background()
	db, set, now, _, ids := floorSetup(t, 0)
	clock := now
	s := New(db, set, Deps{Now: func() time.Time { return clock }})
	run1, created, err := s.Cull(ctx, set.CycleAt(clock))
	if err != nil || !created || run1.Victims != 5 {
		t.Fatalf("first cull = %+v, %v, %v; want 5 victims", run1, created, err)
	}
	var rows int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts WHERE status = 'culled'`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d rows marked before any settling (%v)", rows, err)
	}
	clock = clock.Add(time.Hour)
	run2, created, err := s.Cull(ctx, set.CycleAt(clock))
	if err != nil || !created {
		t.Fatalf("second cull = %+v, %v, %v", run2, created, err)
	}
	// Share 0.5 of the 5 left: 2.
	if run2.Ready != 5 || run2.Eligible != 5 || run2.Victims != 2 {
		t.Fatalf("second run: %d ready, %d eligible, %d victims; want 5, 5, 2", run2.Ready, run2.Eligible, run2.Victims)
	}
	var culled, culledBy1 int
	var settled1 bool
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'culled'), count(*) FILTER (WHERE status = 'culled' AND culled_run_id = $2),
		(SELECT settled_at IS NOT NULL FROM cull_runs WHERE id = $2) FROM posts WHERE id = ANY($1)`, ids, run1.ID).Scan(&culled, &culledBy1, &settled1); err != nil {
		t.Fatal(err)
	}
	if culledBy1 != 5 || culled != 5 || !settled1 {
		t.Fatalf("after the second cull: %d rows culled, %d by the first run, first run settled %v; want 5, 5, true", culled, culledBy1, settled1)
	}
	var ready int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts p WHERE `+store.Ready("p")).Scan(&ready); err != nil || ready != 3 {
		t.Fatalf("%d ready at the end (%v); want 3", ready, err)
	}
}

// A rating whose writer checked the post before a cull's commit must not
// commit after it: the cull no longer locks its victims' rows, so the
// writers take the cull's lock first. Here a rating of the worst post and
// a comment on the next are held (their accounts' rows are locked, which
// their foreign keys wait for) after they took that lock; the cull must
// wait for them, and choose with the rating counted. Without the lock the
// cull commits first and the rating lands on a culled post, whose score
// then differs from the one the cull recorded.
func TestCullWaitsForRatingsUnderWay(t *testing.T) {
	ctx := context.Background()
	small, set, now, _, ids := floorSetup(t, 0)
	// Five transactions are open at once here (the hold, the rating, the
	// comment, the cull, the test's own reads): more than the test pool's.
	cfg := small.Config().Copy()
	cfg.MaxConns = 12
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rdb, _, prefix := testkit.Redis(t)
	rank := ranking.New(db, rdb, prefix, nil)
	rank.Start()
	defer rank.Stop()
	ps := posts.New(db, nopQueue{}, notifications.New(db, nil), posts.Settings{MaxComment: 1000, MaxCaption: 1000})
	var rater int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('rater', 'r@example.com', 'x') RETURNING id`).Scan(&rater); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO profiles (user_id) VALUES ($1)`, rater); err != nil {
		t.Fatal(err)
	}
	hold, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	if _, err := hold.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, rater); err != nil {
		t.Fatal(err)
	}
	rated, commented := make(chan error, 1), make(chan error, 1)
	go func() { _, err := rank.Rate(ctx, ids[0], rater, 5); rated <- err }()
	go func() { _, err := ps.AddComment(ctx, ids[1], rater, "still funny"); commented <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND wait_event <> 'advisory'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rating and the comment are not waiting for the rater's row")
		}
	}
	s := New(db, set, Deps{Boards: rank, Now: func() time.Time { return now }})
	type result struct {
		run Run
		err error
	}
	culled := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		run, _, err := s.Cull(ctx, set.CycleAt(now))
		culled <- result{run, err}
	}()
	waitingForAdvisoryLock(t, db, done) // the cull waits, or (wrongly) finished
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-rated; err != nil {
		t.Fatalf("rating: %v", err)
	}
	if err := <-commented; err != nil {
		t.Fatalf("comment: %v", err)
	}
	r := <-culled
	if r.err != nil || r.run.Victims != 5 {
		t.Fatalf("Cull = %+v, %v; want 5 victims", r.run, r.err)
	}
	var stale int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM cull_victims v JOIN posts p ON p.id = v.post_id
		WHERE v.run_id = $1 AND v.score <> p.score_top`, r.run.ID).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if stale != 0 {
		t.Fatalf("%d victims were rated after the cull chose them", stale)
	}
}
