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
//	board:tag:<tag>:top, board:tag:<tag>:hot              sorted sets of post ids,
//	                                                      each the top of its board
//	board:creators                                        sorted set of user ids (whole)
//	rank:pv      hash post id → "<version> <board> <board> …": the version last
//	             applied and the boards (names without "board:") the post is on,
//	             whether or not it is in their sorted sets
//	rank:floor   hash board name → a board score: the board's floor (below)
//	rank:wfloor  hash board name → the floor new posts are let in above while
//	             a refill runs (cap.go)
//	rank:pv:gen  grows with every change applied (page caches key on it)
//	rank:ready   present once a full rebuild finished; gone after a flush
//
// Post boards hold their top only: at most the cap (BOARD_CAP, 10,000 by
// default; SetBoardCap) posts each. The cull takes the bottom of a board,
// and a removal from a sorted set of a million members cost about 4 µs, so
// taking 100,000 victims off whole boards held Redis for seconds; a
// board's bottom is also most of its memory. So a board that outgrows the
// cap drops its lowest posts and gets a floor, the highest score dropped.
// A board without a floor is whole. The sorted set holds exactly (a) posts
// that are on the board, with their current score, and (b) every post on
// the board whose score is above its floor (scores are unique: BoardScore
// folds the id in). So the entries above the floor are the top of the
// board, ranks included, and Board and Ranks trust only those: a page that
// reaches below the floor is read from PostgreSQL, which serves every board
// in the same order, and a post below it has no rank there. Removals make a
// board shrink below its cap; Run refills those (cap.go).
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
func (k keys) floor() string            { return k.p + "rank:floor" }
func (k keys) wfloor() string           { return k.p + "rank:wfloor" }
func (k keys) gen() string              { return k.p + "rank:pv:gen" }
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
// than the last one applied. On each board it is on now, the post is put
// in the sorted set if the board has no floor or its score is above the
// floor (the write floor while a refill runs, see cap.go), and taken out
// otherwise; a board over the cap then drops its lowest posts (see trim).
// KEYS[1] the version hash (see keys), KEYS[2] the floors, KEYS[3] the
// write floors, KEYS[4..] the boards the post belongs on now (none: it
// leaves every board).
// ARGV[1] the post id, ARGV[2] its version, ARGV[3] the cap, ARGV[4..] its
// score on each of KEYS[4..]. Returns {0} if stale; else {2} if it put a
// post that was on no board on some (the post is new to the boards: it
// joins the new board too), {1} for any other change applied — followed by
// the names of the boards the post left (live viewers of those are told
// too).
var syncScript = redis.NewScript(luaParse + luaFloors + `
local cur, was = parse(redis.call('HGET', KEYS[1], ARGV[1]))
if cur >= tonumber(ARGV[2]) then return {0} end
local base = boardBase(KEYS[1])
local cap = tonumber(ARGV[3])
local names, floors, wfloors = {}, {}, {}
for i = 4, #KEYS do names[#names+1] = string.sub(KEYS[i], #base + 1) end
if #names > 0 then
  floors = redis.call('HMGET', KEYS[2], unpack(names))
  wfloors = redis.call('HMGET', KEYS[3], unpack(names))
end
local now, val = {}, ARGV[2]
for i = 4, #KEYS do
  local j = i - 3
  now[KEYS[i]] = true
  local f = wfloors[j] or floors[j]
  if not f or tonumber(ARGV[i]) > num(f) then
    redis.call('ZADD', KEYS[i], ARGV[i], ARGV[1])
    trim(KEYS[i], names[j], cap, KEYS[2], KEYS[3], ` + strconv.Itoa(trimPerSync) + `)
  else
    redis.call('ZREM', KEYS[i], ARGV[1])
  end
  val = val .. ' ' .. names[j]
end
local out = {1}
if #was == 0 and #KEYS > 3 then out[1] = 2 end
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
// as its version and the list of board names after it (split with
// string.find: string.gmatch cost about twice as much Redis time); and
// boardBase(versions key): the prefix a board name takes to be its key.
const luaParse = `
local function boardBase(k)
  return string.sub(k, 1, #k - #'rank:pv') .. 'board:'
end
local function parse(v)
  local boards = {}
  if not v then return 0, boards end
  local a = string.find(v, ' ', 1, true)
  local ver = tonumber(string.sub(v, 1, (a or 0) - 1))
  while a do
    local b = string.find(v, ' ', a + 1, true)
    boards[#boards+1] = string.sub(v, a + 1, (b or 0) - 1)
    a = b
  end
  return ver or 0, boards
end
`

// luaFloors defines, for the scripts that put posts on capped boards:
// num(s), a floor or score as Redis stores it ("-inf" too) as a number;
// has(list, x), whether list holds x; and trim(board key, board name, cap,
// floors key, write floors key, most), which drops the lowest members of a
// board over the cap (at most `most` at once) and raises the board's floor,
// and its write floor if it has one, to the highest score dropped, so that
// every post above the floor stays in; it returns whether it dropped any.
// Floors are stored as Redis wrote the scores (17 significant digits), not
// through Lua's number formatting, which keeps 14.
const luaFloors = `
local function num(s)
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end
local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end
local function trim(bk, name, cap, fk, wk, most)
  local over = redis.call('ZCARD', bk) - cap
  if over <= 0 then return false end
  local popped = redis.call('ZPOPMIN', bk, math.min(over, most))
  local hi = popped[#popped]
  local f = redis.call('HGET', fk, name)
  if not f or num(hi) > num(f) then redis.call('HSET', fk, name, hi) end
  local w = redis.call('HGET', wk, name)
  if w and num(hi) > num(w) then redis.call('HSET', wk, name, hi) end
  return true
end
`

// syncArgs builds the script call for post p (ready or not) on boards
// capped at n posts.
func (k keys) syncArgs(p postRow, n int64) ([]string, []any) {
	ks := []string{k.versions(), k.floor(), k.wfloor()}
	args := []any{p.id, p.version, n}
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
