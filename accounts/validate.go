package accounts

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_]{3,30}$`)

// reserved names would be confusing as profile URLs or impersonate staff.
var reserved = map[string]bool{
	"me": true, "admin": true, "administrator": true, "root": true, "jokster": true,
	"support": true, "staff": true, "moderator": true, "system": true, "api": true,
}

// Passwords: passphrases are welcome, so only a floor on length and a roof
// that keeps hashing cheap to bound.
const (
	MinPassword = 10
	MaxPassword = 1024
)

func checkUsername(s string) string {
	switch {
	case !usernameRE.MatchString(s):
		return "3 to 30 letters, digits or underscores"
	case reserved[strings.ToLower(s)]:
		return "this name is reserved"
	}
	return ""
}

// normalEmail returns the address part of s, or "" if s is not one address.
func normalEmail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 254 || strings.ContainsAny(s, "<>\" ") {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return ""
	}
	return s
}

func checkPassword(p string, others ...string) string {
	n := utf8.RuneCountInString(p)
	switch {
	case n < MinPassword:
		return "at least 10 characters; a passphrase of a few words is best"
	case len(p) > MaxPassword:
		return "at most 1024 bytes"
	}
	for _, o := range others {
		if o != "" && strings.EqualFold(p, o) {
			return "must not be your username or e-mail address"
		}
	}
	return ""
}
