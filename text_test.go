package jokster_test

import (
	"testing"

	"github.com/jokster/jokster"
)

const (
	bidiWhy      = "direction override characters (U+202A–U+202E, U+2066–U+2069) are not allowed"
	invisibleWhy = "nothing visible: only spaces or invisible characters"
)

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in        string
		max       int
		want, why string
	}{
		{"  two\r\nlines \r\n", 100, "two\nlines", ""}, // what browsers send in form data
		{"old\rmac", 100, "old\nmac", ""},
		{"tab\there", 100, "tab\there", "control characters are not allowed"},
		{"bell\a", 100, "bell\a", "control characters are not allowed"},
		{"\xff", 100, "\xff", "not valid UTF-8"},
		{"ünïcödé 😂", 9, "ünïcödé 😂", ""},
		{"123456", 5, "123456", "at most 5 characters"},
		{"1234\r\n5", 5, "1234\n5", "at most 5 characters"},
		{"123\r\n4", 5, "123\n4", ""}, // a CRLF is one character once stored
		{"", 5, "", ""},               // whether text is required is the caller's business
		{"   ", 5, "", ""},

		// Text that looks empty.
		{"\u200b", 100, "\u200b", invisibleWhy},
		{" \u200b\u200b\u200b ", 100, "\u200b\u200b\u200b", invisibleWhy},
		{"\u2060\ufeff\u200c\u200d", 100, "\u2060\ufeff\u200c\u200d", invisibleWhy},
		{"\u3164", 100, "\u3164", invisibleWhy}, // Hangul filler
		{"\u115f\u1160", 100, "\u115f\u1160", invisibleWhy},
		{"\u2800\u2800", 100, "\u2800\u2800", invisibleWhy}, // blank braille
		{"\ufe0f", 100, "\ufe0f", invisibleWhy},
		{"\u00a0\u3000\u200b", 100, "\u200b", invisibleWhy}, // no-break and ideographic spaces are trimmed
		{"\u200f", 100, "\u200f", invisibleWhy},
		{"\u200b\n\u200b", 100, "\u200b\n\u200b", invisibleWhy},
		// Invisible characters inside visible text are fine: emoji
		// sequences need the zero-width joiner.
		{"👨\u200d👩\u200d👧", 100, "👨\u200d👩\u200d👧", ""},
		{"🏳\ufe0f\u200d🌈", 100, "🏳\ufe0f\u200d🌈", ""},
		{"\u200bhi", 100, "\u200bhi", ""},
		{"שלום\u200f!", 100, "שלום\u200f!", ""}, // a right-to-left mark stays allowed

		// Direction overrides and isolates.
		{"evil\u202Egnp.exe", 100, "evil\u202Egnp.exe", bidiWhy},
		{"\u202Aa", 100, "\u202Aa", bidiWhy},
		{"\u202Da", 100, "\u202Da", bidiWhy},
		{"\u2066x\u2069", 100, "\u2066x\u2069", bidiWhy},
		{"\u2067x", 100, "\u2067x", bidiWhy},
		{"\u2068x\u2069", 100, "\u2068x\u2069", bidiWhy},
		{"\u202E", 100, "\u202E", bidiWhy}, // said before "nothing visible": the more useful reason
	} {
		got, why := jokster.CleanText(c.in, c.max)
		if got != c.want || why != c.why {
			t.Errorf("CleanText(%+q, %d) = %+q, %q; want %+q, %q", c.in, c.max, got, why, c.want, c.why)
		}
	}
}
