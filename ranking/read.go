package ranking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/store"
)

// Entry is one place on a board: a post, or a user on the creators board.
type Entry struct {
	ID    int64
	Rank  int // 1-based
	Score float64
}

// Board returns limit entries of board name from offset (0-based), and
// whether more follow. It reads Redis when the boards there are complete
// and the page lies above the board's floor (see keys), and PostgreSQL
// otherwise (a page below a board's top, while a rebuild runs, or while
// Redis is down).
func (s *Service) Board(ctx context.Context, name string, offset, limit int) ([]Entry, bool, error) {
	if fromPostgresOnly(name) {
		return s.boardFromPostgres(ctx, name, offset, limit)
	}
	// One round trip: the readiness marker, the page and the board's floor
	// together; the page counts only if the marker was there. MULTI makes
	// them one instant, so a flush, a rebuild or a trim cannot fall between
	// the check and the read.
	pipe := s.rdb.TxPipeline()
	ready := pipe.Exists(ctx, s.k.ready())
	page := pipe.ZRevRangeWithScores(ctx, s.k.board(name), int64(offset), int64(offset+limit))
	floor := pipe.HGet(ctx, s.k.floor(), name)
	_, _ = pipe.Exec(ctx)
	if n, err := ready.Result(); err == nil && n == 1 {
		zs, err := page.Result()
		var f float64
		capped := false
		if err == nil {
			if f, err = floor.Float64(); err == nil {
				capped = true
			} else if errors.Is(err, redis.Nil) {
				err = nil
			}
		}
		// Redis has the page if each of its entries is above the floor
		// (the sorted set holds every post there is above it), and, if the
		// page reaches the end of the sorted set, if the board is whole.
		if err == nil && capped && (len(zs) <= limit || (limit > 0 && zs[limit-1].Score <= f)) {
			boardReads.WithLabelValues("below_cap").Inc()
			return s.boardFromPostgres(ctx, name, offset, limit)
		}
		if err == nil {
			out := make([]Entry, 0, len(zs))
			for i, z := range zs {
				id, _ := strconv.ParseInt(z.Member.(string), 10, 64)
				out = append(out, Entry{ID: id, Rank: offset + i + 1, Score: displayScore(name, z.Score)})
			}
			more := len(out) > limit
			if more {
				out = out[:limit]
			}
			return out, more, nil
		}
		slog.Warn("ranking: Redis read failed; reading from PostgreSQL", "board", name, "err", err)
	}
	boardReads.WithLabelValues("postgres").Inc()
	return s.boardFromPostgres(ctx, name, offset, limit)
}

// boardFromPostgres computes a board with the same order as Redis: the
// stored scores, ties broken by id (newer first), as BoardScore does. It
// is the order of posts_top_idx and posts_hot_idx exactly, so a page is an
// index scan that stops at the page, not a sort of every ready post (which
// "NULLS LAST" forced: 134–155 ms a read at 20,000 posts, while Redis
// rebuilds). A post whose scores were never stored (its board update
// failed; the cull and the danger check store them) is left out until
// they are.
func (s *Service) boardFromPostgres(ctx context.Context, name string, offset, limit int) ([]Entry, bool, error) {
	pending, err := store.CullsUnsettled(ctx, s.db)
	if err != nil {
		return nil, false, err
	}
	sql, args, err := boardSQL(name, pending)
	if err != nil || sql == "" {
		return nil, false, err
	}
	args = append(args, limit+1, offset)
	rows, err := s.db.Query(ctx, sql+` LIMIT $`+strconv.Itoa(len(args)-1)+` OFFSET $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, false, err
	}
	i := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		var score any
		if err := r.Scan(&e.ID, &score); err != nil {
			return e, err
		}
		switch v := score.(type) {
		case float64:
			e.Score = v
		case int64:
			e.Score = float64(v)
		}
		i++
		e.Rank = offset + i
		return e, nil
	})
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// boardSQL is the query of board name served from PostgreSQL, in the
// board's order, before its LIMIT and OFFSET; "" for no such board.
// pending: a cull run awaits settling (store.CullsUnsettled), so the
// query must look its victims up.
func boardSQL(name string, pending bool) (string, []any, error) {
	var sql string
	var args []any
	ready := store.ReadyWhen("p", pending)
	parts := strings.Split(name, ":")
	switch {
	case name == "hot":
		sql = `SELECT id, score_hot FROM posts p WHERE ` + ready + ` AND score_hot IS NOT NULL ORDER BY score_hot DESC, id DESC`
	case name == "new":
		sql = `SELECT id, id::float8 AS score FROM posts p WHERE ` + ready + ` ORDER BY id DESC`
	case name == "top:all":
		sql = `SELECT id, score_top FROM posts p WHERE ` + ready + ` AND score_top IS NOT NULL ORDER BY score_top DESC, id DESC`
	case len(parts) == 3 && parts[0] == "top" && (parts[1] == "day" || parts[1] == "week"):
		from, to, err := window(parts[1], parts[2])
		if err != nil {
			return "", nil, err
		}
		sql = `SELECT id, score_top FROM posts p WHERE ` + ready + ` AND score_top IS NOT NULL AND created_at >= $1 AND created_at < $2
			ORDER BY score_top DESC, id DESC`
		args = append(args, from, to)
	case len(parts) == 3 && parts[0] == "tag":
		col := "score_top"
		if parts[2] == "hot" {
			col = "score_hot"
		}
		sql = `SELECT p.id, p.` + col + ` FROM posts p JOIN post_tags t ON t.post_id = p.id
			WHERE ` + ready + ` AND p.` + col + ` IS NOT NULL AND t.tag = $1 ORDER BY p.` + col + ` DESC, p.id DESC`
		args = append(args, parts[1])
	case name == "creators":
		sql = `SELECT * FROM (` + creatorsSQL + ` GROUP BY u.id) c WHERE c.laughs > 0 ORDER BY c.laughs DESC, c.id DESC`
	}
	return sql, args, nil
}

// Generation identifies the current state of every board: it changes with
// every change applied and with every rebuild. "" means the boards are not
// ready (read through Board, which falls back to PostgreSQL).
func (s *Service) Generation(ctx context.Context) string {
	vals, err := s.rdb.MGet(ctx, s.k.versions()+":gen", s.k.ready()).Result()
	if err != nil || len(vals) != 2 || vals[1] == nil {
		return ""
	}
	g, _ := vals[0].(string)
	return vals[1].(string) + "/" + g
}

// displayScore turns a stored board score back into the score people see:
// laughs on the creators board, the post's id on the new board, and the
// (quantised) top or hot score elsewhere.
func displayScore(board string, stored float64) float64 {
	switch board {
	case "creators":
		return math.Floor(stored / (1 << CreatorTieBits))
	case "new":
		return stored
	}
	s, _ := SplitBoardScore(stored)
	return s
}

// window returns the UTC bounds of a day ("2026-11-27") or ISO week
// ("2026-W48").
func window(kind, v string) (time.Time, time.Time, error) {
	if kind == "day" {
		d, err := time.Parse("2006-01-02", v)
		return d, d.AddDate(0, 0, 1), err
	}
	var y, w int
	if _, err := fmt.Sscanf(v, "%d-W%d", &y, &w); err != nil {
		return time.Time{}, time.Time{}, err
	}
	// ISO week 1 contains January 4th; weeks start on Monday.
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+(w-1)*7)
	return monday, monday.AddDate(0, 0, 7), nil
}

// Ranks returns, for each post, its 1-based rank on the main boards it is
// on: hot, top (all time), top of its day and of its week. Posts not ranked
// (not ready, or Redis not ready) get no entry, and a post gets none for a
// board on which it is below the top Redis keeps (at or below the board's
// floor: see keys).
func (s *Service) Ranks(ctx context.Context, posts map[int64]time.Time) map[int64]map[string]int {
	out := map[int64]map[string]int{}
	if len(posts) == 0 {
		return out
	}
	type q struct {
		id          int64
		name, board string
		rank        *redis.IntCmd
		score       *redis.FloatCmd
	}
	var qs []q
	var names []string
	seen := map[string]bool{}
	// One round trip, one instant (MULTI): readiness, the ranks and scores,
	// and the floors of the boards involved.
	pipe := s.rdb.TxPipeline()
	ready := pipe.Exists(ctx, s.k.ready())
	for id, created := range posts {
		for name, board := range map[string]string{"hot": "hot", "top": "top:all", "top_day": "top:day:" + dayOf(created), "top_week": "top:week:" + weekOf(created)} {
			member := strconv.FormatInt(id, 10)
			qs = append(qs, q{id, name, board, pipe.ZRevRank(ctx, s.k.board(board), member), pipe.ZScore(ctx, s.k.board(board), member)})
			if !seen[board] {
				seen[board] = true
				names = append(names, board)
			}
		}
	}
	floors := pipe.HMGet(ctx, s.k.floor(), names...)
	_, _ = pipe.Exec(ctx)
	if n, err := ready.Result(); err != nil || n != 1 {
		return out
	}
	floorOf, err := floorMap(names, floors)
	if err != nil {
		return out
	}
	for _, x := range qs {
		r, err := x.rank.Result()
		if err != nil {
			continue
		}
		if f, capped := floorOf[x.board]; capped {
			if sc, err := x.score.Result(); err != nil || sc <= f {
				continue
			}
		}
		if out[x.id] == nil {
			out[x.id] = map[string]int{}
		}
		out[x.id][x.name] = int(r) + 1
	}
	return out
}

// floorMap reads the reply of HMGET of the floors of boards names: the
// floor of each board that has one.
func floorMap(names []string, cmd *redis.SliceCmd) (map[string]float64, error) {
	vals, err := cmd.Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(vals))
	for i, v := range vals {
		if str, ok := v.(string); ok && i < len(names) {
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, err
			}
			out[names[i]] = f
		}
	}
	return out, nil
}
