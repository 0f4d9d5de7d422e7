package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jokster/jokster"
)

// The access log and the metrics take a request's status from statusOf
// before the error handler answers: they must agree with the answer, or a
// 401 (a rating in flight while its account is deleted) is logged as an
// error with status 500.
func TestStatusOfAgreesWithTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("rate: %w", &pgconn.PgError{Code: "23503", Detail: `Key (user_id)=(5) is not present in table "users".`}), 401},
		{fmt.Errorf("comment: %w", &pgconn.PgError{Code: "23503", Detail: `Key (post_id)=(9) is not present in table "posts".`}), 404},
		{&pgconn.PgError{Code: "22021", Message: "invalid byte sequence"}, 400},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), 503},
		{jokster.Errorf(jokster.ECONFLICT, "culled"), 409},
		{fiber.ErrMethodNotAllowed, 405},
		{fmt.Errorf("a bug"), 500},
	} {
		status, body := classify(tc.err)
		if got := statusOf(tc.err); got != tc.want || status != tc.want {
			t.Errorf("%v: statusOf %d, answered %d (%+v), want %d", tc.err, got, status, body, tc.want)
		}
	}
}
