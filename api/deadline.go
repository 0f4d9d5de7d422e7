package api

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster"
)

// deadline bounds how long a request may wait on PostgreSQL and Redis,
// above all for one of the pool's few connections: without it a burst of
// slow requests (or a database that stopped answering) queued every other
// request behind it for as long as it lasted, and clients saw a hang
// instead of an answer they can retry. The upload routes ("METHOD /path")
// are left out: their handlers store the body as it arrives, which
// takes as long as the client's link needs, bounded by the read timeout
// and the size limit. A data export's handler only opens its snapshot
// here; the document is streamed afterwards under its own limit.
func deadline(d time.Duration, uploads ...string) fiber.Handler {
	exempt := map[string]bool{}
	for _, u := range uploads {
		exempt[u] = true
	}
	return func(c *fiber.Ctx) error {
		if exempt[c.Method()+" "+strings.TrimSuffix(c.Path(), "/")] {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// unavailable returns err as an EUNAVAILABLE error (503, Retry-After) when
// it says that PostgreSQL or Redis could not be reached or did not answer
// in time — an outage, a restart, a full pool, the request's deadline —
// rather than that the request or the server's code is at fault; else nil.
// Clients retry a 503; a 500 says there is a bug.
func unavailable(err error) *jokster.Error {
	var je *jokster.Error
	if err == nil || errors.As(err, &je) || !dependencyDown(err) {
		return nil
	}
	msg := "the database or cache is unavailable at the moment; try again"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "the server is too busy to answer in time; try again"
	}
	return &jokster.Error{Code: jokster.EUNAVAILABLE, Message: msg, RetryAfter: 1}
}

// dependencyDown reports whether err is a failure to reach PostgreSQL or
// Redis, or to get an answer from them in time.
func dependencyDown(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 53: insufficient resources (too many
		// connections, out of memory or disk); 57P: the server is shutting
		// down or starting; 57014: a statement cancelled (its deadline).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") ||
			strings.HasPrefix(pe.Code, "57P") || pe.Code == "57014"
	}
	var ce *pgconn.ConnectError
	var oe *net.OpError
	var errno syscall.Errno
	var re redis.Error
	switch {
	case errors.As(err, &errno):
		// A bare errno (inside a *PathError, say) is the filesystem's: a
		// full disk is no outage to retry. Only a connection's count.
		return errors.As(err, &oe) && (errno == syscall.ECONNREFUSED || errno == syscall.ECONNRESET ||
			errno == syscall.EPIPE || errno == syscall.ETIMEDOUT || errno == syscall.EHOSTUNREACH || errno == syscall.ENETUNREACH)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &ce), errors.As(err, &oe),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		// The request's own connection is read through clientBody, whose
		// errors are the client's: what is left are the server's own
		// connections, to PostgreSQL and Redis.
		return true
	case errors.As(err, &re):
		// Redis still loading its data after a restart, or a replica
		// cut off from its primary.
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN")
	}
	return false
}
