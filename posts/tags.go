package posts

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tag rules: what people type ("#LOL", " Cats ") becomes one canonical form
// ("lol", "cats") so that tag boards gather everything.
const (
	MaxTags   = 10
	MaxTagLen = 30
)

// NormalizeTags splits comma-separated entries, normalises each tag and
// drops duplicates, keeping the order given. It returns a message when a tag
// cannot be used.
func NormalizeTags(raw []string) ([]string, string) {
	seen := map[string]bool{}
	out := []string{}
	for _, entry := range raw {
		for _, t := range strings.Split(entry, ",") {
			t = norm.NFKC.String(strings.TrimSpace(t))
			t = strings.ToLower(strings.TrimLeft(t, "#"))
			if t == "" {
				continue
			}
			if utf8.RuneCountInString(t) > MaxTagLen {
				return nil, "each tag at most 30 characters"
			}
			// Marks belong to the letters they sit on: Devanagari vowel
			// signs, Thai tone marks, the dot of a lower-cased "İ".
			for _, r := range t {
				if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) && r != '_' {
					return nil, "tags are letters, digits and underscores: " + t
				}
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	if len(out) > MaxTags {
		return nil, "at most 10 tags"
	}
	return out, ""
}

// NormalizeTag normalises one tag for a query; ok is false if it cannot be a tag.
func NormalizeTag(t string) (string, bool) {
	tags, msg := NormalizeTags([]string{t})
	if msg != "" || len(tags) != 1 || strings.Contains(t, ",") {
		return "", false
	}
	return tags[0], true
}
