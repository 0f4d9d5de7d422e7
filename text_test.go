package jokster_test

import (
	"testing"

	"github.com/jokster/jokster"
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
	} {
		got, why := jokster.CleanText(c.in, c.max)
		if got != c.want || why != c.why {
			t.Errorf("CleanText(%q, %d) = %q, %q; want %q, %q", c.in, c.max, got, why, c.want, c.why)
		}
	}
}
