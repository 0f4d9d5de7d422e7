package cull

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/accounts"

	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/store"
	"github.com/jokster/jokster/testkit"
)

// A post that leaves `ready` while the cull runs, by a path that does not
// take the floor lock (here a bare
// UPDATE), between the cull's plan and its statement (each sees its own
// snapshot), must not let the cull take the community below the floor:
// the cull is undone and planned again with the posts as they are.
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
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts p WHERE `+store.Ready("p")).Scan(&ready); err != nil {
		t.Fatal(err)
	}
	// Planned with 10 ready: 3 victims. After the removal only 2 may go.
	if ready != 7 || run.Victims != 2 || run.Ready != 9 {
		t.Fatalf("after the cull: %d ready (floor 7); run: %d victims of %d ready", ready, run.Victims, run.Ready)
	}
}

// floorSetup is a database with ten old ready posts by one author, post i
// with i five-star ratings (ids[0] is the worst), their scores stored, an
// admin, and cull settings whose quota there is 3, all from the floor:
// ⌊0.5 × 10⌋ = 5 by the share, 10 − 7 = 3 by the floor.
func floorSetup(t *testing.T, floor int) (db *pgxpool.Pool, set Settings, now time.Time, admin int64, ids []int64) {
	t.Helper()
	ctx := context.Background()
	db, _ = testkit.Pool(t)
	var author int64
	for _, u := range []struct {
		name  string
		admin bool
		id    *int64
	}{{"author", false, &author}, {"admin", true, &admin}} {
		if err := db.QueryRow(ctx, `INSERT INTO users (username, email, password_hash, is_admin) VALUES ($1, $1 || '@example.com', 'x', $2) RETURNING id`,
			u.name, u.admin).Scan(u.id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO profiles (user_id) VALUES ($1)`, *u.id); err != nil {
			t.Fatal(err)
		}
	}
	now = time.Now().UTC().Truncate(time.Hour).Add(time.Minute)
	for i := range 10 {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO posts (author_id, caption, kind, status, created_at, h5)
			VALUES ($1, 'joke', 'text', 'ready', $2, $3) RETURNING id`, author, now.Add(-48*time.Hour), i).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := storeMissingScores(ctx, db); err != nil {
		t.Fatal(err)
	}
	set = Settings{Interval: time.Hour, Grace: 24 * time.Hour, Share: 0.5, Floor: floor, Board: "top"}
	return db, set, now, admin, ids
}

// deleteAuthorAccount gives post id an author of its own, with a
// password, and deletes that account through the accounts service (the
// cascade takes the post).
func deleteAuthorAccount(ctx context.Context, db *pgxpool.Pool, id int64) error {
	const password = "correct horse battery staple"
	fast := &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	hash, err := argon2id.CreateHash(password, fast)
	if err != nil {
		return err
	}
	var leaver int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ('leaver', 'leaver@example.com', $1) RETURNING id`,
		hash).Scan(&leaver); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `UPDATE posts SET author_id = $1 WHERE id = $2`, leaver, id); err != nil {
		return err
	}
	tokens, err := accounts.NewTokens(make([]byte, 32), time.Minute)
	if err != nil {
		return err
	}
	_, _, _, err = accounts.New(db, tokens, nil, nil, accounts.Settings{Hash: fast}).Delete(ctx, leaver, password)
	return err
}

// nopQueue is a posts.Queue that enqueues nothing.
type nopQueue struct{}

func (nopQueue) EnqueueProcess(context.Context, int64) error  { return nil }
func (nopQueue) EnqueueCollect(context.Context, string) error { return nil }

// waitingForAdvisoryLock waits until a session of db's database waits for
// an advisory lock, or done is closed; it fails the test after a while.
func waitingForAdvisoryLock(t *testing.T, db *pgxpool.Pool, done <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-done:
			return
		default:
		}
		var waiting bool
		if err := db.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory')`).Scan(&waiting); err != nil {
			t.Error(err)
			return
		}
		if waiting {
			return
		}
	}
	t.Error("nothing waits for an advisory lock, and nothing finished")
}

// A post removed or deleted through the posts service while a cull with a
// floor runs — after the cull counted what it leaves, before it commits —
// must not land first: the cull, committing after it, would leave fewer
// ready posts than the floor. The removal waits for the cull's commit and
// so comes after it (the floor binds the cull, not moderators).
func TestCullFloorHoldsAgainstRemovalsBeforeCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(ctx context.Context, db *pgxpool.Pool, ps *posts.Service, admin, id int64) error
	}{
		{"removed", func(ctx context.Context, _ *pgxpool.Pool, ps *posts.Service, admin, id int64) error {
			_, err := ps.Remove(ctx, admin, id, "breaks the rules")
			return err
		}},
		{"deleted", func(ctx context.Context, _ *pgxpool.Pool, ps *posts.Service, admin, id int64) error {
			return ps.Delete(ctx, id, admin)
		}},
		{"deleted with its author's account", func(ctx context.Context, db *pgxpool.Pool, _ *posts.Service, _, id int64) error {
			return deleteAuthorAccount(ctx, db, id)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, set, now, admin, ids := floorSetup(t, 7)
			ps := posts.New(db, nopQueue{}, notifications.New(db, nil), posts.Settings{})
			s := New(db, set, Deps{Now: func() time.Time { return now }})
			done := make(chan struct{})
			var leaveErr error
			leftFirst := false // the post left before the cull committed
			started := false
			s.beforeCommit = func() {
				if started {
					return
				}
				started = true
				go func() {
					defer close(done)
					// The best post, which the cull leaves alone.
					if leaveErr = tc.leave(ctx, db, ps, admin, ids[9]); leaveErr != nil {
						return
					}
					var culled bool
					leaveErr = db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cull_runs WHERE finished_at IS NOT NULL)`).Scan(&culled)
					leftFirst = !culled
				}()
				// Until the post has left, or its removal waits for the cull.
				waitingForAdvisoryLock(t, db, done)
			}
			run, created, err := s.Cull(ctx, set.CycleAt(now))
			if err != nil || !created {
				t.Fatalf("Cull = %v, %v", created, err)
			}
			<-done
			if leaveErr != nil {
				t.Fatal(leaveErr)
			}
			var ready int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM posts p WHERE `+store.Ready("p")).Scan(&ready); err != nil {
				t.Fatal(err)
			}
			if leftFirst {
				t.Fatalf("the post was %s and committed between the cull's count and its commit; the cull then committed %d victims of %d ready, leaving %d (floor 7)",
					tc.name, run.Victims, run.Ready, ready)
			}
			// The cull as planned (10 ready, 3 victims), then the removal.
			if run.Ready != 10 || run.Victims != 3 || ready != 6 {
				t.Fatalf("run: %d victims of %d ready; %d ready after both", run.Victims, run.Ready, ready)
			}
		})
	}
}

// A removal under way when a cull with a floor starts — it holds the floor
// lock and is about to lock a post row the cull would take — is waited
// for: the cull counts what it left, and neither deadlocks (the cull
// takes the floor lock before any post row, as removers do).
func TestCullFloorWaitsForRemovalsUnderWay(t *testing.T) {
	ctx := context.Background()
	db, set, now, _, ids := floorSetup(t, 7)
	s := New(db, set, Deps{Now: func() time.Time { return now }})
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := store.HoldReadyPosts(ctx, tx); err != nil {
		t.Fatal(err)
	}
	type result struct {
		run     Run
		created bool
		err     error
	}
	res := make(chan result, 1)
	go func() {
		run, created, err := s.Cull(ctx, set.CycleAt(now))
		res <- result{run, created, err}
	}()
	waitingForAdvisoryLock(t, db, nil)
	// The worst post, the cull's first victim, is removed meanwhile.
	if _, err := tx.Exec(ctx, `UPDATE posts SET status = 'removed' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || !r.created {
		t.Fatalf("Cull = %v, %v", r.created, r.err)
	}
	var ready int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM posts p WHERE `+store.Ready("p")).Scan(&ready); err != nil {
		t.Fatal(err)
	}
	if r.run.Ready != 9 || r.run.Victims != 2 || ready != 7 {
		t.Fatalf("run: %d victims of %d ready; %d ready after it (floor 7)", r.run.Victims, r.run.Ready, ready)
	}
}

// Without a floor too the cull holds the floor lock: it no longer locks
// its victims' rows, so a removal committing between its plan and its
// commit would otherwise leave a post recorded as culled that had been
// removed first. A removal started meanwhile waits for the cull and lands
// after it, on the post as the cull left it.
func TestCullWithoutFloorHoldsUpRemovals(t *testing.T) {
	ctx := context.Background()
	db, set, now, admin, ids := floorSetup(t, 0)
	ps := posts.New(db, nopQueue{}, notifications.New(db, nil), posts.Settings{})
	s := New(db, set, Deps{Now: func() time.Time { return now }})
	done := make(chan struct{})
	var removeErr error
	removedFirst := false
	s.beforeCull = func() {
		go func() {
			defer close(done)
			// The worst post: a victim, as planned.
			if _, removeErr = ps.Remove(ctx, admin, ids[0], "breaks the rules"); removeErr != nil {
				return
			}
			var culled bool
			removeErr = db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cull_runs WHERE finished_at IS NOT NULL)`).Scan(&culled)
			removedFirst = !culled
		}()
		waitingForAdvisoryLock(t, db, done)
	}
	run, created, err := s.Cull(ctx, set.CycleAt(now))
	if err != nil || !created || run.Victims != 5 {
		t.Fatalf("Cull = %+v, %v, %v; want 5 victims", run, created, err)
	}
	<-done
	if removeErr != nil {
		t.Fatal(removeErr)
	}
	if removedFirst {
		t.Fatal("the removal committed between the cull's plan and its commit")
	}
	var status string
	var victim bool
	if err := db.QueryRow(ctx, `SELECT `+store.Status("p")+`, EXISTS (SELECT 1 FROM cull_victims WHERE post_id = p.id) FROM posts p WHERE p.id = $1`,
		ids[0]).Scan(&status, &victim); err != nil || status != "removed" || !victim {
		t.Fatalf("the post culled, then removed: status %q, recorded victim %v, %v", status, victim, err)
	}
}

// The danger check reads one repeatable-read snapshot and writes rows
// whose foreign keys lock posts. A zone post locked FOR UPDATE and changed
// by someone else after the snapshot (a post being edited) makes that
// fail to serialize; the check must run again rather than be lost until
// the next tick (the author would hear a minute late).
func TestCheckDangerRetriesAfterSerializationFailure(t *testing.T) {
	ctx := context.Background()
	db, set, now, _, ids := floorSetup(t, 0)
	s := New(db, set, Deps{Notify: notifications.New(db, nil), Now: func() time.Time { return now }})
	snapshots := 0
	s.dangerSnapshot = func() {
		snapshots++
		if snapshots > 1 {
			return
		}
		if _, err := db.Exec(ctx, `WITH x AS (SELECT id FROM posts WHERE id = $1 FOR UPDATE)
			UPDATE posts p SET caption = p.caption || '!' FROM x WHERE p.id = x.id`, ids[0]); err != nil {
			t.Error(err)
		}
	}
	n, err := s.CheckDanger(ctx)
	if err != nil {
		t.Fatalf("CheckDanger: %v", err)
	}
	var zone int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM cull_danger`).Scan(&zone); err != nil {
		t.Fatal(err)
	}
	// Share 0.5 of 10 eligible posts: the worst five.
	if n != 5 || zone != 5 || snapshots != 2 {
		t.Fatalf("CheckDanger = %d entered or left, %d in cull_danger, %d snapshots; want 5, 5, 2", n, zone, snapshots)
	}
}
