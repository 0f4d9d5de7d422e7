package cull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
)

// Endangered is a post in the danger zone.
type Endangered struct {
	Victim
	// Distance is how far the post's score is below the first safe post's
	// (the lowest eligible post the next cull would spare): the score it
	// must gain to draw level with it. At equal score the older post still
	// loses the tie-break, so a post older than that one must pass it. Nil
	// when every eligible post is in the zone (no post is safe).
	Distance *float64
	// Places is how many eligible posts it must overtake to be safe:
	// 1 for the best post of the zone, the zone's size for its last.
	Places int
}

// Zone is the danger zone: the posts the next cycle would cull if it ran
// now, computed exactly as the cull computes its victims (same cutoff,
// same order, same quota).
type Zone struct {
	Cycle     Cycle     // the next cycle
	CullAt    time.Time // its start; in the past when the cycle is due and a worker is about to run it
	Cutoff    time.Time // posts created before it are eligible
	Ready     int
	Eligible  int
	Count     int      // posts in the zone (the next cull's victims)
	SafeScore *float64 // the first safe post's score, or nil
	Items     []Endangered
	More      bool // items beyond this page
}

// Danger returns the danger zone with limit of its posts from offset,
// best-ranked first (the post nearest safety first).
func (s *Service) Danger(ctx context.Context, offset, limit int) (Zone, error) {
	if err := storeMissingScores(ctx, s.db); err != nil {
		slog.Warn("cull: could not store missing scores", "err", err)
	}
	var z Zone
	// One snapshot, so the counts and the page agree.
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		c, err := s.nextCycle(ctx, tx)
		if err != nil {
			return err
		}
		p, err := s.makePlan(ctx, tx, c)
		if err != nil {
			return err
		}
		z, err = s.zone(ctx, tx, p, offset, limit)
		return err
	})
	return z, err
}

// zone computes one page of the zone of plan p.
func (s *Service) zone(ctx context.Context, q querier, p plan, offset, limit int) (Zone, error) {
	z := Zone{Cycle: p.Cycle, CullAt: p.Cycle.Start, Cutoff: p.Cutoff, Ready: p.Ready, Eligible: p.Eligible, Count: p.Quota}
	safe, err := s.bottom(ctx, q, p, p.Quota, 1)
	if err != nil {
		return z, err
	}
	if len(safe) == 1 {
		z.SafeScore = &safe[0].Score
	}
	if offset >= p.Quota {
		return z, nil
	}
	// Best-ranked first is the bottom-up order reversed: this page holds
	// bottom-up positions lo+1 … hi.
	hi := p.Quota - offset
	lo := max(0, hi-limit)
	vs, err := s.bottom(ctx, q, p, lo, hi-lo)
	if err != nil {
		return z, err
	}
	slices.Reverse(vs)
	z.Items = endangered(vs, hi, p.Quota, z.SafeScore)
	z.More = lo > 0
	return z, nil
}

// endangered dresses victims listed best first, the first of them at
// bottom-up position top (1 = the lowest post), in a zone of quota posts.
func endangered(vs []Victim, top, quota int, safe *float64) []Endangered {
	out := make([]Endangered, len(vs))
	for i, v := range vs {
		e := Endangered{Victim: v, Places: quota - (top - i) + 1}
		if safe != nil {
			d := max(*safe-v.Score, 0)
			e.Distance = &d
		}
		out[i] = e
	}
	return out
}

// CheckDanger recomputes the whole danger zone and tells authors whose
// posts entered it or left it (a `danger` notification on their `me`
// channel), remembering the zone in cull_danger; it announces
// DangerChanged when the zone's membership or its front (see frontOf)
// changed. Posts that left it by being culled are dropped silently (their
// authors hear `culled`). The worker runs it on every tick (every
// min(CULL_INTERVAL, 1m)) and after every cull, so an author hears within
// a tick of the rating that moved the post. It returns how many posts
// entered or left.
//
// What was announced is kept in PostgreSQL (cull_danger, and
// cull_danger_front for the front), never in the process: every worker
// and API process checks against the same record, under one lock and in
// the transaction that updates it, so each change is announced and told
// to authors once, whichever process sees it first, and a process that
// restarts carries on from the record. Announcing follows the commit, so
// a process that dies in between loses that one DangerChanged (the
// authors' notifications are in PostgreSQL already); watchers of the
// zone hear the next change.
func (s *Service) CheckDanger(ctx context.Context) (int, error) {
	var notes []jokster.Notification
	changed := 0
	size := 0
	moved := false
	if err := storeMissingScores(ctx, s.db); err != nil {
		return 0, err
	}
	conn, unlock, err := lockSession(ctx, s.db, lockDanger)
	if err != nil {
		return 0, err
	}
	defer unlock()
	// One snapshot, taken after the lock: the cycle, the counts and the
	// ranks agree with each other (a cull committing meanwhile is either
	// wholly seen or not at all) and with what the previous check stored.
	// Such a snapshot can fail to serialize: the foreign keys of the rows
	// it writes lock posts and users, and a row locked FOR UPDATE and
	// changed since the snapshot (editing a post or an account) refuses
	// them. The check is then run again, against a new snapshot, rather
	// than lost until the next tick.
	for attempt := 1; ; attempt++ {
		err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			notes, changed, size, moved = nil, 0, 0, false
			c, err := s.nextCycle(ctx, tx)
			if err != nil {
				return err
			}
			if s.dangerSnapshot != nil {
				s.dangerSnapshot()
			}
			p, err := s.makePlan(ctx, tx, c)
			if err != nil {
				return err
			}
			all, err := s.bottom(ctx, tx, p, 0, p.Quota+1)
			if err != nil {
				return err
			}
			var safe *float64
			if len(all) > p.Quota {
				safe = &all[p.Quota].Score
				all = all[:p.Quota]
			}
			size = len(all)
			rows, err := tx.Query(ctx, `SELECT post_id FROM cull_danger`)
			if err != nil {
				return err
			}
			stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			was := make(map[int64]bool, len(stored))
			for _, id := range stored {
				was[id] = true
			}
			in := make(map[int64]bool, len(all))
			var ids []int64
			var ranks []int
			var scores []float64
			var dists []*float64
			for _, e := range endangered(all, 1, p.Quota, safe) {
				in[e.PostID] = true
				if !was[e.PostID] {
					ids, ranks, scores, dists = append(ids, e.PostID), append(ranks, e.Rank), append(scores, e.Score), append(dists, e.Distance)
				}
			}
			var left []int64
			for _, id := range stored {
				if !in[id] {
					left = append(left, id)
				}
			}
			changed = len(ids) + len(left)
			if moved, err = frontMoved(ctx, tx, frontOf(p, all, safe)); err != nil {
				return err
			}
			if changed == 0 {
				return nil
			}
			cullAt := p.Cycle.Start.UTC().Format(time.RFC3339)
			if len(left) > 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM cull_danger WHERE post_id = ANY($1)`, left); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, `INSERT INTO notifications (user_id, kind, data)
				SELECT p.author_id, $2, jsonb_build_object('post_id', p.id::text, 'caption', left(p.caption, 80), 'state', 'left', 'cull_at', $3::text)
				FROM posts p WHERE p.id = ANY($1) AND `+store.Ready("p")+` ORDER BY p.id
				RETURNING id, user_id, data, created_at`, left, NotifyDanger, cullAt)
				if err != nil {
					return err
				}
				n, err := collectNotes(rows, NotifyDanger)
				if err != nil {
					return err
				}
				notes = append(notes, n...)
			}
			if len(ids) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO cull_danger (post_id, rank, score)
				SELECT * FROM unnest($1::bigint[], $2::int[], $3::float8[])`, ids, ranks, scores); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, `INSERT INTO notifications (user_id, kind, data)
				SELECT p.author_id, $5, jsonb_build_object('post_id', p.id::text, 'caption', left(p.caption, 80), 'state', 'entered', 'rank', u.rank,
					'score', u.score, 'distance', u.distance, 'cycle', $6::bigint, 'cull_at', $7::text)
				FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::float8[]) AS u(id, rank, score, distance)
				JOIN posts p ON p.id = u.id ORDER BY u.rank
				RETURNING id, user_id, data, created_at`, ids, ranks, scores, dists, NotifyDanger, p.Cycle.Number, cullAt)
				if err != nil {
					return err
				}
				n, err := collectNotes(rows, NotifyDanger)
				if err != nil {
					return err
				}
				notes = append(notes, n...)
			}
			return nil
		})
		if !store.IsSerializationFailure(err) || attempt == 3 {
			break
		}
		slog.Info("cull: the danger check met a concurrent change; checking again", "attempt", attempt)
	}
	if err != nil {
		return 0, err
	}
	if s.d.Notify != nil {
		s.d.Notify.Announce(ctx, notes...)
	}
	if changed > 0 || moved {
		s.d.Announce.DangerChanged(ctx)
	}
	if changed > 0 {
		slog.Info("cull: danger zone changed", "posts", size, "entered_or_left", changed)
	}
	return changed, nil
}

// frontLen is how much of the zone's front frontMoved watches: what a
// page of the zone shows first.
const frontLen = 50

// frontOf sums up the front of the zone: its size, the score that is
// safe, and the first posts with their ranks and scores. Ratings that move
// posts within the zone, or the safe score, change no membership and tell
// no author, but the people watching the zone should see them.
func frontOf(p plan, zone []Victim, safe *float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d", p.Cycle.Number, len(zone))
	if safe != nil {
		fmt.Fprintf(&b, " %v", *safe)
	}
	// The zone is listed from the bottom up; its front is the end nearest
	// safety, which the API lists first.
	for i := len(zone) - 1; i >= 0 && i >= len(zone)-frontLen; i-- {
		fmt.Fprintf(&b, " %d:%d:%v", zone[i].PostID, zone[i].Rank, zone[i].Score)
	}
	return b.String()
}

// frontMoved reports whether front differs from the front last announced
// (cull_danger_front), and records it there, in transaction tx of a danger
// check. The row is shared by every process and only written under the
// danger check's lock, so one change of front is announced by one check
// wherever it runs, and a restarted process compares with what was
// announced before it started. With no front recorded yet (a new
// database) nothing has been announced to compare with: the front is
// recorded and not announced as moved (a change of membership is announced
// all the same).
func frontMoved(ctx context.Context, tx pgx.Tx, front string) (bool, error) {
	var was string
	err := tx.QueryRow(ctx, `SELECT front FROM cull_danger_front`).Scan(&was)
	known := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	if known && was == front {
		return false, nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO cull_danger_front (front) VALUES ($1)
		ON CONFLICT (id) DO UPDATE SET front = EXCLUDED.front, changed_at = now()`, front)
	return known, err
}

func collectNotes(rows pgx.Rows, kind string) ([]jokster.Notification, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Notification, error) {
		n := jokster.Notification{Kind: kind}
		err := r.Scan(&n.ID, &n.UserID, &n.Data, &n.CreatedAt)
		return n, err
	})
}

// lockSession takes session advisory lock key on a connection of its own
// and returns the connection and the function that unlocks and releases
// it. A transaction begun on the connection afterwards sees everything the
// lock's previous holder committed; a transaction-scoped lock could not
// promise that to a repeatable-read transaction, whose snapshot is taken
// as its first statement starts — before that statement waits for the
// lock. Should unlocking fail, the connection is closed, which releases
// the lock.
func lockSession(ctx context.Context, db *pgxpool.Pool, key int64) (*pgxpool.Conn, func(), error) {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// A wait cut short by ctx closes the connection, lock or no lock.
		conn.Release()
		return nil, nil, err
	}
	return conn, func() {
		bg := context.WithoutCancel(ctx)
		if _, err := conn.Exec(bg, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Conn().Close(bg)
		}
		conn.Release()
	}, nil
}
