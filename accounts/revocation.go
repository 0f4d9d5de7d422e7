package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/jokster/jokster"
)

// Access tokens are checked against PostgreSQL through a per-node cache.
// sessionFresh is how long a node trusts what it read: a node learns of a
// sign-out made through another node at most this late (the node that made
// it forgets its copy at once). sessionStale is how long a copy still
// serves when PostgreSQL cannot be read, so that a short outage does not
// sign everyone out; a sign-out needs PostgreSQL too, so nothing newer can
// have happened meanwhile that the copy misses.
const (
	sessionFresh = 3 * time.Second
	sessionStale = time.Minute
	// sessionCacheMax bounds the cache; past it, copies too old to serve
	// even in an outage are dropped, and if that is not enough, all.
	sessionCacheMax = 100_000
)

// sessionState is what decides whether an account's access tokens hold.
type sessionState struct {
	epoch   int64       // tokens stamped with an older epoch are void
	revoked []uuid.UUID // sessions revoked within an access token's lifetime
	gone    bool        // the account was deleted
	read    time.Time
}

type sessionCache struct {
	db *pgxpool.Pool
	// window is how far back a revoked session still matters: after it,
	// every access token issued for the session has expired.
	window time.Duration

	mu sync.Mutex
	m  map[int64]sessionState
	// forgets counts forget calls: a read that began before one may have
	// missed the sign-out it was for, and is not kept.
	forgets uint64
	loads   singleflight.Group
}

func newSessionCache(db *pgxpool.Pool, ttl time.Duration) *sessionCache {
	// The access token's lifetime, its leeway, and a margin for the API
	// nodes' clocks (which stamp expiries) against PostgreSQL's (which
	// stamps revocations).
	return &sessionCache{db: db, window: ttl + 5*time.Second + time.Minute, m: map[int64]sessionState{}}
}

var (
	errSignedOut = jokster.Errorf(jokster.EUNAUTHORIZED,
		"this access token was signed out (the password was changed or reset, or every session was signed out): log in again")
	errSessionEnded = jokster.Errorf(jokster.EUNAUTHORIZED, "this session was logged out: log in again")
	errAccountGone  = jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
)

// check refuses the token c if its account or session was signed out since
// it was issued.
func (sc *sessionCache) check(ctx context.Context, c Claims) error {
	st, err := sc.get(ctx, c.UserID)
	if err != nil {
		return err
	}
	switch {
	case st.gone:
		return errAccountGone
	case c.Epoch < st.epoch:
		return errSignedOut
	case c.Epoch > st.epoch:
		// The token is newer than what this node read: the password
		// changed through another node since. Read again next time, so
		// that the tokens the change voided are refused from then on.
		sc.forget(c.UserID)
	}
	if c.Session != uuid.Nil && slices.Contains(st.revoked, c.Session) {
		return errSessionEnded
	}
	return nil
}

// forget drops the copy for uid: this node just changed its sessions, and
// the next check must see the change, not join a read begun before it.
func (sc *sessionCache) forget(uid int64) {
	sc.mu.Lock()
	delete(sc.m, uid)
	sc.forgets++
	sc.mu.Unlock()
	sc.loads.Forget(strconv.FormatInt(uid, 10))
}

func (sc *sessionCache) get(ctx context.Context, uid int64) (sessionState, error) {
	sc.mu.Lock()
	st, ok := sc.m[uid]
	sc.mu.Unlock()
	if ok && time.Since(st.read) < sessionFresh {
		return st, nil
	}
	// One read per account at a time however many requests need it; the
	// read is not tied to the first asker's request, whose end must not
	// fail the others.
	v, err, _ := sc.loads.Do(strconv.FormatInt(uid, 10), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return sc.load(lctx, uid)
	})
	if err != nil {
		if ok && time.Since(st.read) < sessionStale {
			slog.Warn("access tokens: reading sign-outs failed; using a copy", "user_id", uid, "age", time.Since(st.read).Round(time.Millisecond), "err", err)
			return st, nil
		}
		return sessionState{}, fmt.Errorf("accounts: reading the sign-outs of user %d: %w", uid, err)
	}
	return v.(sessionState), nil
}

func (sc *sessionCache) load(ctx context.Context, uid int64) (sessionState, error) {
	sc.mu.Lock()
	forgets := sc.forgets
	sc.mu.Unlock()
	st := sessionState{read: time.Now()}
	err := sc.db.QueryRow(ctx, `SELECT u.session_epoch,
			coalesce((SELECT array_agg(DISTINCT r.family) FROM refresh_tokens r
				WHERE r.user_id = u.id AND r.revoked_at > now() - make_interval(secs => $2)), '{}')
		FROM users u WHERE u.id = $1`, uid, sc.window.Seconds()).Scan(&st.epoch, &st.revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		st.gone, err = true, nil
	}
	if err != nil {
		return sessionState{}, err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.forgets != forgets {
		return st, nil
	}
	if len(sc.m) >= sessionCacheMax {
		for id, old := range sc.m {
			if time.Since(old.read) >= sessionStale {
				delete(sc.m, id)
			}
		}
		if len(sc.m) >= sessionCacheMax {
			clear(sc.m)
		}
	}
	sc.m[uid] = st
	return st, nil
}
