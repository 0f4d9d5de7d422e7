// Package posts provides posts and what hangs off them: upload and media
// processing, lists and feeds, comments, reactions and moderation.
package posts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/media"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/store"
)

// Queue schedules the background work of posts; the worker package
// implements it with asynq. Errors are not fatal: the work is recorded in
// PostgreSQL and re-enqueued by the periodic job.
type Queue interface {
	EnqueueProcess(ctx context.Context, postID int64) error
	EnqueueCollect(ctx context.Context, path string) error
}

// Ranker keeps the boards; it is told after every commit that may move a
// post on or off them. The ranking package implements it.
type Ranker interface {
	PostChanged(ctx context.Context, id int64)
	// Unlist takes many posts that are no longer ready (or gone) off the
	// boards at once.
	Unlist(ctx context.Context, ids []int64) (int, error)
}

// Announcer hears about committed changes worth showing live; the
// realtime package implements it.
type Announcer interface {
	PostReady(ctx context.Context, p jokster.Post)
	// PostGone: the post was deleted, removed or culled; version is its
	// rank version after the change (0 when it has none: deleted).
	PostGone(ctx context.Context, id int64, status string, version int64)
	// CommentAdded and CommentDeleted have the post's comment count as the
	// change left it, with the post's comments version after it, for the
	// reason ReactionsChanged has its version: listeners holding a count
	// (read with the post, or heard) tell by it whether the change is
	// already in it, and which of two counts is the newer.
	CommentAdded(ctx context.Context, c jokster.Comment, version int64, count int)
	CommentDeleted(ctx context.Context, post, comment, version int64, count int)
	// ReactionsChanged has the post's reaction counts as a change left
	// them, with the post's reactions version after it: concurrent changes
	// are announced in no particular order, and the version, which every
	// change raises, tells listeners which counts are the newer.
	ReactionsChanged(ctx context.Context, post, version int64, counts map[string]int)
}

type nopAnnouncer struct{}

func (nopAnnouncer) PostReady(context.Context, jokster.Post)                        {}
func (nopAnnouncer) PostGone(context.Context, int64, string, int64)                 {}
func (nopAnnouncer) CommentAdded(context.Context, jokster.Comment, int64, int)      {}
func (nopAnnouncer) CommentDeleted(context.Context, int64, int64, int64, int)       {}
func (nopAnnouncer) ReactionsChanged(context.Context, int64, int64, map[string]int) {}

type noRanker struct{}

func (noRanker) PostChanged(context.Context, int64)           {}
func (noRanker) Unlist(context.Context, []int64) (int, error) { return 0, nil }

// Settings are the posts policy knobs.
type Settings struct {
	MediaRoot  string
	Limits     media.UploadLimits
	Tools      media.Tools
	MaxCaption int // characters
	MaxComment int // characters
}

// Service implements posts.
type Service struct {
	db     *pgxpool.Pool
	queue  Queue
	notify *notifications.Service
	set    Settings
	rank   Ranker
	live   Announcer
}

// SetRanker connects the boards (set once at start-up).
func (s *Service) SetRanker(r Ranker) { s.rank = r }

// SetAnnouncer connects live updates (set once at start-up).
func (s *Service) SetAnnouncer(a Announcer) { s.live = a }

// announceReady tells live watchers about a post that just went up.
func (s *Service) announceReady(ctx context.Context, id int64) {
	if p, err := s.Get(ctx, id, 0); err == nil && p.Status == jokster.PostReady {
		s.live.PostReady(ctx, p)
	}
}

// New returns a Service.
func New(db *pgxpool.Pool, queue Queue, notify *notifications.Service, set Settings) *Service {
	if set.MaxCaption == 0 {
		set.MaxCaption = 500
	}
	if set.MaxComment == 0 {
		set.MaxComment = 1000
	}
	return &Service{db: db, queue: queue, notify: notify, set: set, rank: noRanker{}, live: nopAnnouncer{}}
}

// Settings returns the service's settings.
func (s *Service) Settings() Settings { return s.set }

var errNoPost = jokster.Errorf(jokster.ENOTFOUND, "no such post")

// checkText cleans and checks user text (see jokster.CleanText).
func checkText(s string, max int) (string, string) { return jokster.CleanText(s, max) }

// CheckBan returns EFORBIDDEN if user is banned now.
func (s *Service) CheckBan(ctx context.Context, user int64) error {
	var until time.Time
	err := s.db.QueryRow(ctx, `SELECT until FROM bans WHERE user_id = $1 AND until > now()`, user).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	return jokster.Errorf(jokster.EFORBIDDEN, "you are banned from posting until %s", until.UTC().Format(time.RFC3339))
}

// IsAdmin reads the admin flag from the database (not the token, which
// may be minutes old).
func (s *Service) IsAdmin(ctx context.Context, user int64) (bool, error) {
	var admin bool
	err := s.db.QueryRow(ctx, `SELECT is_admin FROM users WHERE id = $1`, user).Scan(&admin)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	}
	return admin, err
}

// Ingest stores an uploaded file (streamed, never held in memory whole)
// after checking its type and limits.
func (s *Service) Ingest(ctx context.Context, r io.Reader) (media.Upload, error) {
	return media.IngestGuarded(ctx, s.set.MediaRoot, r, s.set.Limits, s.set.Tools, s.keepFile(ctx))
}

// keepFile is the guard under which a file is stored or found stored: it
// holds the collectors' lock on the path (see Collect) and takes the path
// out of their queue, so a file that a deleted post left queued is not
// collected while the new post that reuses it is still on its way (its
// caption may still be arriving). If that post never comes, Discard queues
// the file again.
func (s *Service) keepFile(ctx context.Context) media.Guard {
	return func(path string, place func() error) error {
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if err := store.LockMediaPath(ctx, tx, path); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM media_garbage WHERE path = $1`, path); err != nil {
				return err
			}
			// Claimed until the post is saved (see 00011_media_claims.sql).
			if _, err := tx.Exec(ctx, `INSERT INTO media_claims (path, until) VALUES ($1, now() + $2::interval)
				ON CONFLICT (path) DO UPDATE SET until = greatest(media_claims.until, EXCLUDED.until)`, path, claimFor.String()); err != nil {
				return err
			}
			return place()
		})
	}
}

// claimFor is how long an upload's file is kept for the post to come: an
// upload request lasts at most a minute (the server's read timeout).
const claimFor = 10 * time.Minute

// Discard queues an ingested file that no post will use for collection.
func (s *Service) Discard(ctx context.Context, u *media.Upload) {
	if u == nil || u.Path == "" {
		return
	}
	if _, err := s.db.Exec(ctx, `WITH c AS (DELETE FROM media_claims WHERE path = $1)
		INSERT INTO media_garbage (path) VALUES ($1) ON CONFLICT DO NOTHING`, u.Path); err != nil {
		slog.Warn("posts: could not queue an unused upload for collection", "path", u.Path, "err", err)
		return
	}
	if err := s.queue.EnqueueCollect(ctx, u.Path); err != nil {
		slog.Warn("posts: enqueue collect", "path", u.Path, "err", err)
	}
}

// CreateInput is a new post: a caption, tags and an optional ingested file.
type CreateInput struct {
	Caption string
	Tags    []string
	Upload  *media.Upload
}

// Create records a post. A post with a file starts `processing` and a task
// makes its renditions; a caption-only post is `ready` at once. If Create
// fails, the upload is discarded.
func (s *Service) Create(ctx context.Context, author int64, in CreateInput) (jokster.Post, error) {
	p, err := s.create(ctx, author, in)
	if err != nil {
		s.Discard(ctx, in.Upload)
	}
	return p, err
}

func (s *Service) create(ctx context.Context, author int64, in CreateInput) (jokster.Post, error) {
	if err := s.CheckBan(ctx, author); err != nil {
		return jokster.Post{}, err
	}
	fields := map[string]string{}
	caption, msg := checkText(in.Caption, s.set.MaxCaption)
	if msg != "" {
		fields["caption"] = msg
	}
	tags, msg := NormalizeTags(in.Tags)
	if msg != "" {
		fields["tags"] = msg
	}
	if in.Upload == nil && caption == "" {
		fields["media"] = "send a file, a caption, or both"
	}
	if len(fields) > 0 {
		return jokster.Post{}, jokster.Invalid(fields)
	}
	kind, status := jokster.KindText, jokster.PostReady
	u := media.Upload{}
	if in.Upload != nil {
		u = *in.Upload
		kind, status = u.Kind, jokster.PostProcessing
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO posts (author_id, caption, kind, status, format, original, width, height, duration_ms, size_bytes)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, 0), nullif($8, 0), nullif($9, 0), nullif($10, 0)) RETURNING id`,
			author, caption, kind, status, u.Format, u.Path, u.Width, u.Height, u.DurationMS, u.Size).Scan(&id)
		if err != nil {
			return err
		}
		if u.Path != "" {
			// The file is in use again if it was waiting for collection. It
			// was there when it arrived; if a post that had the same bytes
			// was deleted since and a collector took them meanwhile, the
			// file is gone, and the post cannot be made from it.
			if err := store.HoldMediaFile(ctx, tx, s.set.MediaRoot, u.Path); err != nil {
				return fmt.Errorf("posts: the upload cannot be saved (send it again): %w", err)
			}
			if _, err := tx.Exec(ctx, `WITH c AS (DELETE FROM media_claims WHERE path = $1) DELETE FROM media_garbage WHERE path = $1`, u.Path); err != nil {
				return err
			}
		}
		return setTags(ctx, tx, id, tags)
	})
	if err != nil {
		return jokster.Post{}, err
	}
	if status == jokster.PostProcessing {
		if err := s.queue.EnqueueProcess(ctx, id); err != nil {
			slog.Warn("posts: enqueue processing failed; the re-enqueue job will retry", "post", id, "err", err)
		}
	} else {
		s.rank.PostChanged(ctx, id)
		s.announceReady(ctx, id)
	}
	slog.Info("post created", "post", id, "author", author, "kind", kind, "status", status)
	return s.Get(ctx, id, author)
}

func setTags(ctx context.Context, tx pgx.Tx, id int64, tags []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM post_tags WHERE post_id = $1`, id); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO post_tags (post_id, tag) SELECT $1, unnest($2::text[])`, id, tags)
	return err
}

// selectPost reads posts as seen by viewer $1 (0: anonymous).
var selectPost = `SELECT p.id, p.author_id, u.username, pr.display_name, pr.photo, p.caption,
	coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM post_tags t WHERE t.post_id = p.id), '{}'),
	p.kind, ` + store.Status("p") + `, p.failure, p.format, p.display, p.thumb, p.poster,
	coalesce(p.width, 0), coalesce(p.height, 0), coalesce(p.duration_ms, 0), coalesce(p.duplicate_of, 0),
	p.comment_count, p.reaction_counts,
	coalesce((SELECT array_agg(r.kind ORDER BY r.kind) FROM reactions r WHERE r.post_id = p.id AND r.user_id = $1), '{}'),
	p.created_at, p.updated_at, p.removed_at, p.removal_reason,
	p.h1, p.h2, p.h3, p.h4, p.h5, coalesce(p.score_top, 0), coalesce(p.score_hot, 0), ` + store.Version("p") + `, p.reactions_version, p.comments_version,
	coalesce((SELECT stars FROM ratings r WHERE r.post_id = p.id AND r.user_id = $1), 0)
	FROM posts p JOIN users u ON u.id = p.author_id JOIN profiles pr ON pr.user_id = p.author_id `

func mediaURL(rel string) string {
	if rel == "" {
		return ""
	}
	return "/media/" + rel
}

func scanPost(r pgx.Row) (jokster.Post, error) {
	var p jokster.Post
	var photo, display, thumb, poster string
	err := r.Scan(&p.ID, &p.AuthorID, &p.Author, &p.AuthorName, &photo, &p.Caption, &p.Tags,
		&p.Kind, &p.Status, &p.Failure, &p.Format, &display, &thumb, &poster,
		&p.Width, &p.Height, &p.DurationMS, &p.DuplicateOf, &p.CommentCount, &p.Reactions, &p.MyReactions,
		&p.CreatedAt, &p.UpdatedAt, &p.RemovedAt, &p.RemovalReason,
		&p.Histogram[0], &p.Histogram[1], &p.Histogram[2], &p.Histogram[3], &p.Histogram[4], &p.ScoreTop, &p.ScoreHot, &p.StatsVersion, &p.ReactionsVersion, &p.CommentsVersion, &p.MyRating)
	p.AuthorPhoto = mediaURL(photo)
	p.MediaURL, p.ThumbURL, p.PosterURL = mediaURL(display), mediaURL(thumb), mediaURL(poster)
	return p, err
}

// hidden says whether posts of status exist only for their author and the
// admins: to anyone else every request about one answers as if it did not
// exist, so that none gives away that it does.
func hidden(status string) bool {
	return status == jokster.PostProcessing || status == jokster.PostFailed
}

// Get returns post id as seen by viewer. Posts still processing or failed
// are visible only to their author and admins.
func (s *Service) Get(ctx context.Context, id, viewer int64) (jokster.Post, error) {
	p, err := scanPost(s.db.QueryRow(ctx, selectPost+`WHERE p.id = $2`, viewer, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, errNoPost
	} else if err != nil {
		return p, err
	}
	if hidden(p.Status) {
		if p.AuthorID != viewer {
			if admin, _ := s.IsAdmin(ctx, viewer); viewer == 0 || !admin {
				return jokster.Post{}, errNoPost
			}
		}
	} else {
		p.Failure = ""
	}
	if p.Status == jokster.PostRemoved && p.AuthorID != viewer {
		if admin, _ := s.IsAdmin(ctx, viewer); viewer == 0 || !admin {
			redact(&p)
		}
	}
	return p, nil
}

// redact keeps a removed post's words from everyone but its author and the
// admins: a moderator took it down for what it says or shows, and its
// files are deleted, so its caption and tags go too. The page still says
// that it was removed, when and why.
func redact(p *jokster.Post) {
	p.Caption, p.Tags = "", []string{}
}

// Update is a partial change of caption and tags.
type Update struct {
	Caption *string
	Tags    []string // nil: unchanged
}

// Update changes a post's caption or tags; only its author may. A post
// hidden from the caller (see hidden) is not found, as it is for Get.
func (s *Service) Update(ctx context.Context, id, user int64, in Update) (jokster.Post, error) {
	fields := map[string]string{}
	var caption *string
	if in.Caption != nil {
		c, msg := checkText(*in.Caption, s.set.MaxCaption)
		if msg != "" {
			fields["caption"] = msg
		}
		caption = &c
	}
	var tags []string
	if in.Tags != nil {
		var msg string
		if tags, msg = NormalizeTags(in.Tags); msg != "" {
			fields["tags"] = msg
		}
	}
	if len(fields) > 0 {
		return jokster.Post{}, jokster.Invalid(fields)
	}
	if err := s.CheckBan(ctx, user); err != nil {
		return jokster.Post{}, err
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Not while a cull commits: see store.HoldReadyPosts.
		if err := store.HoldReadyPosts(ctx, tx); err != nil {
			return err
		}
		var author int64
		var status, kind, current string
		err := tx.QueryRow(ctx, `SELECT p.author_id, `+store.Status("p")+`, p.kind, p.caption FROM posts p WHERE p.id = $1 FOR UPDATE OF p`, id).Scan(&author, &status, &kind, &current)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoPost
		} else if err != nil {
			return err
		}
		if author != user {
			if hidden(status) {
				// An admin sees the post, so may hear why the edit is refused.
				// Read through tx: a second connection taken while this one
				// holds the row lock could wait forever for a pool that the
				// requests queued on the lock have used up.
				var admin bool
				if err := tx.QueryRow(ctx, `SELECT is_admin FROM users WHERE id = $1`, user).Scan(&admin); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				} else if !admin {
					return errNoPost
				}
			}
			return jokster.Errorf(jokster.EFORBIDDEN, "only the author can edit a post")
		}
		if status == jokster.PostCulled || status == jokster.PostRemoved {
			return jokster.Errorf(jokster.ECONFLICT, "a %s post cannot be edited", status)
		}
		if caption != nil && *caption == "" && kind == jokster.KindText {
			return jokster.Invalid(map[string]string{"caption": "a text post needs its caption"})
		}
		if caption != nil {
			if _, err := tx.Exec(ctx, `UPDATE posts SET caption = $2, updated_at = now() WHERE id = $1`, id, *caption); err != nil {
				return err
			}
		}
		if tags != nil {
			if _, err := tx.Exec(ctx, `UPDATE posts SET updated_at = now() WHERE id = $1`, id); err != nil {
				return err
			}
			return setTags(ctx, tx, id, tags)
		}
		return nil
	})
	if err != nil {
		return jokster.Post{}, err
	}
	if tags != nil {
		s.rank.PostChanged(ctx, id)
	}
	return s.Get(ctx, id, user)
}

// Delete deletes a post; its author or an admin may. A post hidden from
// the caller (see hidden) is not found, as it is for Get. Its files are
// queued for collection by a trigger in the same transaction, which holds
// store.CullFloorLock shared (see HoldReadyPosts).
func (s *Service) Delete(ctx context.Context, id, user int64) error {
	var author int64
	var status string
	err := s.db.QueryRow(ctx, `SELECT p.author_id, `+store.Status("p")+` FROM posts p WHERE p.id = $1`, id).Scan(&author, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoPost
	} else if err != nil {
		return err
	}
	if author != user {
		admin, err := s.IsAdmin(ctx, user)
		if err != nil {
			return err
		}
		if !admin {
			if hidden(status) {
				return errNoPost
			}
			return jokster.Errorf(jokster.EFORBIDDEN, "only the author or an admin can delete a post")
		}
	}
	// A ready post leaving must not commit between a cull's count and its
	// commit (the cull's floor): hold store.CullFloorLock shared, taken
	// before the DELETE locks the post's row (the documented lock order).
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := store.HoldReadyPosts(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM posts WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	slog.Info("post deleted", "post", id, "by", user)
	s.rank.PostChanged(ctx, id)
	s.live.PostGone(ctx, id, "deleted", 0)
	s.collectSoon(ctx)
	return nil
}

// AccountDeleted is told the posts that an account's deletion took with it
// (the cascade, which tells no one): they leave the boards and the pages
// open on them, and their files are collected. If the boards cannot be
// told now, the ranking's reconcile loop finds the posts' tombstones.
func (s *Service) AccountDeleted(ctx context.Context, ids, rated []int64) {
	if len(ids)+len(rated) == 0 {
		return
	}
	// Unlist takes the deleted posts off and puts the rated ones, still
	// ready, where their scores without the account's ratings place them.
	if _, err := s.rank.Unlist(ctx, append(append([]int64{}, ids...), rated...)); err != nil {
		slog.Warn("posts: a deleted account's posts and ratings stay on the boards until the reconcile loop runs",
			"posts", len(ids), "rated", len(rated), "err", err)
	}
	for _, id := range ids {
		s.live.PostGone(ctx, id, "deleted", 0)
	}
	s.collectSoon(ctx)
}

// collectSoon enqueues collection of queued garbage files (best effort;
// the periodic job catches anything missed).
func (s *Service) collectSoon(ctx context.Context) {
	rows, err := s.db.Query(ctx, `SELECT path FROM media_garbage ORDER BY queued_at LIMIT 100`)
	if err != nil {
		return
	}
	paths, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, p := range paths {
		_ = s.queue.EnqueueCollect(ctx, p)
	}
}

// Rules are what a post may be on this server, for clients to check before
// they send a file (an upload refused after 50 MB is a poor way to learn
// that this server takes no videos).
type Rules struct {
	MaxBytes        int64    `json:"max_bytes"`
	MaxPixels       int64    `json:"max_pixels"`
	MaxGIFFrames    int      `json:"max_gif_frames"`
	Formats         []string `json:"formats"` // as sniffed: jpeg, png, gif, webp, and mp4, webm when Videos
	Videos          bool     `json:"videos"`  // false when ffmpeg is not installed
	MaxVideoSeconds float64  `json:"max_video_seconds"`
	MaxCaption      int      `json:"max_caption_chars"`
	MaxComment      int      `json:"max_comment_chars"`
	MaxTags         int      `json:"max_tags"`
	MaxTagLen       int      `json:"max_tag_chars"`
}

// Rules returns the server's rules for posts.
func (s *Service) Rules() Rules {
	r := Rules{MaxBytes: s.set.Limits.MaxBytes, MaxPixels: s.set.Limits.MaxPixels, MaxGIFFrames: s.set.Limits.MaxGIFFrames,
		Formats: []string{"jpeg", "png", "gif", "webp"}, Videos: s.set.Tools.CanVideo(),
		MaxCaption: s.set.MaxCaption, MaxComment: s.set.MaxComment, MaxTags: MaxTags, MaxTagLen: MaxTagLen}
	if r.Videos {
		r.Formats = append(r.Formats, "mp4", "webm")
		r.MaxVideoSeconds = s.set.Limits.MaxVideoSeconds
	}
	return r
}
