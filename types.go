package jokster

import "time"

// User is an account. The password hash never leaves the accounts package.
type User struct {
	ID         int64
	Username   string
	Email      string
	Verified   bool
	IsAdmin    bool
	CreatedAt  time.Time
	PasswordAt time.Time // last password change; older refresh tokens are void
}

// Profile is the public face of a user, created with it in one transaction.
type Profile struct {
	UserID      int64
	Username    string
	DisplayName string
	About       string
	Country     string // ISO 3166-1 alpha-2, upper case, or ""
	City        string
	PhotoURL    string // "" when the user has no photo
	Followers   int64
	Following   int64
	CreatedAt   time.Time
	// FollowedByMe is set when the caller is signed in.
	FollowedByMe *bool
}

// Notification kinds. Later features add their own.
const (
	NotifyFollowed = "followed"
)

// Notification is a stored message to one user.
type Notification struct {
	ID        int64
	UserID    int64
	Kind      string
	Actor     string // username of who caused it, or ""
	Data      map[string]any
	Read      bool
	CreatedAt time.Time
}

// Page is one page of a cursor-paginated list.
type Page[T any] struct {
	Items      []T
	NextCursor string // "" at the end
}
