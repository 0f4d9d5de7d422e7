package api

import "testing"

// Lists that page by position give out no cursor they would refuse.
func TestNextOffset(t *testing.T) {
	for _, c := range []struct {
		more               bool
		offset, limit, max int
		want               string // "" for none
	}{
		{true, 0, 20, maxBoardOffset, "20"},
		{false, 0, 20, maxBoardOffset, ""},
		{true, 99980, 20, maxBoardOffset, "100000"},
		{true, 99990, 20, maxBoardOffset, ""},
		{true, 100000, 20, 1 << 31, "100020"},
	} {
		got := nextOffset(c.more, c.offset, c.limit, c.max)
		if (got == nil) != (c.want == "") || (got != nil && *got != c.want) {
			t.Errorf("nextOffset(%v, %d, %d, %d) = %v, want %q", c.more, c.offset, c.limit, c.max, got, c.want)
		}
		if got != nil {
			if n, err := offsetCursor(*got, c.max); err != nil || n != c.offset+c.limit {
				t.Errorf("the cursor %s it gave out is refused: %v", *got, err)
			}
		}
	}
}
