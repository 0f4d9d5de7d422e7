package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/store"
)

// checkPasswordOf loads user id and compares password with its hash, which
// it returns: the check is made outside any transaction (argon2id takes
// long), so a write it allows must still find that hash.
func (s *Service) checkPasswordOf(ctx context.Context, id int64, password, field string) (jokster.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE id = $1`, id), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, "", jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	} else if err != nil {
		return u, "", err
	}
	if password == "" || len(password) > MaxPassword {
		return u, "", jokster.Invalid(map[string]string{field: "your current password is required"})
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return u, "", err
	}
	if !ok {
		return u, "", &jokster.Error{Code: jokster.EFORBIDDEN, Message: "the current password is wrong", Fields: map[string]string{field: "wrong password"}}
	}
	return u, hash, nil
}

// errPasswordChanged answers a change whose current password was right
// when checked but was replaced before the change could be written.
var errPasswordChanged = &jokster.Error{Code: jokster.ECONFLICT,
	Message: "the password was changed by another request meanwhile; nothing was changed: log in with the new password",
	Fields:  map[string]string{"current_password": "changed meanwhile"}}

// ChangePassword replaces the password, signs out every session (their
// access tokens included) and returns a fresh one for the caller.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next string) (Session, error) {
	u, old, err := s.checkPasswordOf(ctx, id, current, "current_password")
	if err != nil {
		return Session{}, err
	}
	if msg := checkPassword(next, u.Username, u.Email); msg != "" {
		return Session{}, jokster.Invalid(map[string]string{"new_password": msg})
	}
	if next == current {
		return Session{}, jokster.Invalid(map[string]string{"new_password": "must differ from the current password"})
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return Session{}, err
	}
	var sess Session
	var mailID uuid.UUID
	err = store.Retry(func() error {
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			epoch, err := s.setPassword(ctx, tx, u.ID, hash, old)
			if err != nil {
				return err
			}
			mailID, err = s.outbox.Add(ctx, tx, mail.Message{UserID: u.ID, To: u.Email, Subject: "Your Jokster password was changed",
				Body: fmt.Sprintf("Hi %s,\n\nyour password was just changed and your other sessions were signed out. If this was not you, reset your password at once:\n\n%s/forgot-password\n",
					u.Username, strings.TrimRight(s.set.PublicURL, "/"))})
			if err != nil {
				return err
			}
			sess, err = s.openSession(ctx, tx, u, epoch, uuid.New())
			return err
		})
	})
	s.tokens.sessions.forget(u.ID)
	if err != nil {
		return Session{}, err
	}
	s.outbox.Dispatch(ctx, mailID)
	return sess, nil
}

// setPassword stores a new password hash and signs out every session: the
// refresh tokens are revoked, and the session epoch moves on, which voids
// every access token issued before (the caller tells the token cache once
// the transaction is over). It returns the new epoch. With old set, the
// hash is replaced only if it still is old: two changes that both checked
// the same current password must not both succeed, the second one undoing
// the first. It also voids every pending reset and e-mail-change link:
// whoever knew the old password may have asked for one (an address change
// to theirs is the way to keep an account), and a new password is what the
// warning mails tell the owner to set.
func (s *Service) setPassword(ctx context.Context, tx pgx.Tx, id int64, hash, old string) (int64, error) {
	var epoch int64
	err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2, password_changed_at = now(), session_epoch = session_epoch + 1
		WHERE id = $1 AND ($3 = '' OR password_hash = $3) RETURNING session_epoch`, id, hash, old).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		if old != "" {
			return 0, errPasswordChanged
		}
		return 0, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	} else if err != nil {
		return 0, err
	}
	if err := voidLinks(ctx, tx, id, "reset_password", "change_email"); err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, id)
	return epoch, err
}

// voidLinks marks the user's unused links of the given purposes used.
func voidLinks(ctx context.Context, tx pgx.Tx, uid int64, purposes ...string) error {
	_, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL AND purpose = ANY($2)`,
		uid, purposes)
	return err
}

// ForgotPassword mails a reset link if an account has that address. The
// answer is the same either way, and at most one mail a minute goes out per
// account so the endpoint cannot flood someone's inbox.
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	addr := normalEmail(email)
	if addr == "" {
		return jokster.Invalid(map[string]string{"email": "not a valid e-mail address"})
	}
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`, addr))
	if errors.Is(err, pgx.ErrNoRows) {
		slog.Info("password reset asked for an address no account has")
		return nil
	} else if err != nil {
		return err
	}
	var mailID uuid.UUID
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Serialise concurrent requests for one account.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
			return err
		}
		if recent, err := recentToken(ctx, tx, u.ID, "reset_password"); err != nil || recent {
			return err
		}
		mailID, err = s.mailToken(ctx, tx, u, "reset_password", "", s.set.ResetTTL)
		return err
	})
	if err != nil {
		return err
	}
	if mailID != uuid.Nil {
		s.outbox.Dispatch(ctx, mailID)
	}
	return nil
}

func recentToken(ctx context.Context, tx pgx.Tx, uid int64, purpose string) (bool, error) {
	var recent bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > now() - interval '1 minute')`,
		uid, purpose).Scan(&recent)
	return recent, err
}

var errBadLink = &jokster.Error{Code: jokster.EINVALID, Message: "this link is not valid: it was already used, has expired or was replaced by a newer one",
	Fields: map[string]string{"token": "invalid or expired"}}

// useToken consumes a single-use token of purpose inside tx.
func useToken(ctx context.Context, tx pgx.Tx, token, purpose string) (uid int64, newEmail *string, err error) {
	if token == "" || len(token) > 200 {
		return 0, nil, errBadLink
	}
	err = tx.QueryRow(ctx, `UPDATE account_tokens SET used_at = now()
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING user_id, new_email`, hashToken(token), purpose).Scan(&uid, &newEmail)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, errBadLink
	}
	return uid, newEmail, err
}

// ResetPassword sets a new password with a token from ForgotPassword and
// signs out every session, their access tokens included. It also proves
// the address: the account becomes verified.
//
// Unlike a change, a reset checks nothing outside its transaction: the
// token is spent by a conditional update inside it, so of two resets with
// one token only one gets through, and a change that commits first voids
// the token. A change's own check of the old hash makes it lose to a reset
// that committed first.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if msg := checkPassword(password); msg != "" {
		return jokster.Invalid(map[string]string{"password": msg})
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	var uid int64
	// A reset locks the link, then the account; a change the account, then
	// (voiding links) the link: at the same moment the two deadlock, and
	// the one PostgreSQL aborts runs again.
	err = store.Retry(func() error {
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var err error
			uid, _, err = useToken(ctx, tx, token, "reset_password")
			if err != nil {
				return err
			}
			var username, email string
			if err := tx.QueryRow(ctx, `SELECT username, email FROM users WHERE id = $1`, uid).Scan(&username, &email); err != nil {
				return err
			}
			if msg := checkPassword(password, username, email); msg != "" {
				return jokster.Invalid(map[string]string{"password": msg})
			}
			if _, err := s.setPassword(ctx, tx, uid, hash, ""); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE users SET verified_at = coalesce(verified_at, now()) WHERE id = $1`, uid)
			return err
		})
	})
	if uid != 0 {
		s.tokens.sessions.forget(uid)
	}
	return err
}

// VerifyEmail marks the address of the token's account as verified.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		uid, _, err := useToken(ctx, tx, token, "verify_email")
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET verified_at = coalesce(verified_at, now()) WHERE id = $1`, uid)
		return err
	})
}

// ResendVerification mails a new verification link, voiding the old one.
func (s *Service) ResendVerification(ctx context.Context, id int64) error {
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	if u.Verified {
		return jokster.Errorf(jokster.ECONFLICT, "your e-mail address is already verified")
	}
	var mailID uuid.UUID
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if recent, err := recentToken(ctx, tx, u.ID, "verify_email"); err != nil {
			return err
		} else if recent {
			return &jokster.Error{Code: jokster.ETOOMANY, Message: "a link was sent less than a minute ago; check your mail", RetryAfter: 60}
		}
		mailID, err = s.mailToken(ctx, tx, u, "verify_email", "", s.set.VerifyTTL)
		return err
	})
	if err != nil {
		return err
	}
	s.outbox.Dispatch(ctx, mailID)
	return nil
}

// RequestEmailChange mails a confirmation link to the new address and a
// warning to the old one; the address changes when the link is followed.
func (s *Service) RequestEmailChange(ctx context.Context, id int64, newEmail, password string) error {
	addr := normalEmail(newEmail)
	if addr == "" {
		return jokster.Invalid(map[string]string{"new_email": "not a valid e-mail address"})
	}
	u, hash, err := s.checkPasswordOf(ctx, id, password, "password")
	if err != nil {
		return err
	}
	if strings.EqualFold(addr, u.Email) {
		return jokster.Invalid(map[string]string{"new_email": "this is already your address"})
	}
	var taken bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))`, addr).Scan(&taken); err != nil {
		return err
	}
	if taken {
		return &jokster.Error{Code: jokster.ECONFLICT, Message: "an account with that e-mail address exists", Fields: map[string]string{"new_email": "already registered"}}
	}
	var ids []uuid.UUID
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The password must still be the one checked: a change of password
		// voids pending address changes (setPassword), and one committed
		// between the check and this write would leave the link of whoever
		// knew the old password alive. The row lock orders the two.
		var still bool
		err := tx.QueryRow(ctx, `SELECT true FROM users WHERE id = $1 AND password_hash = $2 FOR NO KEY UPDATE`,
			u.ID, hash).Scan(&still)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !still {
			return &jokster.Error{Code: jokster.ECONFLICT,
				Message: "the password was changed meanwhile; nothing was changed: log in with the new password",
				Fields:  map[string]string{"password": "changed meanwhile"}}
		}
		a, err := s.mailToken(ctx, tx, u, "change_email", addr, s.set.VerifyTTL)
		if err != nil {
			return err
		}
		b, err := s.outbox.Add(ctx, tx, mail.Message{UserID: u.ID, To: u.Email, Subject: "Your Jokster e-mail address is about to change",
			Body: fmt.Sprintf("Hi %s,\n\nsomeone signed in as you asked to move your account to %s. Nothing changes until that address confirms. If this was not you, change your password.\n",
				u.Username, addr)})
		ids = []uuid.UUID{a, b}
		return err
	})
	if err != nil {
		return err
	}
	s.outbox.Dispatch(ctx, ids...)
	return nil
}

// ConfirmEmailChange applies the change a token was issued for and returns
// the new address.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (string, error) {
	var addr string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		uid, ne, err := useToken(ctx, tx, token, "change_email")
		if err != nil {
			return err
		}
		if ne == nil {
			return errBadLink
		}
		addr = *ne
		_, err = tx.Exec(ctx, `UPDATE users SET email = $2, verified_at = now() WHERE id = $1`, uid, addr)
		if store.IsUniqueViolation(err, "users_email_key") {
			return jokster.Errorf(jokster.ECONFLICT, "another account took that e-mail address meanwhile")
		} else if err != nil {
			return err
		}
		// Links mailed to the old address (a password reset), and other
		// pending changes, no longer speak for the account.
		return voidLinks(ctx, tx, uid, "reset_password", "change_email", "verify_email")
	})
	return addr, err
}

// Delete removes the account and, by cascade, everything it owns. It
// returns the profile photo's file name, so the caller can remove the file
// once nobody else uses it; the ids of the posts the cascade deleted, so
// the caller can take them off the boards and the open pages (a post the
// list misses, created at that very moment, left a tombstone for the
// ranking's reconcile loop); and the ids of the other posts the account
// had rated, whose scores the cascade changed, for the boards to follow
// at once rather than at the next reconcile.
func (s *Service) Delete(ctx context.Context, id int64, password string) (photo string, posts, rated []int64, err error) {
	_, hash, err := s.checkPasswordOf(ctx, id, password, "password")
	if err != nil {
		return "", nil, nil, err
	}
	// The cascade updates the counters of everyone the account followed or
	// was followed by, and may deadlock with their own follows: run again.
	// The account goes only if its password is still the one checked: an
	// owner who changed it meanwhile (say, locking out an intruder who knew
	// the old one) keeps the account.
	// Its ready posts go too, so it holds the cull's floor lock shared
	// first, as every path that takes posts out of `ready` does (see
	// store.CullFloorLock).
	var deleted bool
	err = store.Retry(func() error {
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if err := store.HoldReadyPosts(ctx, tx); err != nil {
				return err
			}
			// The cascade changes the rows of every post the account wrote,
			// rated, commented on or reacted to (the counting triggers), in
			// no set order; the rating writers lock posts in id order, and
			// under load the two deadlocked every time. Taking the posts in
			// id order first makes the cascade find them held.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM posts WHERE id IN (
					SELECT post_id FROM ratings WHERE user_id = $1 UNION SELECT post_id FROM comments WHERE author_id = $1
					UNION SELECT post_id FROM reactions WHERE user_id = $1 UNION SELECT id FROM posts WHERE author_id = $1)
				ORDER BY id FOR NO KEY UPDATE`, id); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `WITH p AS (SELECT photo FROM profiles WHERE user_id = $1),
			ps AS (SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM posts WHERE author_id = $1),
			rs AS (SELECT coalesce(array_agg(r.post_id ORDER BY r.post_id), '{}') AS ids FROM ratings r JOIN posts rp ON rp.id = r.post_id
				WHERE r.user_id = $1 AND rp.author_id <> $1),
			d AS (DELETE FROM users WHERE id = $1 AND password_hash = $2 RETURNING 1)
			SELECT coalesce((SELECT photo FROM p), ''), (SELECT ids FROM ps), (SELECT ids FROM rs), EXISTS (SELECT 1 FROM d)`,
				id, hash).Scan(&photo, &posts, &rated, &deleted)
		})
	})
	if err == nil && !deleted {
		return "", nil, nil, &jokster.Error{Code: jokster.ECONFLICT,
			Message: "the password was changed meanwhile; the account was not deleted: log in with the new password",
			Fields:  map[string]string{"password": "changed meanwhile"}}
	}
	if err == nil {
		s.tokens.sessions.forget(id)
		slog.Info("account deleted", "user_id", id, "posts", len(posts))
	}
	return photo, posts, rated, err
}
