package accounts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jokster/jokster"
)

// dbtx is what both a pool and a transaction offer.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// openSession issues an access token and a refresh token in family. epoch
// is the account's session epoch, read in the transaction q that records
// the session.
func (s *Service) openSession(ctx context.Context, q dbtx, u jokster.User, epoch int64, family uuid.UUID) (Session, error) {
	access, err := s.tokens.issue(u, family, epoch)
	if err != nil {
		return Session{}, err
	}
	tok, hash := opaque()
	if _, err := q.Exec(ctx, `INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at) VALUES ($1, $2, $3, $4)`,
		u.ID, family, hash, time.Now().Add(s.set.RefreshTTL)); err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, RefreshToken: tok, ExpiresIn: int(s.tokens.TTL().Seconds()), User: u}, nil
}

var errBadRefresh = jokster.Errorf(jokster.EUNAUTHORIZED, "the refresh token is not valid; log in again")

// reuseGrace is how long after its first use a refresh token is accepted
// again. A browser that reloads the page while its refresh is on the way
// drops the answer (and the new cookie) although the server spent the
// token, and two tabs opening at once both send the same cookie: without
// it, either would count as theft and sign the user out everywhere.
const reuseGrace = 30 * time.Second

// Refresh exchanges a refresh token for a new session. Each token works
// once, give or take reuseGrace: presenting one that was already used (a
// stolen copy, or the legitimate owner after a thief got there first)
// revokes its whole family, and with it the access tokens issued for it.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 200 {
		return Session{}, errBadRefresh
	}
	var sess Session
	var reused bool
	var uid int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var id int64
		var family uuid.UUID
		var expires time.Time
		var used, revoked *time.Time
		var graced, familyRevoked bool
		// A family counts as revoked once any of its tokens is: a revocation
		// (log-out, reuse, password change) that ran while this very
		// refresh held its token's lock cannot see the token this refresh
		// adds to the family, which would otherwise live on.
		err := tx.QueryRow(ctx, `SELECT id, user_id, family, expires_at, used_at, revoked_at,
				coalesce(used_at > now() - make_interval(secs => $2), false),
				EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family = t.family AND f.revoked_at IS NOT NULL)
			FROM refresh_tokens t WHERE token_hash = $1 FOR UPDATE`,
			hashToken(token), reuseGrace.Seconds()).Scan(&id, &uid, &family, &expires, &used, &revoked, &graced, &familyRevoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return errBadRefresh
		} else if err != nil {
			return err
		}
		if revoked != nil || familyRevoked {
			return errBadRefresh
		}
		if used != nil && !graced {
			reused = true
			_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL`, family)
			return err
		}
		if time.Now().After(expires) {
			return errBadRefresh
		}
		// A second use within the grace keeps the first use's time, so the
		// grace cannot be stretched by using the token again and again.
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = coalesce(used_at, now()) WHERE id = $1`, id); err != nil {
			return err
		}
		var epoch int64
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+`, session_epoch FROM users WHERE id = $1`, uid), &epoch)
		if err != nil {
			return err
		}
		sess, err = s.openSession(ctx, tx, u, epoch, family)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	if reused {
		s.tokens.sessions.forget(uid)
		slog.Warn("a used refresh token was presented again: its family is revoked", "user_id", uid)
		return Session{}, jokster.Errorf(jokster.EUNAUTHORIZED, "this refresh token was already used; for safety every session it led to is signed out: log in again")
	}
	return sess, nil
}

// Logout revokes the family of token, and so the access tokens issued for
// that session; the account's other sessions live on. Unknown tokens are
// ignored: the caller is logged out either way.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > 200 {
		return nil
	}
	var uid int64
	err := s.db.QueryRow(ctx, `WITH t AS (SELECT user_id, family FROM refresh_tokens WHERE token_hash = $1),
		r AS (UPDATE refresh_tokens SET revoked_at = now()
			WHERE family = (SELECT family FROM t) AND revoked_at IS NULL)
		SELECT user_id FROM t`, hashToken(token)).Scan(&uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	s.tokens.sessions.forget(uid)
	return nil
}

// User returns account id.
func (s *Service) User(ctx context.Context, id int64) (jokster.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		// A valid token of an account deleted since it was issued.
		return u, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	}
	return u, err
}

// Purge deletes expired and long-revoked tokens; the scheduler runs it.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	a, err := s.db.Exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '7 days'`)
	if err != nil {
		return 0, err
	}
	b, err := s.db.Exec(ctx, `DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day'`)
	if err != nil {
		return 0, err
	}
	return a.RowsAffected() + b.RowsAffected(), nil
}
