// Package profiles provides the public side of accounts: profiles with
// their photo, and who follows whom.
package profiles

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/text/language"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/media"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/store"
)

// Settings bound profile photos.
type Settings struct {
	MediaRoot  string
	PhotoLimit media.Limits
	PhotoSize  int
}

// Service implements profile reads and updates and follows.
type Service struct {
	db     *pgxpool.Pool
	notify *notifications.Service
	set    Settings
}

// New returns a Service.
func New(db *pgxpool.Pool, notify *notifications.Service, set Settings) *Service {
	return &Service{db: db, notify: notify, set: set}
}

// selectProfile reads a profile; $1 is the viewer (0: anonymous), which
// fills FollowedByMe.
const selectProfile = `SELECT u.id, u.username, p.display_name, p.about, p.country, p.city, p.photo,
	p.followers_count, p.following_count, u.created_at,
	CASE WHEN $1::bigint = 0 THEN NULL ELSE EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id) END
	FROM users u JOIN profiles p ON p.user_id = u.id `

func scanProfile(r pgx.Row) (jokster.Profile, error) {
	var p jokster.Profile
	var photo string
	err := r.Scan(&p.UserID, &p.Username, &p.DisplayName, &p.About, &p.Country, &p.City, &photo,
		&p.Followers, &p.Following, &p.CreatedAt, &p.FollowedByMe)
	if photo != "" {
		p.PhotoURL = "/media/" + photo
	}
	return p, err
}

var errNoProfile = jokster.Errorf(jokster.ENOTFOUND, "no such user")

// Get returns the profile of username as seen by viewer (0: anonymous).
func (s *Service) Get(ctx context.Context, username string, viewer int64) (jokster.Profile, error) {
	p, err := scanProfile(s.db.QueryRow(ctx, selectProfile+`WHERE lower(u.username) = lower($2)`, viewer, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, errNoProfile
	}
	return p, err
}

// ByID returns the profile of user id as seen by viewer.
func (s *Service) ByID(ctx context.Context, id, viewer int64) (jokster.Profile, error) {
	p, err := scanProfile(s.db.QueryRow(ctx, selectProfile+`WHERE u.id = $2`, viewer, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, errNoProfile
	}
	return p, err
}

// List returns profiles in username order, optionally those whose username
// or display name starts with q.
func (s *Service) List(ctx context.Context, q, cursor string, limit int, viewer int64) (jokster.Page[jokster.Profile], error) {
	var page jokster.Page[jokster.Profile]
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) == 0 {
			return page, badCursor
		}
		after = string(b)
	}
	q = strings.ToLower(strings.TrimSpace(q))
	if len(q) > 50 {
		return page, jokster.Invalid(map[string]string{"q": "at most 50 characters"})
	}
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	rows, err := s.db.Query(ctx, selectProfile+`WHERE lower(u.username) > $2
		AND ($3 = '%' OR lower(u.username) LIKE $3 OR lower(p.display_name) LIKE $3)
		ORDER BY lower(u.username) LIMIT $4`, viewer, after, like, limit+1)
	if err != nil {
		return page, err
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Profile, error) { return scanProfile(r) })
	if err != nil {
		return page, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(page.Items[limit-1].Username)))
	}
	return page, nil
}

var badCursor = jokster.Invalid(map[string]string{"cursor": "not a cursor this list gave out"})

// Update is a partial profile change: nil fields stay as they are.
type Update struct {
	DisplayName *string
	About       *string
	Country     *string
	City        *string
}

func checkText(fields map[string]string, name string, v *string, maxLen int) {
	if v == nil {
		return
	}
	var why string
	if *v, why = jokster.CleanText(*v, maxLen); why != "" {
		fields[name] = why
	}
}

// Update changes the profile of user id.
func (s *Service) Update(ctx context.Context, id int64, in Update) (jokster.Profile, error) {
	fields := map[string]string{}
	checkText(fields, "display_name", in.DisplayName, 50)
	checkText(fields, "about", in.About, 500)
	checkText(fields, "city", in.City, 100)
	if in.DisplayName != nil && strings.Contains(*in.DisplayName, "\n") {
		fields["display_name"] = "one line only"
	} else if in.DisplayName != nil && *in.DisplayName == "" {
		fields["display_name"] = "1 to 50 characters"
	}
	if in.City != nil && strings.Contains(*in.City, "\n") {
		fields["city"] = "one line only"
	}
	if in.Country != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Country))
		if c != "" {
			r, err := language.ParseRegion(c)
			if err != nil || len(c) != 2 || !r.IsCountry() || r.String() != c {
				fields["country"] = "an ISO 3166-1 alpha-2 country code such as DE or BR, or empty"
			}
		}
		in.Country = &c
	}
	if len(fields) > 0 {
		return jokster.Profile{}, jokster.Invalid(fields)
	}
	_, err := s.db.Exec(ctx, `UPDATE profiles SET
		display_name = coalesce($2, display_name), about = coalesce($3, about),
		country = coalesce($4, country), city = coalesce($5, city), updated_at = now()
		WHERE user_id = $1`, id, in.DisplayName, in.About, in.Country, in.City)
	if err != nil {
		return jokster.Profile{}, err
	}
	return s.ByID(ctx, id, id)
}

// StorePhoto validates, re-encodes and stores a photo without giving it
// to anyone yet: a request whose photo is followed by something wrong changes no
// profile (RemovePhotoFile drops the file again).
func (s *Service) StorePhoto(r io.Reader) (string, error) {
	img, err := media.ProcessPhoto(r, s.set.PhotoLimit, s.set.PhotoSize)
	if err != nil {
		return "", err
	}
	return media.Store(s.set.MediaRoot, "avatars", img, "jpg")
}

// UsePhoto makes a stored photo (StorePhoto) user id's profile photo.
func (s *Service) UsePhoto(ctx context.Context, id int64, rel string) (jokster.Profile, error) {
	if err := s.replacePhoto(ctx, id, rel); err != nil {
		return jokster.Profile{}, err
	}
	return s.ByID(ctx, id, id)
}

// DeletePhoto removes the profile photo.
func (s *Service) DeletePhoto(ctx context.Context, id int64) (jokster.Profile, error) {
	if err := s.replacePhoto(ctx, id, ""); err != nil {
		return jokster.Profile{}, err
	}
	return s.ByID(ctx, id, id)
}

func (s *Service) replacePhoto(ctx context.Context, id int64, rel string) error {
	var old string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if rel != "" {
			// Files are named by content: the one this photo found stored
			// may have been another profile's, let go of a moment ago.
			// Under the deleters' lock it is either still there, and stays,
			// or gone.
			if err := store.HoldMediaFile(ctx, tx, s.set.MediaRoot, rel); err != nil {
				return fmt.Errorf("profiles: the photo cannot be set (send it again): %w", err)
			}
		}
		return tx.QueryRow(ctx, `WITH o AS (SELECT photo FROM profiles WHERE user_id = $1 FOR UPDATE)
			UPDATE profiles p SET photo = $2, updated_at = now() FROM o WHERE p.user_id = $1 RETURNING o.photo`, id, rel).Scan(&old)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoProfile
	} else if err != nil {
		return err
	}
	if old != "" && old != rel {
		s.RemovePhotoFile(ctx, old)
	}
	return nil
}

// RemovePhotoFile deletes a photo file unless another profile still uses it
// (files are content-addressed, so two people may share one).
func (s *Service) RemovePhotoFile(ctx context.Context, rel string) {
	if rel == "" {
		return
	}
	// Under the lock that a profile taking the file into use holds too.
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := store.LockMediaPath(ctx, tx, rel); err != nil {
			return err
		}
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM profiles WHERE photo = $1 AND photo <> '')`, rel).Scan(&used); err != nil || used {
			return err
		}
		return media.Remove(s.set.MediaRoot, rel)
	})
	if err != nil {
		slog.Warn("could not remove an unused photo", "file", rel, "err", err)
	}
}

// Follow makes follower follow username and notifies them; following
// someone twice is not an error. It returns the followee's profile.
func (s *Service) Follow(ctx context.Context, follower int64, username string) (jokster.Profile, error) {
	target, err := s.Get(ctx, username, follower)
	if err != nil {
		return target, err
	}
	if target.UserID == follower {
		return target, jokster.Errorf(jokster.EINVALID, "you cannot follow yourself")
	}
	var n *jokster.Notification
	err = store.Retry(func() error {
		n = nil
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			t, err := tx.Exec(ctx, `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, follower, target.UserID)
			if store.IsForeignKeyViolation(err) {
				// Either account went meanwhile: the caller's (its token
				// outlived it) or the one to follow.
				var self bool
				if qerr := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, follower).Scan(&self); qerr == nil && self {
					return jokster.Errorf(jokster.ENOTFOUND, "no such user")
				}
				return jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
			}
			if err != nil || t.RowsAffected() == 0 {
				return err
			}
			// One "new follower" per person a day, however often they unfollow
			// and follow again.
			var recent bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE user_id = $1 AND kind = $2 AND actor_id = $3 AND created_at > $4)`,
				target.UserID, jokster.NotifyFollowed, follower, time.Now().Add(-24*time.Hour)).Scan(&recent); err != nil || recent {
				return err
			}
			note, err := notifications.Add(ctx, tx, target.UserID, jokster.NotifyFollowed, follower, nil)
			n = &note
			return err
		})
	})
	if err != nil {
		return target, err
	}
	if n != nil {
		s.notify.Announce(ctx, *n)
	}
	return s.ByID(ctx, target.UserID, follower)
}

// Unfollow stops follower following username; not following is not an error.
func (s *Service) Unfollow(ctx context.Context, follower int64, username string) (jokster.Profile, error) {
	target, err := s.Get(ctx, username, follower)
	if err != nil {
		return target, err
	}
	if target.UserID == follower {
		return target, jokster.Errorf(jokster.EINVALID, "you cannot unfollow yourself")
	}
	if err := store.Retry(func() error {
		_, err := s.db.Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, follower, target.UserID)
		return err
	}); err != nil {
		return target, err
	}
	return s.ByID(ctx, target.UserID, follower)
}

// Followers lists who follows username, most recent first.
func (s *Service) Followers(ctx context.Context, username, cursor string, limit int, viewer int64) (jokster.Page[jokster.Profile], error) {
	return s.follows(ctx, username, cursor, limit, viewer, "followee_id", "follower_id")
}

// Following lists whom username follows, most recent first.
func (s *Service) Following(ctx context.Context, username, cursor string, limit int, viewer int64) (jokster.Page[jokster.Profile], error) {
	return s.follows(ctx, username, cursor, limit, viewer, "follower_id", "followee_id")
}

func (s *Service) follows(ctx context.Context, username, cursor string, limit int, viewer int64, by, show string) (jokster.Page[jokster.Profile], error) {
	var page jokster.Page[jokster.Profile]
	target, err := s.Get(ctx, username, 0)
	if err != nil {
		return page, err
	}
	at, after, err := decodeFollowCursor(cursor)
	if err != nil {
		return page, err
	}
	rows, err := s.db.Query(ctx, `SELECT f.created_at, p.* FROM follows f, LATERAL (`+selectProfile+` WHERE u.id = f.`+show+`) p
		WHERE f.`+by+` = $2 AND (f.created_at, f.`+show+`) < ($3, $4)
		ORDER BY f.created_at DESC, f.`+show+` DESC LIMIT $5`, viewer, target.UserID, at, after, limit+1)
	if err != nil {
		return page, err
	}
	var times []time.Time
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (jokster.Profile, error) {
		var p jokster.Profile
		var t time.Time
		var photo string
		err := r.Scan(&t, &p.UserID, &p.Username, &p.DisplayName, &p.About, &p.Country, &p.City, &photo,
			&p.Followers, &p.Following, &p.CreatedAt, &p.FollowedByMe)
		if photo != "" {
			p.PhotoURL = "/media/" + photo
		}
		times = append(times, t)
		return p, err
	})
	if err != nil {
		return page, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeFollowCursor(times[limit-1], page.Items[limit-1].UserID)
	}
	return page, nil
}

func encodeFollowCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)))
}

func decodeFollowCursor(c string) (time.Time, int64, error) {
	if c == "" {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, badCursor
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, badCursor
	}
	return time.UnixMicro(us), n, nil
}
