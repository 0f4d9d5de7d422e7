package ranking

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys (the family "<prefix>board:…" and "<prefix>rank:…" is owned
// here):
//
//	board:hot, board:top:all, board:top:day:2026-11-27, board:top:week:2026-W48,
//	board:tag:<tag>:top, board:tag:<tag>:hot              sorted sets of post ids
//	board:creators                                        sorted set of user ids
//	rank:pv      hash post id → "<version> <board> <board> …": the version last
//	             applied and the boards (names without "board:") the post is on
//	rank:pv:gen  grows with every change applied (page caches key on it)
//	rank:ready   present once a full rebuild finished; gone after a flush
//
// A post's boards live in its version's hash value rather than in a set of
// their own: one lookup reads both, and a set per post cost about 530 bytes
// of Redis memory per post, nearly half the total (docs/benchmarks.md).
// Before that format, rank:v held bare versions and rank:m:<id> the sets;
// Run finds such data and rebuilds (see dropLegacy).
//
// The new board is not in Redis: it is every ready post by id, newest
// first, which posts_ready_idx serves as it stands. A sorted set of every
// post would cost Redis about 100 bytes a post and every removal one more
// ZREM into a million members (docs/benchmarks.md).
type keys struct{ p string }

func (k keys) board(name string) string { return k.p + "board:" + name }
func (k keys) versions() string         { return k.p + "rank:pv" }
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
		boards: []string{"hot", "top:all", "top:day:" + dayOf(p.created), "top:week:" + weekOf(p.created)},
		scores: []float64{hot, top, top, top},
	}
	for _, t := range p.tags {
		pl.boards = append(pl.boards, "tag:"+t+":top", "tag:"+t+":hot")
		pl.scores = append(pl.scores, top, hot)
	}
	return pl
}

// syncScript moves one post to where it belongs, if the update is newer
// than the last one applied.
// KEYS[1] the version hash (see keys), KEYS[2..] the boards the post
// belongs on now (none: it leaves every board).
// ARGV[1] the post id, ARGV[2] its version, ARGV[3..] its score on each of
// KEYS[2..]. Returns {0} if stale; else {2} if it put a post that was on no
// board on some (the post is new to the boards: it joins the new board
// too), {1} for any other change applied — followed by the names of the
// boards the post left (live viewers of those are told too).
var syncScript = redis.NewScript(luaParse + `
local cur, was = parse(redis.call('HGET', KEYS[1], ARGV[1]))
if cur >= tonumber(ARGV[2]) then return {0} end
local base = boardBase(KEYS[1])
local now, val = {}, ARGV[2]
for i = 2, #KEYS do
  now[KEYS[i]] = true
  redis.call('ZADD', KEYS[i], ARGV[i+1], ARGV[1])
  val = val .. ' ' .. string.sub(KEYS[i], #base + 1)
end
local out = {1}
if #was == 0 and #KEYS > 1 then out[1] = 2 end
for _, b in ipairs(was) do
  if not now[base .. b] then
    redis.call('ZREM', base .. b, ARGV[1])
    out[#out+1] = b
  end
end
redis.call('HSET', KEYS[1], ARGV[1], val)
redis.call('INCR', KEYS[1] .. ':gen')
return out
`)

// scriptResult splits a {code, board, board, …} reply of syncScript or
// unlistScript.
func scriptResult(cmd *redis.Cmd) (int, []string, error) {
	vals, err := cmd.Slice()
	if err != nil || len(vals) == 0 {
		return 0, nil, err
	}
	n, _ := vals[0].(int64)
	boards := make([]string, 0, len(vals)-1)
	for _, v := range vals[1:] {
		if b, ok := v.(string); ok {
			boards = append(boards, b)
		}
	}
	return int(n), boards, nil
}

// luaParse defines parse(value): a version hash value (or false, for none)
// as its version and the list of board names after it; and
// boardBase(versions key): the prefix a board name takes to be its key.
const luaParse = `
local function boardBase(k)
  return string.sub(k, 1, #k - #'rank:pv') .. 'board:'
end
local function parse(v)
  local boards = {}
  if not v then return 0, boards end
  local ver
  for w in string.gmatch(v, '%S+') do
    if ver then boards[#boards+1] = w else ver = tonumber(w) end
  end
  return ver or 0, boards
end
`

// syncArgs builds the script call for post p (ready or not).
func (k keys) syncArgs(p postRow) ([]string, []any) {
	ks := []string{k.versions()}
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

// fromPostgresOnly reports whether board name is served by PostgreSQL
// alone (see keys).
func fromPostgresOnly(name string) bool { return name == "new" }

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
