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

// Post statuses.
const (
	PostProcessing = "processing"
	PostReady      = "ready"
	PostFailed     = "failed"
	PostCulled     = "culled"
	PostRemoved    = "removed"
)

// Post kinds.
const (
	KindText  = "text"
	KindImage = "image"
	KindGIF   = "gif"
	KindVideo = "video"
)

// More notification kinds.
const (
	NotifyCommented = "commented"
	NotifyReacted   = "reacted"
	NotifyDuplicate = "duplicate"
	NotifyRemoved   = "removed"
	NotifyFailed    = "processing_failed"
	NotifyRated     = "rated"
)

// Post is one post as a reader sees it.
type Post struct {
	ID          int64
	AuthorID    int64
	Author      string // username
	AuthorName  string // display name
	AuthorPhoto string // URL or ""
	Caption     string
	Tags        []string
	Kind        string
	Status      string
	Failure     string // why processing failed (author and admins only)
	Format      string
	// URLs of the renditions ("" when absent).
	MediaURL, ThumbURL, PosterURL string
	Width, Height, DurationMS     int
	DuplicateOf                   int64
	CommentCount                  int
	Reactions                     map[string]int
	MyReactions                   []string
	CreatedAt, UpdatedAt          time.Time
	RemovedAt                     *time.Time
	RemovalReason                 string
	// Ratings: the histogram counts 1- to 5-star ratings.
	Histogram          [5]int64
	ScoreTop, ScoreHot float64
	// StatsVersion is the post's rank version: it grows with every change
	// of its ratings (and of its status), and live `stats` messages carry
	// the same number, so a client can tell which of two copies is newer.
	StatsVersion int64
	// ReactionsVersion grows with every change of Reactions; live
	// `reactions` messages carry the same number.
	ReactionsVersion int64
	// CommentsVersion grows with every change of CommentCount (a comment
	// added or deleted); live comment messages carry the same number.
	CommentsVersion int64
	MyRating        int            // 0: the viewer has not rated it
	Ranks           map[string]int // board → 1-based rank, filled by the API
}

// Comment is a plain-text comment on a post.
type Comment struct {
	ID          int64
	PostID      int64
	AuthorID    int64
	Author      string
	AuthorName  string
	AuthorPhoto string
	Body        string
	CreatedAt   time.Time
}

// Report is a user's (or the system's) complaint about a post.
type Report struct {
	ID         int64
	PostID     int64
	Reporter   string // "" when filed by the system
	Reason     string
	Note       string
	CreatedAt  time.Time
	ResolvedAt *time.Time
	Resolution string
}
