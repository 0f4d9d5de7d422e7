package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
)

// Claims are what an access token says about its bearer.
type Claims struct {
	UserID   int64
	Username string
	Admin    bool
	Expires  time.Time
	// Session is the log-in (refresh-token family) the token was issued
	// for; uuid.Nil in tokens from before sessions were recorded.
	Session uuid.UUID
	// Epoch is the account's session epoch when the token was issued.
	Epoch int64
}

type jwtClaims struct {
	Username string `json:"name"`
	Admin    bool   `json:"adm,omitempty"`
	Session  string `json:"sid,omitempty"`
	Epoch    int64  `json:"sep,omitempty"`
	jwt.RegisteredClaims
}

const issuer = "jokster"

// Tokens issues and checks HS256 access tokens.
type Tokens struct {
	key []byte
	ttl time.Duration
	// sessions, once New has attached its Service, refuses tokens whose
	// session was signed out since they were issued. Everything that checks
	// tokens (the REST middleware, the WebSocket hub) goes through Parse,
	// so none of them can forget to ask.
	sessions *sessionCache
}

// NewTokens returns Tokens signing with key, which must be 32+ bytes.
func NewTokens(key []byte, ttl time.Duration) (*Tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("accounts: the token key must be at least 256 bits")
	}
	return &Tokens{key: key, ttl: ttl}, nil
}

// TTL is the lifetime of access tokens.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// issue returns a signed access token for u in session (a refresh-token
// family), stamped with the account's session epoch.
func (t *Tokens) issue(u jokster.User, session uuid.UUID, epoch int64) (string, error) {
	now := time.Now()
	c := jwtClaims{
		Username: u.Username,
		Admin:    u.IsAdmin,
		Session:  session.String(),
		Epoch:    epoch,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
}

// Parse is ParseContext without a caller's context (the WebSocket hub's
// token check).
func (t *Tokens) Parse(token string) (Claims, error) {
	return t.ParseContext(context.Background(), token)
}

// ParseContext verifies an access token. Only HS256 is accepted, so "alg:
// none" and algorithm-confusion tokens fail; expiry and issuer are
// required. A token of a session signed out since (log-out, password
// change or reset, refresh-token reuse) or of a deleted account is refused
// too, on every node within sessionFresh.
func (t *Tokens) ParseContext(ctx context.Context, token string) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		msg := "the access token is not valid"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "the access token has expired; refresh it"
		}
		return Claims{}, jokster.Errorf(jokster.EUNAUTHORIZED, "%s", msg)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return Claims{}, jokster.Errorf(jokster.EUNAUTHORIZED, "the access token is not valid")
	}
	var sid uuid.UUID
	if c.Session != "" {
		if sid, err = uuid.Parse(c.Session); err != nil {
			return Claims{}, jokster.Errorf(jokster.EUNAUTHORIZED, "the access token is not valid")
		}
	}
	claims := Claims{UserID: id, Username: c.Username, Admin: c.Admin, Expires: c.ExpiresAt.Time, Session: sid, Epoch: c.Epoch}
	if t.sessions != nil {
		if err := t.sessions.check(ctx, claims); err != nil {
			return Claims{}, err
		}
	}
	return claims, nil
}

// SigningKey returns configured if set, otherwise a random 256-bit key that
// is generated once and kept in PostgreSQL, so that every node of a cluster
// signs with the same key without any set-up.
func SigningKey(ctx context.Context, db *pgxpool.Pool, configured string) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	err := db.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO app_secrets (name, value) VALUES ('jwt', $1)
			ON CONFLICT (name) DO NOTHING RETURNING value)
		SELECT value FROM ins UNION ALL SELECT value FROM app_secrets WHERE name = 'jwt'
		LIMIT 1`, fresh).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("accounts: signing key: %w", err)
	}
	return key, nil
}

// opaque returns a random URL-safe token and the hash under which it is
// stored; only the hash is ever written down.
func opaque() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}
