package cull

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/testkit"
)

// unlistSetup culls half of floorSetup's ten posts, whose boards are in
// Redis, and returns the service (its victims are read victimsPerPage at a
// time), the run and the victims by rank with their recorded versions.
func unlistSetup(t *testing.T) (ctx context.Context, db *pgxpool.Pool, rdb *redis.Client, prefix string, s *Service, run Run, ids, versions []int64) {
	t.Helper()
	ctx = context.Background()
	db, set, now, _, _ := floorSetup(t, 0)
	rdb, _, prefix = testkit.Redis(t)
	rank := ranking.New(db, rdb, prefix, nil)
	if _, err := rank.Reconcile(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s = New(db, set, Deps{Now: func() time.Time { return now }, Boards: rank})
	run, created, err := s.Cull(ctx, set.CycleAt(now))
	if err != nil || !created || run.Victims != 5 {
		t.Fatalf("cull = %+v, %v, %v; want 5 victims", run, created, err)
	}
	rows, err := db.Query(ctx, `SELECT post_id, rank_version FROM cull_victims WHERE run_id = $1 ORDER BY rank`, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		ids, versions = append(ids, id), append(versions, v)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if on := onBoards(ctx, t, rdb, prefix, ids); len(on) == 0 {
		t.Fatal("no victim is on a board before the follow-up: the test shows nothing")
	}
	return ctx, db, rdb, prefix, s, run, ids, versions
}

// onBoards returns the boards (keys) in Redis that hold any of ids.
func onBoards(ctx context.Context, t *testing.T, rdb *redis.Client, prefix string, ids []int64) []string {
	t.Helper()
	keys, err := rdb.Keys(ctx, prefix+"board:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var on []string
	for _, k := range keys {
		if k == prefix+"board:creators" {
			continue
		}
		members, err := rdb.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if slices.Contains(members, strconv.FormatInt(id, 10)) {
				on = append(on, k)
				break
			}
		}
	}
	return on
}

// The follow-up reads the victims a page at a time while Redis takes the
// page before off the boards: every page goes, in rank order, at the
// versions recorded; a run recorded before versions were has its posts
// read again; and an error from Redis ends it, with the reader stopped.
func TestUnlistVictimsInPages(t *testing.T) {
	defer func(n int) { victimsPerPage = n }(victimsPerPage)
	victimsPerPage = 2 // five victims: pages of 2, 2 and 1

	t.Run("pages", func(t *testing.T) {
		ctx, _, rdb, prefix, s, run, want, wantVersions := unlistSetup(t)
		ids, versions, moved, err := s.unlistVictims(ctx, run.ID)
		if err != nil || moved != 5 {
			t.Fatalf("unlistVictims: moved %d, %v; want 5", moved, err)
		}
		if !slices.Equal(ids, want) || !slices.Equal(versions, wantVersions) {
			t.Fatalf("victims %v at %v; want %v at %v (by rank)", ids, versions, want, wantVersions)
		}
		if on := onBoards(ctx, t, rdb, prefix, ids); len(on) != 0 {
			t.Fatalf("victims still on %v", on)
		}
		// Again: nothing moves (the versions are applied), the same victims.
		ids, _, moved, err = s.unlistVictims(ctx, run.ID)
		if err != nil || moved != 0 || !slices.Equal(ids, want) {
			t.Fatalf("again: %v moved %d, %v; want the same victims, none moved", ids, moved, err)
		}
	})

	// Posts that became ready between the cull's count and its choice
	// rank below the count: a victim can rank 0 or below.
	t.Run("ranks below one", func(t *testing.T) {
		ctx, db, rdb, prefix, s, run, want, _ := unlistSetup(t)
		if _, err := db.Exec(ctx, `UPDATE cull_victims SET rank = rank - 8 WHERE run_id = $1`, run.ID); err != nil {
			t.Fatal(err)
		}
		ids, _, moved, err := s.unlistVictims(ctx, run.ID)
		if err != nil || moved != 5 || !slices.Equal(ids, want) {
			t.Fatalf("unlistVictims with ranks below one: %v moved %d, %v; want %v, 5 moved", ids, moved, err, want)
		}
		if on := onBoards(ctx, t, rdb, prefix, ids); len(on) != 0 {
			t.Fatalf("victims still on %v", on)
		}
	})

	t.Run("without versions", func(t *testing.T) {
		ctx, db, rdb, prefix, s, run, want, _ := unlistSetup(t)
		if _, err := db.Exec(ctx, `UPDATE cull_victims SET rank_version = NULL WHERE run_id = $1`, run.ID); err != nil {
			t.Fatal(err)
		}
		ids, versions, moved, err := s.unlistVictims(ctx, run.ID)
		if err != nil || moved != 5 || versions != nil || !slices.Equal(ids, want) {
			t.Fatalf("unlistVictims of a run without versions: %v at %v, moved %d, %v; want %v, no versions, 5 moved", ids, versions, moved, err, want)
		}
		if on := onBoards(ctx, t, rdb, prefix, ids); len(on) != 0 {
			t.Fatalf("victims still on %v", on)
		}
	})

	t.Run("redis fails", func(t *testing.T) {
		ctx, db, rdb, prefix, s, run, want, _ := unlistSetup(t)
		opt := *rdb.Options()
		broken := redis.NewClient(&opt)
		_ = broken.Close()
		s.d.Boards = ranking.New(db, broken, prefix, nil)
		done := make(chan error, 1)
		go func() {
			_, _, _, err := s.unlistVictims(ctx, run.ID)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("unlistVictims with Redis closed: no error")
			}
		case <-time.After(time.Minute):
			t.Fatal("unlistVictims with Redis closed did not return")
		}
		if on := onBoards(ctx, t, rdb, prefix, want); len(on) == 0 {
			t.Fatal("victims left the boards through a closed client")
		}
	})
}
