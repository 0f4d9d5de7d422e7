package accounts

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster"
)

// exportSQL gathers everything stored about one user as one JSON document.
// Later features add their own sections here.
const exportSQL = `
SELECT jsonb_build_object(
  'exported_at', now(),
  'account', jsonb_build_object(
     'id', u.id::text, 'username', u.username, 'email', u.email,
     'email_verified', u.verified_at IS NOT NULL, 'is_admin', u.is_admin,
     'created_at', u.created_at, 'password_changed_at', u.password_changed_at),
  'profile', (SELECT jsonb_build_object('display_name', p.display_name, 'about', p.about,
     'country', p.country, 'city', p.city, 'photo', nullif(p.photo, ''), 'updated_at', p.updated_at)
     FROM profiles p WHERE p.user_id = u.id),
  'following', coalesce((SELECT jsonb_agg(jsonb_build_object('username', x.username, 'since', f.created_at) ORDER BY f.created_at)
     FROM follows f JOIN users x ON x.id = f.followee_id WHERE f.follower_id = u.id), '[]'),
  'followers', coalesce((SELECT jsonb_agg(jsonb_build_object('username', x.username, 'since', f.created_at) ORDER BY f.created_at)
     FROM follows f JOIN users x ON x.id = f.follower_id WHERE f.followee_id = u.id), '[]'),
  'notifications', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', n.kind, 'data', n.data,
     'read', n.read_at IS NOT NULL, 'created_at', n.created_at) ORDER BY n.id)
     FROM notifications n WHERE n.user_id = u.id), '[]'),
  'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('created_at', r.created_at, 'expires_at', r.expires_at,
     'used_at', r.used_at, 'revoked_at', r.revoked_at) ORDER BY r.id)
     FROM refresh_tokens r WHERE r.user_id = u.id), '[]')
)
FROM users u WHERE u.id = $1`

// Export returns everything stored about user id as a JSON document.
func (s *Service) Export(ctx context.Context, id int64) ([]byte, error) {
	var doc []byte
	err := s.db.QueryRow(ctx, exportSQL, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, jokster.Errorf(jokster.EUNAUTHORIZED, "this account no longer exists")
	}
	return doc, err
}
