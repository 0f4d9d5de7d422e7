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
// than max characters, control characters other than newlines, direction
// overrides, or nothing visible at all. Empty text is acceptable here;
// callers that need some say so.
//
// Direction embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069) are refused in every kind of text, comments included:
// their effect is not confined to the text that carries them but runs on
// into what the page shows next to it (a comment sits on one line with its
// author's name), so "moc.evil" can read as "live.com" and a name can
// appear to say something else. Right-to-left writing needs none of them:
// browsers order it by the characters' own direction, and the marks
// U+200E, U+200F and U+061C, which affect nothing beyond one character,
// stay allowed.
func CleanText(s string, max int) (string, string) {
	s = strings.TrimSpace(crlf.Replace(s))
	switch {
	case !utf8.ValidString(s):
		return s, "not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return s, fmt.Sprintf("at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
		return s, "control characters are not allowed"
	case strings.ContainsFunc(s, isBidiControl):
		return s, "direction override characters (U+202A–U+202E, U+2066–U+2069) are not allowed"
	case s != "" && !strings.ContainsFunc(s, isVisible):
		return s, "nothing visible: only spaces or invisible characters"
	}
	return s, ""
}

// isBidiControl reports the explicit embeddings, overrides and isolates.
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
}

// isVisible reports whether r draws something. Format characters (such as
// zero-width spaces and joiners, which emoji sequences use between visible
// ones), default-ignorable fillers (U+3164, U+115F, U+FFA0), variation
// selectors and the blank braille pattern render as nothing, and are the
// usual way to make a name or comment that looks empty.
func isVisible(r rune) bool {
	return !unicode.IsSpace(r) && r != '\u2800' &&
		!unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}
