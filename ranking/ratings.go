package ranking

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/store"
)

// A rating request waits in the queue for a writer. Writers take every
// request waiting (up to maxBatch) and commit them in one PostgreSQL
// transaction: each rating stays atomic, but concurrent ratings share one
// commit and one round trip instead of paying for their own. This group
// commit is what lets one node take thousands of ratings a second.
type rateReq struct {
	post, user int64
	stars      int // 0 withdraws
	res        chan rateRes
}

type rateRes struct {
	stats Stats
	err   error
}

const (
	maxBatch = 256
	writers  = 4
)

// Start runs the rating writers until Stop.
func (s *Service) Start() {
	s.done = make(chan struct{})
	s.started = true
	stopFlush := make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopFlush:
				return
			case <-t.C:
				if err := s.creatorsChanged(context.Background(), nil, true); err != nil {
					slog.Debug("ranking: creators update failed; retried", "err", err)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.writer()
		}()
	}
	go func() {
		wg.Wait()
		close(stopFlush)
		_ = s.creatorsChanged(context.Background(), nil, true) // what the last batches left
		close(s.done)
	}()
}

// Stop lets the writers finish what is queued and returns when they have;
// ratings submitted afterwards are refused as unavailable.
func (s *Service) Stop() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.queue)
	}
	s.mu.Unlock()
	if s.done != nil {
		<-s.done
	}
}

func (s *Service) writer() {
	for first := range s.queue {
		batch := []*rateReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// Rate records user's rating of stars (1..5) for post and returns the
// post's new statistics. It returns once the rating is committed.
func (s *Service) Rate(ctx context.Context, post, user int64, stars int) (Stats, error) {
	if stars < 1 || stars > 5 {
		return Stats{}, jokster.Invalid(map[string]string{"stars": "a whole number from 1 to 5"})
	}
	return s.submit(ctx, post, user, stars)
}

// Withdraw removes user's rating of post (none is not an error).
func (s *Service) Withdraw(ctx context.Context, post, user int64) (Stats, error) {
	return s.submit(ctx, post, user, 0)
}

func (s *Service) submit(ctx context.Context, post, user int64, stars int) (Stats, error) {
	r := &rateReq{post: post, user: user, stars: stars, res: make(chan rateRes, 1)}
	s.mu.RLock()
	if s.stopped {
		s.mu.RUnlock()
		return Stats{}, jokster.Errorf(jokster.EUNAVAILABLE, "the server is shutting down; try again")
	}
	select {
	case s.queue <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return Stats{}, ctx.Err()
	}
	// Once queued, the rating is committed whether or not the client
	// waits; the answer tells it which.
	res := <-r.res
	return res.stats, res.err
}

// upsertSQL rates only a ready post that is not the rater's own; no row
// back means one of those rules failed (or the rating is unchanged). It
// locks the post's row as it checks it: a removal committing meanwhile is
// then waited for and its status seen, where a plain read would rate the
// post as it was and the rating's update of the row would land on a
// removed post. A cull holds no row (it records its victims elsewhere):
// the batch takes the cull's lock first instead (write).
var upsertSQL = `INSERT INTO ratings (post_id, user_id, stars)
	SELECT $1, $2, $3 FROM posts p WHERE p.id = $1 AND ` + store.Ready("p") + ` AND p.author_id <> $2
	AND NOT EXISTS (SELECT 1 FROM bans WHERE user_id = $2 AND until > now())
	FOR NO KEY UPDATE OF p
	ON CONFLICT (post_id, user_id) DO UPDATE SET stars = EXCLUDED.stars, updated_at = now()
	WHERE ratings.stars <> EXCLUDED.stars
	RETURNING post_id`

// withdrawSQL locks the post's row before the rating's, as upsertSQL does:
// a rating and a withdrawal of one post in two writers' batches would
// otherwise take the two rows in opposite orders and deadlock.
const withdrawSQL = `WITH p AS (SELECT id FROM posts WHERE id = $1 FOR NO KEY UPDATE)
	DELETE FROM ratings r USING p WHERE r.post_id = p.id AND r.user_id = $2 RETURNING r.post_id`

// commit applies a batch in one transaction, falling back to one
// transaction per rating if the batch fails (so one bad rating, such as
// one from an account deleted a moment ago, fails alone).
func (s *Service) commit(batch []*rateReq) {
	ctx := context.Background()
	// Locks are taken in (post, user) order, so concurrent batches cannot
	// deadlock.
	sort.SliceStable(batch, func(i, j int) bool {
		if batch[i].post != batch[j].post {
			return batch[i].post < batch[j].post
		}
		return batch[i].user < batch[j].user
	})
	ratingBatch.Observe(float64(len(batch)))
	rows, changed, err := s.write(ctx, batch)
	// A deadlock victim (another writer of the same posts, such as the
	// posts package or a reconcile) is retried; it wrote nothing.
	for attempt := 0; store.IsDeadlock(err) && attempt < 5; attempt++ {
		rows, changed, err = s.write(ctx, batch)
	}
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			s.commit([]*rateReq{r})
		}
		return
	}
	if err != nil {
		batch[0].res <- rateRes{err: err}
		return
	}
	byID := map[int64]postRow{}
	for _, r := range rows {
		byID[r.id] = r
	}
	if err := s.apply(ctx, rows, true); err != nil {
		slog.Warn("ranking: board update failed after commit; the reconcile loop will repair it", "err", err)
	}
	for i, r := range batch {
		p, ok := byID[r.post]
		switch {
		case !ok || (!changed[i] && (p.status != "ready" || r.stars != 0)):
			if err := s.why(ctx, r); err != nil || !ok {
				r.res <- rateRes{err: err}
				continue
			}
			r.res <- rateRes{stats: p.stats()}
		default:
			if changed[i] {
				kind := "rate"
				if r.stars == 0 {
					kind = "withdraw"
				}
				ratingsTotal.WithLabelValues(kind).Inc()
			}
			r.res <- rateRes{stats: p.stats()}
		}
	}
}

// write runs the batch's statements, reads back the touched posts and
// stores their scores, all in one transaction.
func (s *Service) write(ctx context.Context, batch []*rateReq) ([]postRow, []bool, error) {
	changed := make([]bool, len(batch))
	var rows []postRow
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		// First, the cull's lock, shared (store.HoldReadyPosts): the cull
		// does not lock its victims' rows, so a rating that checked a post
		// ready before a cull's commit could otherwise commit after it, on
		// a culled post. With it the batch waits for a cull under way, and
		// each statement after it reads what the cull committed.
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, store.CullFloorLock)
		ids := map[int64]bool{}
		for _, r := range batch {
			ids[r.post] = true
			if r.stars == 0 {
				b.Queue(withdrawSQL, r.post, r.user)
			} else {
				b.Queue(upsertSQL, r.post, r.user, r.stars)
			}
		}
		b.Queue(selectRow+`WHERE p.id = ANY($1) ORDER BY p.id`, keysOf(ids))
		br := tx.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		for i := range batch {
			var id int64
			err := br.QueryRow().Scan(&id)
			if err == nil {
				changed[i] = true
			} else if !errors.Is(err, pgx.ErrNoRows) {
				br.Close()
				return err
			}
		}
		prows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		rows, err = pgx.CollectRows(prows, func(r pgx.CollectableRow) (postRow, error) { return scanRow(r) })
		if err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		// Scores are stored only for the posts this batch changed: it holds
		// their locks already (taken in post order), so this takes no new
		// lock. A post it only read (an unchanged or refused rating) may
		// have a newer version committed by another batch meanwhile, whose
		// scores must not be overwritten; locking it here, out of order,
		// could also deadlock with that batch.
		mine := map[int64]bool{}
		for i, r := range batch {
			if changed[i] {
				mine[r.post] = true
			}
		}
		var ids2 []int64
		var tops, hots []float64
		for _, r := range rows {
			if mine[r.id] {
				ids2 = append(ids2, r.id)
				tops = append(tops, Quantize(TopScore(r.hist)))
				hots = append(hots, Quantize(HotScore(r.hist, r.created)))
			}
		}
		if len(ids2) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE posts p SET score_top = u.top, score_hot = u.hot
			FROM unnest($1::bigint[], $2::float8[], $3::float8[]) AS u(id, top, hot) WHERE p.id = u.id`, ids2, tops, hots)
		return err
	})
	return rows, changed, err
}

// why explains a rating that changed nothing: no such post, not ready,
// your own post, or simply the same rating again (not an error).
func (s *Service) why(ctx context.Context, r *rateReq) error {
	var status string
	var author int64
	var banned bool
	err := s.db.QueryRow(ctx, `SELECT `+store.Status("p")+`, p.author_id, EXISTS (SELECT 1 FROM bans WHERE user_id = $2 AND until > now())
		FROM posts p WHERE p.id = $1`, r.post, r.user).Scan(&status, &author, &banned)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return errNoPost
	case err != nil:
		return err
	case status == "processing" || status == "failed":
		return errNoPost
	case status != "ready":
		// Withdrawing none from a culled or removed post is 409 too
		// (openapi.yaml); a rating that is there was withdrawn already.
		return errNotReady
	case r.stars == 0:
		return nil // withdrawing a rating that is not there: nothing to do
	case banned:
		return jokster.Errorf(jokster.EFORBIDDEN, "you are banned from rating for now")
	case author == r.user:
		return errOwn
	}
	return nil
}

// Stats returns post's statistics from PostgreSQL.
func (s *Service) Stats(ctx context.Context, post int64) (Stats, error) {
	rows, err := loadRows(ctx, s.db, []int64{post})
	if err != nil {
		return Stats{}, err
	}
	if len(rows) == 0 {
		return Stats{}, errNoPost
	}
	return rows[0].stats(), nil
}
