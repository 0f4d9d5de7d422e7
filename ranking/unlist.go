package ranking

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/store"
)

// unlistScript takes many posts that are no longer ready off every board in
// one call: syncScript's "no boards" case, batched, with the same version
// guard (a post is touched only if its version is newer than the one last
// applied), and it moves the generation (page caches key on it) when it
// changed anything. Most of the cull's victims are below every capped
// board's floor, so their removals find no member: what remains is the
// version hash's bookkeeping, which takes one HMGET and one HSET a call
// (and one ZREM per board), about 15 % less Redis time than a call per
// post did (measured on the unlist benchmark's boards, victims alternating
// between the two scripts). Posts are grouped by their list of boards,
// which many share (the same day, week and tag), and each list is split
// once: splitting every post's list was half of the script's own time, and
// grouping took a third off the whole call (docs/benchmarks.md, ninth
// round). Each post must be given once (newestOnce): its value is read
// once a call.
// KEYS[1] the version hash; ARGV[2i-1] the i-th post's id, ARGV[2i] its
// version. Returns {how many posts it applied (the others were stale), the
// boards they left, each once}.
var unlistScript = redis.NewScript(luaParse + `
local out = {0}
local base = boardBase(KEYS[1])
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids+1] = ARGV[i] end
local vals = redis.call('HMGET', KEYS[1], unpack(ids))
local groups, lists, set = {}, {}, {}
for j, id in ipairs(ids) do
  local val, v = vals[j], ARGV[2*j]
  local ver, list = 0, nil
  if val then
    local a = string.find(val, ' ', 1, true)
    if a then
      ver, list = tonumber(string.sub(val, 1, a - 1)), string.sub(val, a + 1)
    else
      ver = tonumber(val)
    end
  end
  if (ver or 0) < tonumber(v) then
    if list then
      local g = groups[list]
      if not g then g = {}; groups[list] = g; lists[#lists+1] = list end
      g[#g+1] = id
    end
    set[#set+1] = id
    set[#set+1] = v
    out[1] = out[1] + 1
  end
end
local rem = {}
for _, list in ipairs(lists) do
  local _, boards = parse('0 ' .. list)
  local g = groups[list]
  for _, b in ipairs(boards) do
    local l = rem[b]
    if not l then l = {}; rem[b] = l; out[#out+1] = b end
    for _, id in ipairs(g) do l[#l+1] = id end
  end
end
for i = 2, #out do redis.call('ZREM', base .. out[i], unpack(rem[out[i]])) end
if #set > 0 then
  redis.call('HSET', KEYS[1], unpack(set))
  redis.call('INCR', KEYS[1] .. ':gen')
end
return out
`)

// unlistPerCall is how many posts one script call takes off the boards.
// Each post is a hash read and write and a handful of removals: 10–25 µs
// of Redis time on whole boards of a million posts (measured,
// docs/benchmarks.md), 7–9 µs on boards capped at 10,000 (the unlist
// benchmark), so a call holds Redis for 1–2.5 ms at most; 200 a call saved
// no more than a few per cent. Calls are not pipelined on one connection:
// Redis runs every command it reads from a client in one go before it
// serves anyone else, and 16 pipelined calls of 50 posts kept other
// clients waiting 14–21 ms (a PING from another client, measured).
// Instead unlistLanes calls are in flight at once, each on its own
// connection, each sent when the lane's last one answered: with one lane
// Redis sat idle during every round trip and every reply's decoding (wall
// time 20–30 % above Redis's own); with two, another client waits at most
// for two calls, a few milliseconds.
const (
	unlistPerCall   = 100
	unlistLanes     = 2
	unlistReadChunk = 5000
)

// Unlist takes many posts that left `ready` (culled, removed or deleted)
// off every board, in batches — a few round trips for thousands of posts
// instead of one per post — and returns how many it moved. It reads each
// post's status and version from PostgreSQL; a post that is ready after
// all is synced the usual way. Like PostChanged it is version-guarded and
// idempotent. It counts the laughs of the authors of removed and deleted
// posts again (a deleted post's author comes from its tombstone); culled
// posts' laughs still count.
func (s *Service) Unlist(ctx context.Context, ids []int64) (int, error) {
	moved := 0
	left := map[string]bool{}
	defer func() { s.announceUnlisted(ctx, left) }()
	for start := 0; start < len(ids); start += unlistReadChunk {
		part := ids[start:min(start+unlistReadChunk, len(ids))]
		rows, err := s.db.Query(ctx, `SELECT p.id, p.author_id, `+store.Status("p")+`, `+store.Version("p")+` FROM posts p WHERE p.id = ANY($1)`, part)
		if err != nil {
			return moved, err
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (postRow, error) {
			var p postRow
			err := r.Scan(&p.id, &p.author, &p.status, &p.version)
			return p, err
		})
		if err != nil {
			return moved, err
		}
		var gone, versions, ready []int64
		authors := map[int64]bool{}
		for _, p := range list {
			switch p.status {
			case "ready":
				ready = append(ready, p.id)
				continue
			case "removed": // its laughs no longer count (a culled post's do)
				authors[p.author] = true
			}
			gone, versions = append(gone, p.id), append(versions, p.version)
		}
		deleted, err := s.deleted(ctx, part, list)
		if err != nil {
			return moved, err
		}
		for _, d := range deleted {
			gone, versions = append(gone, d.id), append(versions, d.version)
			if d.author != 0 {
				authors[d.author] = true
			}
		}
		n, err := s.unlistAll(ctx, gone, versions, left)
		moved += n
		if err != nil {
			return moved, err
		}
		if err := s.creatorsChanged(ctx, authors, false); err != nil {
			return moved, err
		}
		if len(ready) > 0 {
			if err := s.syncIDs(ctx, ready, true); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

// UnlistAt takes posts that left `ready` at the given rank versions off
// every board, like Unlist but without reading the posts again: the cull
// records each victim's version as it marks it, and at 10^5 victims the
// reads cost more than a tenth of a second. The version guard still holds:
// a post that changed since has a newer version, and this leaves it alone.
func (s *Service) UnlistAt(ctx context.Context, ids, versions []int64) (int, error) {
	parts := make(chan PostVersions, 1)
	parts <- PostVersions{IDs: ids, Versions: versions}
	close(parts)
	return s.UnlistAtEach(ctx, parts)
}

// PostVersions are posts with a rank version each.
type PostVersions struct{ IDs, Versions []int64 }

// UnlistAtEach is UnlistAt for posts that arrive in parts until parts is
// closed: each part goes to Redis as it comes, so the sender reads the
// next while Redis works (the cull reads its victims a page at a time:
// 100,000 took about 90 ms to read before the first went). The boards left
// are announced once, at the end. It stops at the first error; a sender
// should then stop too (cancel the context it sends under).
func (s *Service) UnlistAtEach(ctx context.Context, parts <-chan PostVersions) (int, error) {
	left := map[string]bool{}
	defer s.announceUnlisted(ctx, left)
	moved := 0
	for p := range parts {
		if len(p.IDs) != len(p.Versions) {
			return moved, errors.New("ranking: UnlistAt needs one version per post")
		}
		n, err := s.unlistAll(ctx, p.IDs, p.Versions, left)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// unlistAll takes the posts off the boards at the given versions, one
// script call of unlistPerCall posts at a time, and adds the boards they
// left to left.
func (s *Service) unlistAll(ctx context.Context, ids, versions []int64, left map[string]bool) (int, error) {
	var (
		mu    sync.Mutex
		moved int
		errs  []error
		wg    sync.WaitGroup
	)
	ids, versions = newestOnce(ids, versions)
	keys := []string{s.k.versions()}
	calls := (len(ids) + unlistPerCall - 1) / unlistPerCall
	for lane := range min(unlistLanes, calls) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := make([]any, 0, 2*unlistPerCall)
			for c := lane; c < calls; c += unlistLanes {
				args = args[:0]
				for i := c * unlistPerCall; i < min((c+1)*unlistPerCall, len(ids)); i++ {
					args = append(args, ids[i], versions[i])
				}
				// Run loads the script if Redis lost it (NOSCRIPT after a restart).
				n, boards, err := scriptResult(unlistScript.Run(ctx, s.rdb, keys, args...))
				mu.Lock()
				moved += n
				for _, b := range boards {
					left[b] = true
				}
				if err != nil {
					errs = append(errs, err)
				}
				stop := len(errs) > 0
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	return moved, errors.Join(errs...)
}

// newestOnce returns the posts given, each once, at the newest version it
// was given at. unlistScript reads each post's hash value once a call, so
// a post given twice in a call would be applied twice, and its HSET could
// end at the older version.
func newestOnce(ids, versions []int64) ([]int64, []int64) {
	at := make(map[int64]int, len(ids))
	oi, ov := make([]int64, 0, len(ids)), make([]int64, 0, len(ids))
	for i, id := range ids {
		if j, ok := at[id]; ok {
			ov[j] = max(ov[j], versions[i])
			continue
		}
		at[id] = len(oi)
		oi, ov = append(oi, id), append(ov, versions[i])
	}
	return oi, ov
}

// announceUnlisted tells the live boards that posts left them, and the new
// board (served by PostgreSQL, where they left it too).
func (s *Service) announceUnlisted(ctx context.Context, left map[string]bool) {
	if len(left) == 0 {
		return
	}
	left["new"] = true
	s.announceBoards(ctx, left)
}
