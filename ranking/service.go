// Package ranking turns ratings into boards. PostgreSQL holds the ratings
// and each post's histogram (the truth); Redis sorted sets hold the boards,
// updated after every commit with a version guard, reconciled periodically
// and rebuilt from PostgreSQL whenever Redis comes back empty. Reads fall
// back to PostgreSQL while Redis is not ready, so a board is never an error
// and never wrongly empty.
package ranking

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
)

// Stats are a post's rating statistics.
type Stats struct {
	Histogram Histogram
	Top, Hot  float64
	Version   int64
}

// Count is the number of ratings.
func (s Stats) Count() int64 { return s.Histogram.Count() }

// Service rates posts and keeps the boards.
type Service struct {
	db       *pgxpool.Pool
	rdb      redis.UniversalClient
	k        keys
	announce Announcer
	queue    chan *rateReq
	done     chan struct{}
	mu       sync.RWMutex // guards stopped against sends on a closed queue
	stopped  bool
	started  bool

	creatorsMu  sync.Mutex
	creatorsDue map[int64]bool // authors whose laughs changed, not yet on the board
	// creatorsWrite orders writeCreators calls: each reads the laughs and
	// then writes them, so two running at once could write an older read
	// last and leave the board behind for good.
	creatorsWrite sync.Mutex
	// creatorsRead, if set (tests), runs between reading laughs and
	// writing them to the board.
	creatorsRead func()

	// boardCap is how many posts each post board keeps in Redis (see
	// SetBoardCap and cap.go); refillBatch how many posts one refill
	// script call places; refillStep, if set (tests), runs at each step of
	// a refill ("started" once the write floor is down, "batch" before each
	// script call); trimmed is set once this process trimmed the boards
	// that were over the cap when it started.
	boardCap    atomic.Int64
	refillBatch int
	refillStep  func(board, step string)
	trimmed     atomic.Bool
}

// New returns a Service; announce may be nil. Call Start to run its
// rating writers and Run for reconcile and rebuild. Its post boards keep
// DefaultBoardCap posts each in Redis (SetBoardCap changes that).
func New(db *pgxpool.Pool, rdb redis.UniversalClient, prefix string, announce Announcer) *Service {
	if announce == nil {
		announce = nopAnnouncer{}
	}
	s := &Service{db: db, rdb: rdb, k: keys{p: prefix}, announce: announce, queue: make(chan *rateReq, 4096),
		creatorsDue: map[int64]bool{}, refillBatch: refillPerCall}
	s.boardCap.Store(DefaultBoardCap)
	return s
}

// postRow is what ranking needs of a post.
type postRow struct {
	id, author int64
	status     string
	created    time.Time
	hist       Histogram
	version    int64
	tags       []string
}

var selectRow = `SELECT p.id, p.author_id, ` + store.Status("p") + `, p.created_at, p.h1, p.h2, p.h3, p.h4, p.h5, ` + store.Version("p") + `,
	coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM post_tags t WHERE t.post_id = p.id), '{}')
	FROM posts p `

func scanRow(r pgx.Row) (postRow, error) {
	var p postRow
	err := r.Scan(&p.id, &p.author, &p.status, &p.created, &p.hist[0], &p.hist[1], &p.hist[2], &p.hist[3], &p.hist[4], &p.version, &p.tags)
	return p, err
}

// stats are the post's statistics; scores are quantised as stored (see
// Quantize), which is also the precision the boards order by.
func (p postRow) stats() Stats {
	return Stats{Histogram: p.hist, Top: Quantize(TopScore(p.hist)), Hot: Quantize(HotScore(p.hist, p.created)), Version: p.version}
}

// loadRows reads posts by id.
func loadRows(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []int64) ([]postRow, error) {
	rows, err := q.Query(ctx, selectRow+`WHERE p.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (postRow, error) { return scanRow(r) })
}

// SetAnnouncer connects live updates (set once at start-up).
func (s *Service) SetAnnouncer(a Announcer) { s.announce = a }

// PostChanged brings post id's place on every board in line with
// PostgreSQL (it became ready, was edited, deleted, culled or removed).
// Posts call it after their commits; it is idempotent.
func (s *Service) PostChanged(ctx context.Context, id int64) {
	if err := s.syncIDs(ctx, []int64{id}, true); err != nil {
		slog.Warn("ranking: board update failed; the reconcile loop will retry", "post", id, "err", err)
	}
}

// syncIDs reads posts from PostgreSQL, stores their scores there, and
// applies them to Redis. Deleted posts leave every board.
func (s *Service) syncIDs(ctx context.Context, ids []int64, announce bool) error {
	rows, err := loadRows(ctx, s.db, ids)
	if err != nil {
		return err
	}
	if err := s.storeScores(ctx, rows); err != nil {
		return err
	}
	gone, err := s.deleted(ctx, ids, rows)
	if err != nil {
		return err
	}
	return s.apply(ctx, append(rows, gone...), announce)
}

// deleted returns a row for each of ids that is not among found: a deleted
// post, which leaves every board for good (the highest version there is),
// with its author from its tombstone so that the author's laughs are
// counted again.
func (s *Service) deleted(ctx context.Context, ids []int64, found []postRow) ([]postRow, error) {
	have := make(map[int64]bool, len(found))
	for _, r := range found {
		have[r.id] = true
	}
	var missing []int64
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT ON (post_id) post_id, author_id FROM post_tombstones WHERE post_id = ANY($1)`, missing)
	if err != nil {
		return nil, err
	}
	authors := map[int64]int64{}
	var id, author int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &author}, func() error {
		authors[id] = author
		return nil
	}); err != nil {
		return nil, err
	}
	gone := make([]postRow, len(missing))
	for i, id := range missing {
		gone[i] = postRow{id: id, author: authors[id], status: "deleted", version: 1 << 62}
	}
	return gone, nil
}

// PurgeTombstones drops the tombstones of posts deleted more than a day
// ago: the reconcile loop, which reads them, looks back minutes.
func (s *Service) PurgeTombstones(ctx context.Context) (int64, error) {
	t, err := s.db.Exec(ctx, `DELETE FROM post_tombstones WHERE deleted_at < now() - interval '1 day'`)
	return t.RowsAffected(), err
}

func (s *Service) storeScores(ctx context.Context, rows []postRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	versions := make([]int64, len(rows))
	tops := make([]float64, len(rows))
	hots := make([]float64, len(rows))
	for i, r := range rows {
		ids[i], versions[i], tops[i], hots[i] = r.id, r.version, Quantize(TopScore(r.hist)), Quantize(HotScore(r.hist, r.created))
	}
	// Only scores computed from the post's current version are stored: a
	// rating committed since the rows were read has stored newer ones. The
	// rows are locked in id order first, as the rating writers lock them:
	// the UPDATE alone locks them in its join's order, and deadlocked with
	// the writers when many posts' scores changed at once (an account
	// deleted with its ratings, under rating load).
	return store.Retry(func() error {
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM posts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE posts p SET score_top = u.top, score_hot = u.hot
				FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[]) AS u(id, version, top, hot)
				WHERE p.id = u.id AND p.rank_version = u.version
				AND (p.score_top IS DISTINCT FROM u.top OR p.score_hot IS DISTINCT FROM u.hot)`, ids, versions, tops, hots)
			return err
		})
	})
}

// apply runs the version-guarded sync script for each row in one
// pipeline, then updates the creators of the posts, and announces.
func (s *Service) apply(ctx context.Context, rows []postRow, announce bool) error {
	if len(rows) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(rows))
	for i, r := range rows {
		ks, args := s.k.syncArgs(r, s.cap())
		cmds[i] = syncScript.Run(ctx, pipe, ks, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		// A missing script (after a Redis restart) comes back as NOSCRIPT
		// from EVALSHA; Run falls back to EVAL only outside pipelines.
		if !isNoScript(err) {
			return err
		}
		if err := syncScript.Load(ctx, s.rdb).Err(); err != nil {
			return err
		}
		return s.apply(ctx, rows, announce)
	}
	authors := map[int64]bool{}
	changed := map[string]bool{}
	for i, r := range rows {
		if n, left, _ := scriptResult(cmds[i]); n > 0 && announce {
			if r.status == "ready" {
				s.announce.StatsChanged(ctx, r.id, r.version, r.stats())
				for _, b := range place(r).boards {
					changed[b] = true
				}
			}
			if n == 2 || r.status != "ready" {
				changed["new"] = true
			}
			for _, b := range left {
				changed[b] = true
			}
		}
		if r.author != 0 {
			authors[r.author] = true
		}
	}
	if err := s.creatorsChanged(ctx, authors, false); err != nil {
		return err
	}
	s.announceBoards(ctx, changed)
	return nil
}

func isNoScript(err error) bool {
	return err != nil && len(err.Error()) >= 8 && err.Error()[:8] == "NOSCRIPT"
}

func keysOf(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// creatorsChanged updates the creators board for these authors — at once
// when no ratings are waiting, otherwise later: under load, recomputing an
// author's laughs after every batch costs more than the ratings themselves,
// so authors are collected and done when the queue runs dry, or by the
// flusher at least every half second (see Start).
func (s *Service) creatorsChanged(ctx context.Context, authors map[int64]bool, force bool) error {
	s.creatorsMu.Lock()
	for a := range authors {
		s.creatorsDue[a] = true
	}
	if !force && len(s.queue) > 0 && s.started {
		s.creatorsMu.Unlock()
		return nil
	}
	s.creatorsMu.Unlock()
	// The due authors are taken only once this call may write: a caller
	// that found them taken by a write still under way waits for it, so
	// whatever it returns to (a rating's answer, a rebuild marking the
	// boards ready) comes after its authors are on the board.
	s.creatorsWrite.Lock()
	defer s.creatorsWrite.Unlock()
	s.creatorsMu.Lock()
	due := s.creatorsDue
	s.creatorsDue = map[int64]bool{}
	s.creatorsMu.Unlock()
	if err := s.writeCreators(ctx, keysOf(due)); err != nil {
		s.creatorsMu.Lock()
		for a := range due {
			s.creatorsDue[a] = true
		}
		s.creatorsMu.Unlock()
		return err
	}
	return nil
}

// creatorsSQL sums the laughs each author received on posts that count
// (ready ones, and culled ones: their laughs were earned).
const creatorsSQL = `SELECT u.id, coalesce(sum(p.h1 + 2*p.h2 + 3*p.h3 + 4*p.h4 + 5*p.h5), 0)::bigint AS laughs
	FROM users u LEFT JOIN posts p ON p.author_id = u.id AND p.status IN ('ready', 'culled') `

// updateCreators writes the authors' laughs to the creators board. The
// value is recomputed from PostgreSQL, so applying it twice is harmless.
func (s *Service) updateCreators(ctx context.Context, authors []int64) error {
	s.creatorsWrite.Lock()
	defer s.creatorsWrite.Unlock()
	return s.writeCreators(ctx, authors)
}

// lockCreators names the advisory locks (pg_advisory_xact_lock(lockCreators,
// author)) every process holds from reading authors' laughs until the board
// has them: without them, two API nodes updating one author could write an
// older sum last, and the board would keep it until that author's next
// rating. One lock per author, taken in id order, so updates of other
// authors do not wait.
const lockCreators = 0x63726561 // "crea"

// writeCreators is updateCreators with creatorsWrite held by the caller.
func (s *Service) writeCreators(ctx context.Context, authors []int64) error {
	if len(authors) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int, (a % 2147483647)::int)
			FROM (SELECT a FROM unnest($2::bigint[]) a ORDER BY a) s`, lockCreators, authors); err != nil {
			return err
		}
		// Read committed: this statement's snapshot is taken after the lock
		// was granted, so it sees every sum the lock's last holder wrote.
		return s.writeCreatorsLocked(ctx, tx, authors)
	})
}

func (s *Service) writeCreatorsLocked(ctx context.Context, tx pgx.Tx, authors []int64) error {
	rows, err := tx.Query(ctx, creatorsSQL+`WHERE u.id = ANY($1) GROUP BY u.id`, authors)
	if err != nil {
		return err
	}
	type laughs struct{ id, n int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (laughs, error) {
		var l laughs
		err := r.Scan(&l.id, &l.n)
		return l, err
	})
	if err != nil {
		return err
	}
	if s.creatorsRead != nil {
		s.creatorsRead()
	}
	seen := map[int64]bool{}
	pipe := s.rdb.Pipeline()
	for _, l := range list {
		seen[l.id] = true
		if l.n > 0 {
			pipe.ZAdd(ctx, s.k.board("creators"), redis.Z{Score: CreatorScore(l.n, l.id), Member: l.id})
		} else {
			pipe.ZRem(ctx, s.k.board("creators"), l.id)
		}
	}
	for _, a := range authors {
		if !seen[a] { // the account is gone
			pipe.ZRem(ctx, s.k.board("creators"), a)
		}
	}
	pipe.Incr(ctx, s.k.versions()+":gen")
	_, err = pipe.Exec(ctx)
	if err == nil {
		s.announce.BoardChanged(ctx, "creators")
	}
	return err
}

// Rating errors.
var (
	errNoPost   = jokster.Errorf(jokster.ENOTFOUND, "no such post")
	errOwn      = jokster.Errorf(jokster.EFORBIDDEN, "you cannot rate your own post")
	errNotReady = jokster.Errorf(jokster.ECONFLICT, "only posts that are ready can be rated")
)

// announceBoards tells the live boards named in changed that they changed,
// in name order.
func (s *Service) announceBoards(ctx context.Context, changed map[string]bool) {
	names := make([]string, 0, len(changed))
	for b := range changed {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		s.announce.BoardChanged(ctx, b)
	}
}
