// Package jokster holds the domain types and error codes shared by every
// other package. Subpackages wrap one dependency each (store, mail, …) and
// the api package maps the codes below to HTTP statuses in one table.
package jokster

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the public contract: API clients switch on
// them, so a code is never renamed, only added.
const (
	EINVALID      = "invalid"      // validation failed; Fields says which
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated, but not allowed
	ENOTFOUND     = "not_found"    // no such resource
	ECONFLICT     = "conflict"     // violates a uniqueness or state rule
	ETOOLARGE     = "too_large"    // body, file or image over a limit
	ETOOMANY      = "rate_limited" // throttled; retry later
	EUNSUPPORTED  = "unsupported"  // media type not accepted
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is a failure that is meant to be shown to the caller. Anything else
// that reaches the API layer is reported as EINTERNAL and logged.
type Error struct {
	Code    string
	Message string
	// Fields maps an input field to what is wrong with it.
	Fields map[string]string
	// RetryAfter, in seconds, is set for ETOOMANY, and for EUNAVAILABLE
	// when a retry soon is likely to work.
	RetryAfter int
}

func (e *Error) Error() string {
	return fmt.Sprintf("jokster: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming the offending fields.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: EINVALID, Message: "some fields are not valid", Fields: fields}
}

// ErrorCode returns the code of err, or EINTERNAL if err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human-readable message of err; internal errors get
// a generic message so that nothing about the implementation leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "an internal error occurred"
}
