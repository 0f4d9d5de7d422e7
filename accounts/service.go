// Package accounts provides sign-up, sign-in and everything a user does to
// their own account: tokens, e-mail verification and change, password
// change and reset, export and deletion.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/store"
)

// Settings are the accounts policy knobs (from config).
type Settings struct {
	PublicURL            string
	RefreshTTL           time.Duration
	VerifyTTL            time.Duration
	ResetTTL             time.Duration
	RequireVerifiedEmail bool
	LoginFreeAttempts    int
	LoginIPFreeAttempts  int
	// Hash is the argon2id cost. The zero value means DefaultHash.
	Hash *argon2id.Params
}

// DefaultHash follows OWASP's argon2id recommendation (19 MiB, 2 passes).
var DefaultHash = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Service implements the account operations.
type Service struct {
	db       *pgxpool.Pool
	tokens   *Tokens
	outbox   *mail.Outbox
	throttle *ratelimit.Backoff
	set      Settings
	// hashing bounds concurrent argon2id runs, which each take Memory: a
	// burst of log-ins queues instead of exhausting RAM.
	hashing chan struct{}
	dummy   string
}

// New returns a Service. From then on tokens also refuses access tokens
// whose session was signed out since they were issued (as the service
// records it in db).
func New(db *pgxpool.Pool, tokens *Tokens, outbox *mail.Outbox, throttle *ratelimit.Backoff, set Settings) *Service {
	if set.Hash == nil {
		set.Hash = DefaultHash
	}
	tokens.sessions = newSessionCache(db, tokens.ttl)
	s := &Service{db: db, tokens: tokens, outbox: outbox, throttle: throttle, set: set, hashing: make(chan struct{}, 4)}
	// A log-in for an unknown account still verifies against this hash so it
	// takes as long as one for a real account.
	s.dummy, _ = argon2id.CreateHash("not a password of anyone", set.Hash)
	return s
}

// Tokens returns the access-token issuer.
func (s *Service) Tokens() *Tokens { return s.tokens }

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.hashing }()
	return argon2id.CreateHash(password, s.set.Hash)
}

func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-s.hashing }()
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("accounts: stored hash: %w", err)
	}
	return ok, nil
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Session is the answer to a successful log-in or refresh.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
	User         jokster.User
}

const userCols = `id, username, email, verified_at IS NOT NULL, is_admin, created_at, password_changed_at`

func scanUser(row pgx.Row, extra ...any) (jokster.User, error) {
	var u jokster.User
	err := row.Scan(append([]any{&u.ID, &u.Username, &u.Email, &u.Verified, &u.IsAdmin, &u.CreatedAt, &u.PasswordAt}, extra...)...)
	return u, err
}

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Username string
	Email    string
	Password string
}

// Register creates an account and its profile in one transaction and mails
// a verification link.
//
// A username or e-mail address in use is a 409 naming every field that is
// (the unique index that failed names only the first), so a person fixes
// both at once.
func (s *Service) Register(ctx context.Context, in RegisterInput) (jokster.User, error) {
	fields := map[string]string{}
	in.Username = strings.TrimSpace(in.Username)
	if msg := checkUsername(in.Username); msg != "" {
		fields["username"] = msg
	}
	email := normalEmail(in.Email)
	if email == "" {
		fields["email"] = "not a valid e-mail address"
	}
	if msg := checkPassword(in.Password, in.Username, email); msg != "" {
		fields["password"] = msg
	}
	if len(fields) > 0 {
		return jokster.User{}, jokster.Invalid(fields)
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return jokster.User{}, err
	}
	var u jokster.User
	var mailID uuid.UUID
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		u, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING `+userCols,
			in.Username, email, hash))
		switch {
		case store.IsUniqueViolation(err, "users_username_key"), store.IsUniqueViolation(err, "users_email_key"):
			return errTaken // named once this transaction has given back its connection
		case err != nil:
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)`, u.ID, u.Username); err != nil {
			return err
		}
		mailID, err = s.mailToken(ctx, tx, u, "verify_email", "", s.set.VerifyTTL)
		return err
	})
	if errors.Is(err, errTaken) {
		return jokster.User{}, s.registerConflict(ctx, in.Username, email)
	} else if err != nil {
		return jokster.User{}, err
	}
	s.outbox.Dispatch(ctx, mailID)
	slog.Info("account registered", "user_id", u.ID, "username", u.Username)
	return u, nil
}

// mailToken stores a single-use token for purpose (voiding older unused ones
// of the same purpose) and puts the mail carrying its link in the outbox.
func (s *Service) mailToken(ctx context.Context, tx pgx.Tx, u jokster.User, purpose, newEmail string, ttl time.Duration) (uuid.UUID, error) {
	tok, hash := opaque()
	if _, err := tx.Exec(ctx, `UPDATE account_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`, u.ID, purpose); err != nil {
		return uuid.Nil, err
	}
	var ne *string
	if newEmail != "" {
		ne = &newEmail
	}
	if _, err := tx.Exec(ctx, `INSERT INTO account_tokens (user_id, purpose, token_hash, new_email, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, purpose, hash, ne, time.Now().Add(ttl)); err != nil {
		return uuid.Nil, err
	}
	base := strings.TrimRight(s.set.PublicURL, "/")
	var m mail.Message
	switch purpose {
	case "verify_email":
		m = mail.Message{To: u.Email, Subject: "Confirm your Jokster e-mail address", Body: fmt.Sprintf(
			"Hi %s,\n\nconfirm your e-mail address by opening this link:\n\n%s/api/v1/auth/verify?token=%s\n\nThe link works once and expires in %s.\n",
			u.Username, base, tok, ttl)}
	case "reset_password":
		m = mail.Message{To: u.Email, Subject: "Reset your Jokster password", Body: fmt.Sprintf(
			"Hi %s,\n\nsomeone (hopefully you) asked to reset your password. Choose a new one here:\n\n%s/reset-password?token=%s\n\nThe link works once and expires in %s. If you did not ask, ignore this mail.\n",
			u.Username, base, tok, ttl)}
	case "change_email":
		m = mail.Message{To: newEmail, Subject: "Confirm your new Jokster e-mail address", Body: fmt.Sprintf(
			"Hi %s,\n\nconfirm that this is your new e-mail address:\n\n%s/api/v1/auth/email/confirm?token=%s\n\nThe link works once and expires in %s.\n",
			u.Username, base, tok, ttl)}
	}
	m.UserID = u.ID
	return s.outbox.Add(ctx, tx, m)
}

// LoginInput identifies an account by Username or Email (either; if both
// are sent they must name the same account).
type LoginInput struct {
	Username string
	Email    string
	Password string
	// IP is the client's address, or its network for IPv6 (a /64 is
	// one client's to spend): failures are counted per IP too.
	IP string
}

var errBadLogin = jokster.Errorf(jokster.EUNAUTHORIZED, "wrong username, e-mail address or password")

// Login checks the credentials and opens a session. Failures are throttled
// per identifier and per IP with a growing delay; the identifier is throttled
// whether or not an account has it, so delays reveal nothing.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	in.Username, in.Email = strings.TrimSpace(in.Username), strings.TrimSpace(in.Email)
	if in.Username == "" && in.Email == "" {
		return Session{}, jokster.Invalid(map[string]string{"username": "send a username or an e-mail address", "email": "send a username or an e-mail address"})
	}
	if in.Password == "" {
		return Session{}, jokster.Invalid(map[string]string{"password": "required"})
	}
	if len(in.Password) > MaxPassword || len(in.Username) > 254 || len(in.Email) > 254 {
		return Session{}, jokster.Invalid(map[string]string{"password": "at most 1024 bytes; username and email at most 254"})
	}
	var keys []ratelimit.Key
	if in.Username != "" {
		keys = append(keys, ratelimit.Key{Name: "login:u:" + strings.ToLower(in.Username), Free: s.set.LoginFreeAttempts})
	}
	if in.Email != "" {
		keys = append(keys, ratelimit.Key{Name: "login:e:" + strings.ToLower(in.Email), Free: s.set.LoginFreeAttempts})
	}
	ipKey := ratelimit.Key{Name: "login:ip:" + in.IP, Free: s.set.LoginIPFreeAttempts}
	all := append(keys[:len(keys):len(keys)], ipKey)
	// The attempt counts in flight from here on, so that parallel guesses
	// see each other; how it ended is reported when Login returns.
	wait, err := s.throttle.Attempt(ctx, all...)
	if err != nil {
		// Redis may be restarting: log-ins go on unthrottled rather than
		// failing (DESIGN §4); argon2id still bounds the guessing rate.
		slog.Warn("login throttle unavailable; continuing without it", "err", err)
	} else if wait > 0 {
		return Session{}, &jokster.Error{Code: jokster.ETOOMANY, Message: "too many failed log-ins; wait before trying again", RetryAfter: ratelimit.Seconds(wait)}
	}
	counted, failed, signedIn := err == nil, false, false
	defer func() {
		if !counted {
			return
		}
		bg := context.WithoutCancel(ctx)
		var err error
		switch {
		case failed:
			err = s.throttle.Fail(bg, all...)
		case signedIn: // the account's failures are forgotten, the address's stay
			if err = s.throttle.Reset(bg, keys...); err == nil {
				err = s.throttle.Done(bg, ipKey)
			}
		default: // not the caller's failure (the server's, or an unverified address)
			err = s.throttle.Done(bg, all...)
		}
		if err != nil {
			slog.Warn("login throttle: recording the outcome failed", "err", err)
		}
	}()

	var where []string
	var args []any
	if in.Username != "" {
		args = append(args, in.Username)
		where = append(where, fmt.Sprintf("lower(username) = lower($%d)", len(args)))
	}
	if in.Email != "" {
		args = append(args, in.Email)
		where = append(where, fmt.Sprintf("lower(email) = lower($%d)", len(args)))
	}
	var hash string
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE `+strings.Join(where, " AND "), args...), &hash)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Session{}, err
	}
	if !found {
		hash = s.dummy
	}
	ok, err := s.verify(ctx, in.Password, hash)
	if err != nil {
		return Session{}, err
	}
	if !ok || !found {
		failed = true
		return Session{}, errBadLogin
	}
	if s.set.RequireVerifiedEmail && !u.Verified {
		return Session{}, jokster.Errorf(jokster.EFORBIDDEN, "confirm your e-mail address first: follow the link we mailed you")
	}
	var sess Session
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The password was checked against the hash read above, long
		// before (argon2id is slow on purpose). A change or reset that
		// committed meanwhile signed out every session, and a session
		// opened now with the old password must not escape it: the hash
		// must still be the one checked, and stays so (FOR SHARE) until
		// the session is recorded, so a change that follows revokes it.
		var epoch int64
		err := tx.QueryRow(ctx, `SELECT session_epoch FROM users WHERE id = $1 AND password_hash = $2 FOR SHARE`, u.ID, hash).Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) {
			failed = true
			return errBadLogin
		} else if err != nil {
			return err
		}
		sess, err = s.openSession(ctx, tx, u, epoch, uuid.New())
		return err
	})
	signedIn = err == nil
	return sess, err
}

// errTaken: a unique index refused the new account's username or e-mail.
var errTaken = errors.New("accounts: username or e-mail address taken")

// registerConflict says which of username and email are taken.
func (s *Service) registerConflict(ctx context.Context, username, email string) error {
	var nameTaken, emailTaken bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1)),
		EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($2))`, username, email).Scan(&nameTaken, &emailTaken); err != nil {
		return err
	}
	e := &jokster.Error{Code: jokster.ECONFLICT, Fields: map[string]string{}}
	if nameTaken {
		e.Fields["username"] = "already taken"
		e.Message = "that username is taken"
	}
	if emailTaken {
		e.Fields["email"] = "already registered"
		e.Message = "an account with that e-mail address exists"
	}
	switch {
	case nameTaken && emailTaken:
		e.Message = "that username is taken, and an account with that e-mail address exists"
	case !nameTaken && !emailTaken: // the other account went meanwhile
		e.Message = "that username or e-mail address was taken a moment ago; try again"
	}
	return e
}
