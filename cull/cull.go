// Package cull deletes the lowest-ranked posts once per cycle: "survival of
// the funniest".
//
// Time is cut into cycles of Settings.Interval; cycle n starts at n ×
// Interval seconds after the Unix epoch. Each cycle runs at most once,
// whatever the number of workers: a run claims the cycle's row in
// cull_runs (unique per interval and cycle) in the same PostgreSQL
// transaction that chooses its victims, marks them `culled` and records
// them with their rank and score. Victims are chosen from PostgreSQL alone
// (Redis may be empty): the `ready` posts created before the cycle's start
// minus the grace period, lowest board score first — the boards' order
// read backwards, ties going to the older post — limited by the share, the
// cap and the floor (see Settings.Quota). With a floor, removals and
// deletions of posts wait for a cull under way, and a cull for those under
// way (store.CullFloorLock), so none of them lands between the cull's
// count of ready posts and its commit.
//
// What follows a run — taking the victims off every board, announcing,
// notifying their authors, refreshing the danger zone, collecting their
// media — is recorded step by step on the run and is idempotent, so a lost
// or interrupted follow-up task is simply run again (the periodic tick
// re-enqueues it) and never culls anything.
//
// The danger zone is the list of posts the next cycle would cull if it ran
// now; it is computed by the same code as the cull itself, for the same
// cutoff, so with no ratings in between it is exactly the next cycle's
// victims. What was last announced about it is kept in PostgreSQL, shared
// by every process that checks it (see CheckDanger).
package cull

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/store"
)

// Notification kinds of the cull.
const (
	// NotifyCulled: the author's post was culled; data carries post_id,
	// run_id, cycle, rank and score.
	NotifyCulled = "culled"
	// NotifyDanger: the author's post entered (data.state "entered") or
	// left ("left") the danger zone; data carries post_id, rank, score,
	// distance and cull_at.
	NotifyDanger = "danger"
)

// Settings are the cull's policy (config: CULL_*).
type Settings struct {
	Interval time.Duration // length of a cycle, whole seconds, ≥ 1s
	Grace    time.Duration // posts younger than this at a cycle's start are safe
	Share    float64       // most culled per cycle, as a share of the eligible posts (0..1)
	Max      int           // most culled per cycle; 0: no cap
	Floor    int           // never leave fewer ready posts than this
	Board    string        // "top" or "hot"
}

// Quota is how many posts a cycle culls when `ready` posts are up and
// `eligible` of them are past the grace period:
//
//	min( ⌊Share × eligible⌋, Max (if set), ready − Floor, eligible ), never below 0.
//
// The share counts eligible posts only, so young posts neither protect
// nor expose old ones; the floor counts every ready post, young ones too.
func (s Settings) Quota(ready, eligible int) int {
	// The epsilon keeps 0.29 × 100 = 28.999999999999996 at 29.
	n := int(math.Floor(s.Share*float64(eligible) + 1e-9))
	if s.Max > 0 {
		n = min(n, s.Max)
	}
	n = min(n, ready-s.Floor, eligible)
	return max(n, 0)
}

// column is the posts column holding the board's stored score.
func (s Settings) column() string {
	if s.Board == "hot" {
		return "score_hot"
	}
	return "score_top"
}

func (s Settings) seconds() int64 { return int64(s.Interval / time.Second) }

// Validate rejects settings the cull cannot run with.
func (s Settings) Validate() error {
	switch {
	case s.Interval < time.Second || s.Interval%time.Second != 0:
		return fmt.Errorf("cull: the interval must be a whole number of seconds, at least 1s")
	case s.Grace < 0 || s.Share < 0 || s.Share > 1 || s.Max < 0 || s.Floor < 0:
		return fmt.Errorf("cull: negative grace, cap or floor, or a share outside 0..1")
	case s.Board != "top" && s.Board != "hot":
		return fmt.Errorf("cull: the board must be top or hot")
	}
	return nil
}

// Cycle is one slot of time in which the cull runs once.
type Cycle struct {
	Number int64
	Start  time.Time // Number × Interval after the Unix epoch
}

// CycleAt returns the cycle that contains t.
func (s Settings) CycleAt(t time.Time) Cycle {
	sec := s.seconds()
	n := t.Unix() / sec
	if t.Unix() < 0 && t.Unix()%sec != 0 {
		n-- // floor, not truncation (only before 1970)
	}
	return s.Cycle(n)
}

// Cycle returns cycle number n.
func (s Settings) Cycle(n int64) Cycle {
	return Cycle{Number: n, Start: time.Unix(n*s.seconds(), 0).UTC()}
}

// Cutoff is the creation time before which a post is eligible in cycle c.
func (s Settings) Cutoff(c Cycle) time.Time { return c.Start.Add(-s.Grace) }

// Boards takes culled posts off every board; ranking.Service implements it.
type Boards interface {
	// Unlist reads each post's version; UnlistAtEach is given them, in
	// parts as they are read.
	Unlist(ctx context.Context, ids []int64) (int, error)
	UnlistAtEach(ctx context.Context, parts <-chan ranking.PostVersions) (int, error)
}

// Files deletes a queued media file once nothing uses it; posts.Service
// implements it.
type Files interface {
	Collect(ctx context.Context, path string) error
}

// Queue schedules the cull's tasks; the worker package implements it with
// asynq, using the cycle (or run) as the task id so that enqueueing the
// same work twice is a no-op. at zero means now.
type Queue interface {
	EnqueueCull(ctx context.Context, s Settings, c Cycle, at time.Time) error
	EnqueueCullFollowup(ctx context.Context, runID int64) error
}

// Deps are the services the cull uses. Boards, Files, Queue, Notify and
// Announce may be nil (tests, or an API-only process that only reads).
type Deps struct {
	Boards   Boards
	Files    Files
	Queue    Queue
	Notify   *notifications.Service
	Announce Announcer
	// Now is the clock (tests move it); nil is time.Now.
	Now func() time.Time
}

// Service runs culls and answers questions about them.
type Service struct {
	db  *pgxpool.Pool
	set Settings
	d   Deps

	// beforeCull, if set (tests), runs in the cull's transaction between
	// the plan and the statement that culls; beforeCommit, after the last
	// statement, just before the commit.
	beforeCull   func()
	beforeCommit func()
	// dangerSnapshot, if set (tests), runs in the danger check's
	// transaction once its snapshot is taken.
	dangerSnapshot func()
}

// New returns a Service; it panics on invalid settings (config.Validate
// checks them first).
func New(db *pgxpool.Pool, set Settings, d Deps) *Service {
	if err := set.Validate(); err != nil {
		panic(err)
	}
	if d.Announce == nil {
		d.Announce = Nop{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{db: db, set: set, d: d}
}

// Settings returns the service's settings.
func (s *Service) Settings() Settings { return s.set }

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Advisory lock keys (pg_advisory_xact_lock): one cull at a time, one
// danger check at a time, and the floor: a cull with a floor holds
// lockFloor exclusively while removers of posts hold it shared (see
// store.CullFloorLock). The cull takes lockCull, then lockFloor, then post
// rows.
const (
	lockCull   = 0x63756c6c // "cull"
	lockDanger = 0x64616e67 // "dang"
	lockFloor  = store.CullFloorLock
)
