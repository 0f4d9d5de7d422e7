package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/accounts"
)

// drainAtMost is the largest refused body bodyLimit reads to its end.
const drainAtMost = 1 << 20

// bodyLimit caps request bodies at limit bytes except on the upload
// routes listed: Fiber's own limit is global and sized for uploads.
func bodyLimit(limit int, uploads ...string) fiber.Handler {
	exempt := map[string]bool{}
	for _, u := range uploads {
		exempt[u] = true
	}
	return func(c *fiber.Ctx) error {
		if exempt[c.Path()] {
			return c.Next()
		}
		tooLarge := jokster.Errorf(jokster.ETOOLARGE, "the request body is larger than %d bytes", limit)
		n := c.Request().Header.ContentLength()
		switch {
		case n > limit:
			// A body a little over the limit is read and dropped first:
			// closing on a client still sending makes its side see a reset
			// connection instead of the answer. A big one is not waited for.
			if n <= drainAtMost {
				if st := c.Context().RequestBodyStream(); st != nil {
					_, _ = io.CopyN(io.Discard, st, int64(n))
				}
			}
			c.Context().SetConnectionClose()
			return tooLarge
		case n == -1: // chunked: read at most limit+1 bytes of the stream
			if st := c.Context().RequestBodyStream(); st != nil {
				b, err := io.ReadAll(io.LimitReader(st, int64(limit)+1))
				if err != nil {
					return jokster.Errorf(jokster.EINVALID, "the request body could not be read: %v", err)
				}
				if len(b) > limit {
					c.Context().SetConnectionClose()
					return tooLarge
				}
				c.Request().SetBody(b)
			}
		}
		return c.Next()
	}
}

// jsonHasKey reports whether a JSON object body has a top-level key (to
// tell an explicit empty list from an absent field).
func jsonHasKey(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// decode reads a JSON object body into v strictly: unknown fields, wrong
// types, trailing data and non-JSON content types are 4xx errors that say
// what is wrong.
func decode(c *fiber.Ctx, v any) error {
	body := c.Body()
	if ct := string(c.Request().Header.ContentType()); ct != "" && !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return jokster.Errorf(jokster.EUNSUPPORTED, "send the body as application/json, not %s", ct)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return jokster.Errorf(jokster.EINVALID, "a JSON object body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jokster.Errorf(jokster.EINVALID, "malformed JSON: unexpected data after the object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return jokster.Errorf(jokster.EINVALID, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return jokster.Errorf(jokster.EINVALID, "the body must be a JSON object")
		}
		return &jokster.Error{Code: jokster.EINVALID, Message: "some fields have the wrong type",
			Fields: map[string]string{field: fmt.Sprintf("must be a %s", jsonType(typ.Type.Kind().String()))}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return jokster.Errorf(jokster.EINVALID, "malformed JSON: the body ends too soon")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &jokster.Error{Code: jokster.EINVALID, Message: "unknown field " + strconv.Quote(name), Fields: map[string]string{name: "unknown field"}}
	}
	return jokster.Errorf(jokster.EINVALID, "malformed JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return "number"
}

// page reads ?cursor= and ?limit= (1..100, default 20).
func page(c *fiber.Ctx) (string, int, error) {
	limit := 20
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return "", 0, jokster.Invalid(map[string]string{"limit": "a whole number from 1 to 100"})
		}
		limit = n
	}
	cursor := c.Query("cursor")
	if len(cursor) > 200 {
		return "", 0, jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})
	}
	return cursor, limit, nil
}

type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func listOf[T, U any](p jokster.Page[T], conv func(T) U) list[U] {
	out := list[U]{Items: make([]U, 0, len(p.Items))}
	for _, it := range p.Items {
		out.Items = append(out.Items, conv(it))
	}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	return out
}

// auth requires a valid access token.
func (s *server) auth(c *fiber.Ctx) error {
	claims, err := s.bearer(c)
	if err != nil {
		return err
	}
	if claims == nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jokster"`)
		return jokster.Errorf(jokster.EUNAUTHORIZED, "sign in: send Authorization: Bearer <access_token>")
	}
	c.Locals("claims", *claims)
	return c.Next()
}

// optionalAuth reads a token when one is sent; a bad one is still an error
// so that clients notice an expired token instead of silently seeing less.
func (s *server) optionalAuth(c *fiber.Ctx) error {
	claims, err := s.bearer(c)
	if err != nil {
		return err
	}
	if claims != nil {
		c.Locals("claims", *claims)
	}
	return c.Next()
}

func (s *server) bearer(c *fiber.Ctx) (*accounts.Claims, error) {
	h := c.Get(fiber.HeaderAuthorization)
	if h == "" {
		return nil, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jokster"`)
		return nil, jokster.Errorf(jokster.EUNAUTHORIZED, "the Authorization header must be: Bearer <access_token>")
	}
	// Parse also refuses a token whose session was signed out since it was
	// issued (log-out, password change or reset, refresh-token reuse).
	claims, err := s.Accounts.Tokens().ParseContext(c.UserContext(), strings.TrimSpace(tok))
	if err != nil {
		if jokster.ErrorCode(err) == jokster.EUNAUTHORIZED {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jokster", error="invalid_token"`)
		}
		return nil, err
	}
	return &claims, nil
}

// viewer returns the signed-in user's id, or 0.
func viewer(c *fiber.Ctx) int64 {
	if cl, ok := c.Locals("claims").(accounts.Claims); ok {
		return cl.UserID
	}
	return 0
}

// statusOf is the status errorHandler answers err with (the access log
// and the metrics run before it and must say the same).
func statusOf(err error) int {
	status, _ := classify(err)
	return status
}
