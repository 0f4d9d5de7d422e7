package api

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jokster/jokster"
)

// statuses is the one table from domain error codes to HTTP statuses.
var statuses = map[string]int{
	jokster.EINVALID:      fiber.StatusBadRequest,
	jokster.EUNAUTHORIZED: fiber.StatusUnauthorized,
	jokster.EFORBIDDEN:    fiber.StatusForbidden,
	jokster.ENOTFOUND:     fiber.StatusNotFound,
	jokster.ECONFLICT:     fiber.StatusConflict,
	jokster.ETOOLARGE:     fiber.StatusRequestEntityTooLarge,
	jokster.ETOOMANY:      fiber.StatusTooManyRequests,
	jokster.EUNSUPPORTED:  fiber.StatusUnsupportedMediaType,
	jokster.EUNAVAILABLE:  fiber.StatusServiceUnavailable,
	jokster.EINTERNAL:     fiber.StatusInternalServerError,
}

// fiberCodes names the errors Fiber itself raises (routing, body limits).
var fiberCodes = map[int]string{
	fiber.StatusBadRequest:                  jokster.EINVALID,
	fiber.StatusNotFound:                    jokster.ENOTFOUND,
	fiber.StatusMethodNotAllowed:            "method_not_allowed",
	fiber.StatusRequestEntityTooLarge:       jokster.ETOOLARGE,
	fiber.StatusRequestHeaderFieldsTooLarge: jokster.ETOOLARGE,
	fiber.StatusRequestTimeout:              "timeout",
	fiber.StatusUnsupportedMediaType:        jokster.EUNSUPPORTED,
	fiber.StatusTooManyRequests:             jokster.ETOOMANY,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// errorHandler writes every error as {"error":{"code","message","fields"}}.
// Unexpected errors are logged with the request id and reported as
// "internal" without details.
func errorHandler(c *fiber.Ctx, err error) error {
	if unavailable(err) != nil {
		slog.Warn("request: PostgreSQL or Redis unavailable", "method", c.Method(), "path", c.Path(),
			"request_id", requestID(c), "err", err)
	}
	status, body := classify(err)
	if je, ok := asDomain(err); ok && je.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(je.RetryAfter))
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") && status == fiber.StatusBadRequest {
		// Usually the request's value, but a server bug (a number the
		// code computed out of range) looks the same: keep a trace.
		slog.Warn("request: PostgreSQL refused a value", "method", c.Method(), "path", c.Path(),
			"request_id", requestID(c), "code", pe.Code, "err", pe.Message)
	}
	switch status {
	case fiber.StatusNotFound:
		var fe *fiber.Error
		if errors.As(err, &fe) {
			body.Message = "no such route: " + c.Method() + " " + c.Path()
		}
	}
	if status >= 500 && status != fiber.StatusServiceUnavailable {
		slog.Error("request failed", "method", c.Method(), "path", c.Path(), "request_id", requestID(c), "err", err)
	}
	return c.Status(status).JSON(errorBody{Error: body})
}

// asDomain returns err as the *jokster.Error it answers with: its own, or
// the unavailable one a dependency's failure becomes.
func asDomain(err error) (*jokster.Error, bool) {
	if down := unavailable(err); down != nil {
		return down, true
	}
	var je *jokster.Error
	ok := errors.As(err, &je)
	return je, ok
}

// classify is the one place that decides an error's status and body.
func classify(err error) (int, errorDetail) {
	var fe *fiber.Error
	var pe *pgconn.PgError
	status, body := fiber.StatusInternalServerError, errorDetail{Code: jokster.EINTERNAL, Message: jokster.ErrorMessage(err)}
	if je, ok := asDomain(err); ok {
		status = statuses[je.Code]
		if status == 0 {
			status = fiber.StatusInternalServerError
		}
		return status, errorDetail{Code: je.Code, Message: je.Message, Fields: je.Fields}
	}
	switch {
	case errors.As(err, &pe) && requestsFault(pe, &status, &body):
	case errors.As(err, &fe):
		status = fe.Code
		code, ok := fiberCodes[fe.Code]
		if !ok {
			code = jokster.EINTERNAL
			if fe.Code < 500 {
				code = jokster.EINVALID
			}
		}
		msg := fe.Message
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			msg = "the request body is too large"
		}
		body = errorDetail{Code: code, Message: msg}
	}
	return status, body
}

// requestsFault reports whether PostgreSQL error pe is one the request,
// not the server, is to blame for, and if so sets its status and body. It
// is the net under the checks the handlers make: a value PostgreSQL cannot
// take (a NUL byte, text that is not UTF-8, a number out of range: class
// 22), or a row the request refers to that went meanwhile (a foreign key)
// — its author's account, deleted while an access token lives on, or a
// post deleted a moment before.
func requestsFault(pe *pgconn.PgError, status *int, body *errorDetail) bool {
	switch {
	case strings.HasPrefix(pe.Code, "22"):
		*status, *body = fiber.StatusBadRequest, errorDetail{Code: jokster.EINVALID, Message: "a value in the request cannot be used: " + pe.Message}
	case pe.Code == "23503" && strings.Contains(pe.Detail, `table "users"`):
		*status, *body = fiber.StatusUnauthorized, errorDetail{Code: jokster.EUNAUTHORIZED, Message: "your account no longer exists"}
	case pe.Code == "23503" && strings.Contains(pe.Detail, `table "posts"`):
		*status, *body = fiber.StatusNotFound, errorDetail{Code: jokster.ENOTFOUND, Message: "no such post (it was deleted)"}
	default:
		return false
	}
	return true
}

func requestID(c *fiber.Ctx) string {
	if v, ok := c.Locals("requestid").(string); ok {
		return v
	}
	return ""
}
