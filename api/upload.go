package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
)

// parts walks a multipart/form-data body as it streams in, calling fn for
// each part, so a large file goes from the socket to disk without being
// held in memory. At most max bytes are read in all.
func parts(c *fiber.Ctx, max int64, fn func(p *multipart.Part) error) error {
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return jokster.Errorf(jokster.EUNSUPPORTED, "send multipart/form-data")
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	body = clientBody{body}
	lr := &io.LimitedReader{R: body, N: max + 1}
	mr := multipart.NewReader(lr, params["boundary"])
	err = eachPart(mr, lr, max, fn)
	if err != nil {
		// The rest of the body was not read: it must not be taken for the
		// next request on this connection.
		c.Context().SetConnectionClose()
	}
	return err
}

func eachPart(mr *multipart.Reader, lr *io.LimitedReader, max int64, fn func(p *multipart.Part) error) error {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if lr.N <= 0 {
			return jokster.Errorf(jokster.ETOOLARGE, "the upload is larger than %d bytes", max)
		}
		if err != nil {
			return jokster.Errorf(jokster.EINVALID, "malformed multipart body: %v", err)
		}
		err = fn(p)
		p.Close()
		if lr.N <= 0 {
			return jokster.Errorf(jokster.ETOOLARGE, "the upload is larger than %d bytes", max)
		}
		if err != nil {
			return err
		}
	}
}

// formValue reads a small text part.
func formValue(p *multipart.Part, max int) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, int64(max)+1))
	if err != nil {
		return "", jokster.Errorf(jokster.EINVALID, "malformed multipart body: %v", err)
	}
	if len(b) > max {
		return "", &jokster.Error{Code: jokster.EINVALID, Message: "a form field is too long",
			Fields: map[string]string{p.FormName(): "too long"}}
	}
	return strings.TrimSpace(string(b)), nil
}

// emptyFile reports whether a file part carries nothing (a form submitted
// without choosing a file), peeking at most one byte; rest is the part's
// reader with that byte put back.
func emptyFile(p *multipart.Part) (bool, io.Reader) {
	var one [1]byte
	n, _ := io.ReadFull(p, one[:])
	if n == 0 {
		return true, nil
	}
	return false, io.MultiReader(bytes.NewReader(one[:n]), p)
}

// clientBody reads the request's body and makes its errors the client's:
// a body that stalls past the read timeout or breaks off is a bad request
// (400), not a dependency that is down (503), whatever network error the
// read returns on the way.
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, &jokster.Error{Code: jokster.EINVALID,
			Message: "the upload could not be read: the connection stalled or broke off (" + err.Error() + ")"}
	}
	return n, err
}
