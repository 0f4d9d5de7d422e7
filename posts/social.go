package posts

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/store"
)

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

// ReactionKinds is the fixed set of reactions, each an emoji.
var ReactionKinds = map[string]string{
	"laugh": "😂",
	"rofl":  "🤣",
	"skull": "💀",
	"fire":  "🔥",
	"clap":  "👏",
	"eyes":  "👀",
}

// interactable loads a post that may receive comments and reactions: it
// exists, is visible and ready. It locks the post's row until tx ends, so
// the status checked is the one tx commits against: a plain read sees the
// post as it was when the statement began and lets a reaction through that
// commits just after a moderator's removal (whose UPDATE holds the row
// meanwhile). Locked, the read waits for that transaction and then
// re-reads the row as it left it. A cull holds no row (it records its
// victims elsewhere); its lock is taken first instead. FOR NO KEY UPDATE, not FOR SHARE: the
// counting trigger then updates the row, and two transactions each holding
// a share lock would deadlock upgrading it.
func (s *Service) interactable(ctx context.Context, tx pgx.Tx, id int64) (author int64, err error) {
	// The cull does not lock its victims' rows: its lock, shared, keeps a
	// reaction from checking a post before a cull's commit and landing
	// after it (see store.HoldReadyPosts).
	if err := store.HoldReadyPosts(ctx, tx); err != nil {
		return 0, err
	}
	var status string
	err = tx.QueryRow(ctx, `SELECT p.author_id, `+store.Status("p")+` FROM posts p WHERE p.id = $1 FOR NO KEY UPDATE OF p`, id).Scan(&author, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errNoPost
	} else if err != nil {
		return 0, err
	}
	if status != jokster.PostReady {
		if hidden(status) {
			return 0, errNoPost
		}
		return 0, jokster.Errorf(jokster.ECONFLICT, "this post was %s: it takes no more comments or reactions", status)
	}
	return author, nil
}

// addCommentSQL checks the ban and the post, inserts the comment and the
// author's notification, and reads what the answer shows, in one statement:
// one round trip, atomic without an explicit transaction. That matters
// because a comment's live delivery waits for it. b always has one row, so
// a refused comment still answers with why. p locks the post's row, for
// the reason interactable does: the status checked must be the one the
// comment commits against, not the one the statement's snapshot saw
// before a removal committed (a cull's commit is kept out by its lock,
// taken before the statement: see AddComment). The lock also lets the statement say
// what the comment leaves the post's comment count and comments version at
// (p's plus one, for the live message): the counting trigger runs as the
// statement ends, too late for the statement to read its result, and
// nothing else can change them in between.
// $1 post, $2 commenter, $3 body, $4 notification kind.
var addCommentSQL = `WITH b AS (SELECT max(until) AS until FROM bans WHERE user_id = $2 AND until > now()),
	p AS (SELECT pp.author_id, ` + store.Status("pp") + ` AS status, pp.comment_count, pp.comments_version
		FROM posts pp WHERE pp.id = $1 FOR NO KEY UPDATE OF pp),
	ok AS (SELECT p.author_id FROM p, b WHERE p.status = 'ready' AND b.until IS NULL),
	c AS (INSERT INTO comments (post_id, author_id, body) SELECT $1, $2, $3 FROM ok RETURNING id, created_at),
	n AS (INSERT INTO notifications (user_id, kind, actor_id, data)
		SELECT ok.author_id, $4, $2, jsonb_build_object('post_id', $1::bigint::text, 'comment_id', c.id::text)
		FROM ok, c WHERE ok.author_id <> $2 RETURNING id, created_at)
SELECT b.until, p.author_id, p.status, c.id, c.created_at, u.username, pr.display_name, pr.photo, n.id, n.created_at,
	p.comment_count + 1, p.comments_version + 1
FROM b LEFT JOIN p ON true LEFT JOIN c ON true LEFT JOIN n ON true
	LEFT JOIN users u ON u.id = $2 LEFT JOIN profiles pr ON pr.user_id = $2`

// AddComment adds a comment and notifies the post's author.
func (s *Service) AddComment(ctx context.Context, postID, user int64, body string) (jokster.Comment, error) {
	body, msg := checkText(body, s.set.MaxComment)
	if msg == "" && body == "" {
		msg = "required"
	}
	if msg != "" {
		if err := s.CheckBan(ctx, user); err != nil {
			return jokster.Comment{}, err
		}
		return jokster.Comment{}, jokster.Invalid(map[string]string{"body": msg})
	}
	var (
		banned           *time.Time
		author, noteID   *int64
		status           *string
		id               *int64
		created, noteAt  *time.Time
		name, disp, phot *string
		count            *int
		version          *int64
	)
	// A transaction, for the cull's lock (shared) before the statement:
	// see interactable.
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := store.HoldReadyPosts(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, addCommentSQL, postID, user, body, jokster.NotifyCommented).
			Scan(&banned, &author, &status, &id, &created, &name, &disp, &phot, &noteID, &noteAt, &count, &version)
	})
	switch {
	case err != nil:
		return jokster.Comment{}, err
	case banned != nil:
		return jokster.Comment{}, jokster.Errorf(jokster.EFORBIDDEN, "you are banned from posting until %s", banned.UTC().Format(time.RFC3339))
	case author == nil || hidden(*status):
		return jokster.Comment{}, errNoPost
	case *status != jokster.PostReady:
		return jokster.Comment{}, jokster.Errorf(jokster.ECONFLICT, "this post was %s: it takes no more comments or reactions", *status)
	case id == nil || name == nil || disp == nil || phot == nil:
		return jokster.Comment{}, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	}
	c := jokster.Comment{ID: *id, PostID: postID, AuthorID: user, Author: *name, AuthorName: *disp,
		AuthorPhoto: mediaURL(*phot), Body: body, CreatedAt: *created}
	if noteID != nil {
		s.notify.Announce(ctx, jokster.Notification{ID: *noteID, UserID: *author, Kind: jokster.NotifyCommented, Actor: *name,
			Data: map[string]any{"post_id": formatInt(postID), "comment_id": formatInt(c.ID)}, CreatedAt: *noteAt})
	}
	s.live.CommentAdded(ctx, c, *version, *count)
	return c, nil
}

// Comments lists a visible post's comments, oldest first.
func (s *Service) Comments(ctx context.Context, postID, viewer int64, cursor string, limit int) (jokster.Page[jokster.Comment], error) {
	var pg jokster.Page[jokster.Comment]
	if _, err := s.Get(ctx, postID, viewer); err != nil {
		return pg, err
	}
	after := int64(0)
	if cursor != "" {
		var err error
		if after, err = decodeCursor(cursor); err != nil {
			return pg, err
		}
	}
	rows, err := s.db.Query(ctx, `SELECT c.id, c.post_id, c.author_id, u.username, p.display_name, p.photo, c.body, c.created_at
		FROM comments c JOIN users u ON u.id = c.author_id JOIN profiles p ON p.user_id = c.author_id
		WHERE c.post_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`, postID, after, limit+1)
	if err != nil {
		return pg, err
	}
	pg.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Comment, error) {
		var c jokster.Comment
		var photo string
		err := r.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Author, &c.AuthorName, &photo, &c.Body, &c.CreatedAt)
		c.AuthorPhoto = mediaURL(photo)
		return c, err
	})
	if err != nil {
		return pg, err
	}
	if len(pg.Items) > limit {
		pg.Items = pg.Items[:limit]
		pg.NextCursor = encodeCursor(pg.Items[limit-1].ID)
	}
	return pg, nil
}

// commentCount reads a post's comment count with the version it is at.
// Read in the transaction that changed it, it is exactly what that commits:
// the counting trigger's UPDATE holds the post's row until then.
func commentCount(ctx context.Context, tx pgx.Tx, id int64) (count int, version int64, err error) {
	err = tx.QueryRow(ctx, `SELECT comment_count, comments_version FROM posts WHERE id = $1`, id).Scan(&count, &version)
	return count, version, err
}

// DeleteComment deletes a comment; its author or an admin may. A comment
// deleted meanwhile by someone else is gone all the same: no error, and
// only the deletion that happened is announced.
func (s *Service) DeleteComment(ctx context.Context, postID, commentID, user int64) error {
	var author int64
	err := s.db.QueryRow(ctx, `SELECT author_id FROM comments WHERE id = $1 AND post_id = $2`, commentID, postID).Scan(&author)
	if errors.Is(err, pgx.ErrNoRows) {
		return jokster.Errorf(jokster.ENOTFOUND, "no such comment")
	} else if err != nil {
		return err
	}
	if author != user {
		admin, err := s.IsAdmin(ctx, user)
		if err != nil {
			return err
		}
		if !admin {
			return jokster.Errorf(jokster.EFORBIDDEN, "only the comment's author or an admin can delete it")
		}
	}
	var count int
	var version int64
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		t, err := tx.Exec(ctx, `DELETE FROM comments WHERE id = $1`, commentID)
		if err != nil || t.RowsAffected() == 0 {
			return err
		}
		count, version, err = commentCount(ctx, tx, postID)
		return err
	})
	if err != nil {
		return err
	}
	if version != 0 {
		s.live.CommentDeleted(ctx, postID, commentID, version, count)
	}
	return nil
}

func checkKind(kind string) error {
	if _, ok := ReactionKinds[kind]; !ok {
		return jokster.Invalid(map[string]string{"kind": "one of laugh, rofl, skull, fire, clap, eyes"})
	}
	return nil
}

// reactionCounts reads a post's reaction counts with the version they are
// at. Read in the transaction that changed them, under interactable's lock,
// they are exactly what it commits: no other change can come between.
func reactionCounts(ctx context.Context, tx pgx.Tx, id int64) (counts map[string]int, version int64, err error) {
	err = tx.QueryRow(ctx, `SELECT reaction_counts, reactions_version FROM posts WHERE id = $1`, id).Scan(&counts, &version)
	return counts, version, err
}

// React adds the user's reaction of kind (once per kind; again is a no-op)
// and returns the post. The author hears about the first reaction of each
// person to each post, not about every tap.
func (s *Service) React(ctx context.Context, postID, user int64, kind string) (jokster.Post, error) {
	if err := checkKind(kind); err != nil {
		return jokster.Post{}, err
	}
	if err := s.CheckBan(ctx, user); err != nil {
		return jokster.Post{}, err
	}
	var notes []jokster.Notification
	var counts map[string]int
	var version int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		author, err := s.interactable(ctx, tx, postID)
		if err != nil {
			return err
		}
		t, err := tx.Exec(ctx, `INSERT INTO reactions (post_id, user_id, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, postID, user, kind)
		if err != nil || t.RowsAffected() == 0 {
			return err
		}
		if counts, version, err = reactionCounts(ctx, tx, postID); err != nil || author == user {
			return err
		}
		var told bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE user_id = $1 AND kind = 'reacted' AND actor_id = $2 AND data ->> 'post_id' = $3)`,
			author, user, formatInt(postID)).Scan(&told); err != nil || told {
			return err
		}
		n, err := notifications.Add(ctx, tx, author, jokster.NotifyReacted, user, map[string]any{"post_id": formatInt(postID), "reaction": kind})
		notes = append(notes, n)
		return err
	})
	if err != nil {
		return jokster.Post{}, err
	}
	s.notify.Announce(ctx, notes...)
	if version != 0 {
		s.live.ReactionsChanged(ctx, postID, version, counts)
	}
	return s.Get(ctx, postID, user)
}

// Unreact withdraws the user's reaction of kind (absent is a no-op). A
// post that takes no reactions keeps the ones it has: withdrawing one
// answers as reacting does.
func (s *Service) Unreact(ctx context.Context, postID, user int64, kind string) (jokster.Post, error) {
	if err := checkKind(kind); err != nil {
		return jokster.Post{}, err
	}
	var counts map[string]int
	var version int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := s.interactable(ctx, tx, postID); err != nil {
			return err
		}
		t, err := tx.Exec(ctx, `DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND kind = $3`, postID, user, kind)
		if err != nil || t.RowsAffected() == 0 {
			return err
		}
		counts, version, err = reactionCounts(ctx, tx, postID)
		return err
	})
	if err != nil {
		return jokster.Post{}, err
	}
	if version != 0 {
		s.live.ReactionsChanged(ctx, postID, version, counts)
	}
	return s.Get(ctx, postID, user)
}
