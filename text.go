package jokster

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// crlf turns the line breaks browsers send in form data (CRLF) and old
// Mac ones (CR) into the newlines stored.
var crlf = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// CleanText normalises user text (captions, comments, notes, profile
// fields): line breaks become "\n" and surrounding space is trimmed. It
// returns the text and, if it is not acceptable, why: invalid UTF-8, more
// than max characters, or control characters other than newlines.
func CleanText(s string, max int) (string, string) {
	s = strings.TrimSpace(crlf.Replace(s))
	switch {
	case !utf8.ValidString(s):
		return s, "not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return s, fmt.Sprintf("at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
		return s, "control characters are not allowed"
	}
	return s, ""
}
