package posts

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/notifications"
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
// exists, is visible and ready.
func (s *Service) interactable(ctx context.Context, tx pgx.Tx, id int64) (author int64, err error) {
	var status string
	err = tx.QueryRow(ctx, `SELECT author_id, status FROM posts WHERE id = $1`, id).Scan(&author, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errNoPost
	} else if err != nil {
		return 0, err
	}
	if status != jokster.PostReady {
		if status == jokster.PostProcessing || status == jokster.PostFailed {
			return 0, errNoPost
		}
		return 0, jokster.Errorf(jokster.ECONFLICT, "this post was %s: it takes no more comments or reactions", status)
	}
	return author, nil
}

// AddComment adds a comment and notifies the post's author.
func (s *Service) AddComment(ctx context.Context, postID, user int64, body string) (jokster.Comment, error) {
	if err := s.CheckBan(ctx, user); err != nil {
		return jokster.Comment{}, err
	}
	body, msg := checkText(body, s.set.MaxComment)
	if msg == "" && body == "" {
		msg = "required"
	}
	if msg != "" {
		return jokster.Comment{}, jokster.Invalid(map[string]string{"body": msg})
	}
	var c jokster.Comment
	var notes []jokster.Notification
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		author, err := s.interactable(ctx, tx, postID)
		if err != nil {
			return err
		}
		var photo string
		err = tx.QueryRow(ctx, `WITH c AS (INSERT INTO comments (post_id, author_id, body) VALUES ($1, $2, $3) RETURNING id, created_at)
			SELECT c.id, c.created_at, u.username, p.display_name, p.photo FROM c, users u JOIN profiles p ON p.user_id = u.id WHERE u.id = $2`,
			postID, user, body).Scan(&c.ID, &c.CreatedAt, &c.Author, &c.AuthorName, &photo)
		c.AuthorPhoto = mediaURL(photo)
		if err != nil {
			return err
		}
		c.PostID, c.AuthorID, c.Body = postID, user, body
		if author != user {
			n, err := notifications.Add(ctx, tx, author, jokster.NotifyCommented, user,
				map[string]any{"post_id": formatInt(postID), "comment_id": formatInt(c.ID)})
			if err != nil {
				return err
			}
			notes = append(notes, n)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	s.notify.Announce(ctx, notes...)
	s.live.CommentAdded(ctx, c)
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

// DeleteComment deletes a comment; its author or an admin may.
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
	if _, err = s.db.Exec(ctx, `DELETE FROM comments WHERE id = $1`, commentID); err != nil {
		return err
	}
	s.live.CommentDeleted(ctx, postID, commentID)
	return nil
}

func checkKind(kind string) error {
	if _, ok := ReactionKinds[kind]; !ok {
		return jokster.Invalid(map[string]string{"kind": "one of laugh, rofl, skull, fire, clap, eyes"})
	}
	return nil
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
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		author, err := s.interactable(ctx, tx, postID)
		if err != nil {
			return err
		}
		t, err := tx.Exec(ctx, `INSERT INTO reactions (post_id, user_id, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, postID, user, kind)
		if err != nil || t.RowsAffected() == 0 || author == user {
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
	p, err := s.Get(ctx, postID, user)
	if err == nil {
		s.live.ReactionsChanged(ctx, postID, p.Reactions)
	}
	return p, err
}

// Unreact withdraws the user's reaction of kind (absent is a no-op).
func (s *Service) Unreact(ctx context.Context, postID, user int64, kind string) (jokster.Post, error) {
	if err := checkKind(kind); err != nil {
		return jokster.Post{}, err
	}
	if _, err := s.Get(ctx, postID, user); err != nil {
		return jokster.Post{}, err
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND kind = $3`, postID, user, kind); err != nil {
		return jokster.Post{}, err
	}
	p, err := s.Get(ctx, postID, user)
	if err == nil {
		s.live.ReactionsChanged(ctx, postID, p.Reactions)
	}
	return p, err
}
