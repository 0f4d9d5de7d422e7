package ranking

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys (the family "<prefix>board:…" and "<prefix>rank:…" is owned
// here):
//
//	board:hot, board:top:all, board:top:day:2026-11-27, board:top:week:2026-W48,
//	board:new, board:tag:<tag>:top, board:tag:<tag>:hot   sorted sets of post ids
//	board:creators                                        sorted set of user ids
//	rank:v       hash post id → version last applied
//	rank:m:<id>  set of the board keys post id is on
//	rank:ready   present once a full rebuild finished; gone after a flush
type keys struct{ p string }

func (k keys) board(name string) string { return k.p + "board:" + name }
func (k keys) versions() string         { return k.p + "rank:v" }
func (k keys) members(id int64) string  { return k.p + "rank:m:" + strconv.FormatInt(id, 10) }
func (k keys) ready() string            { return k.p + "rank:ready" }
func (k keys) lock() string             { return k.p + "rank:rebuilding" }

// Day and week windows are UTC: a post belongs to the day and ISO week it
// was created in.
func dayOf(t time.Time) string { return t.UTC().Format("2006-01-02") }
func weekOf(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// placement is where a post goes and with which scores.
type placement struct {
	boards []string // board names (without prefix)
	scores []float64
}

// place computes a ready post's boards and scores.
func place(p postRow) placement {
	top := BoardScore(TopScore(p.hist), p.id)
	hot := BoardScore(HotScore(p.hist, p.created), p.id)
	pl := placement{
		boards: []string{"hot", "top:all", "top:day:" + dayOf(p.created), "top:week:" + weekOf(p.created), "new"},
		scores: []float64{hot, top, top, top, float64(p.id)},
	}
	for _, t := range p.tags {
		pl.boards = append(pl.boards, "tag:"+t+":top", "tag:"+t+":hot")
		pl.scores = append(pl.scores, top, hot)
	}
	return pl
}

// syncScript moves one post to where it belongs, if the update is newer
// than the last one applied.
// KEYS[1] the version hash (its ":gen" counter grows with every change
// applied, for readers that cache pages), KEYS[2] the post's membership set, KEYS[3..]
// the boards the post belongs on now (none: it leaves every board).
// ARGV[1] the post id, ARGV[2] its version, ARGV[3..] its score on each of
// KEYS[3..]. Returns 1 if applied, 0 if stale.
var syncScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[1] .. ':gen')
local now = {}
for i = 3, #KEYS do
  now[KEYS[i]] = true
  redis.call('ZADD', KEYS[i], ARGV[i], ARGV[1])
end
for _, b in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not now[b] then redis.call('ZREM', b, ARGV[1]) end
end
redis.call('DEL', KEYS[2])
if #KEYS > 2 then redis.call('SADD', KEYS[2], unpack(KEYS, 3)) end
return 1
`)

// syncArgs builds the script call for post p (ready or not).
func (k keys) syncArgs(p postRow) ([]string, []any) {
	ks := []string{k.versions(), k.members(p.id)}
	args := []any{p.id, p.version}
	if p.status == "ready" {
		pl := place(p)
		for i, b := range pl.boards {
			ks = append(ks, k.board(b))
			args = append(args, pl.scores[i])
		}
	}
	return ks, args
}

// BoardName checks and normalises a board name from the API:
// hot, new, top (window all|week|day), creators, tag:<name> (sort top|hot).
func BoardName(board, window, sort string) (string, error) {
	switch {
	case board == "hot" || board == "new" || board == "creators":
		return board, nil
	case board == "top":
		switch window {
		case "", "all":
			return "top:all", nil
		case "day":
			return "top:day:" + dayOf(time.Now()), nil
		case "week":
			return "top:week:" + weekOf(time.Now()), nil
		}
		return "", fmt.Errorf("window must be day, week or all")
	case strings.HasPrefix(board, "tag:") && len(board) > 4:
		if window != "" && window != "all" {
			return "", fmt.Errorf("tag boards cover all time: leave window out")
		}
		if sort == "" {
			sort = "top"
		}
		if sort != "top" && sort != "hot" {
			return "", fmt.Errorf("sort must be top or hot")
		}
		return board + ":" + sort, nil
	}
	return "", fmt.Errorf("no such board; boards are hot, top, new, creators and tag:<name>")
}
