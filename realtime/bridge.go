package realtime

import (
	"context"
	"strconv"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/view"
)

// Bridge turns domain announcements into live events. It implements the
// announcer interfaces of ranking, notifications and posts (those packages
// never import realtime), and can run in any process: it only publishes.
type Bridge struct {
	Pub *Publisher
}

func postCh(id int64) string { return "post:" + strconv.FormatInt(id, 10) }

// StatsChanged implements ranking.Announcer: the post's new statistics.
func (b Bridge) StatsChanged(_ context.Context, post, version int64, st ranking.Stats) {
	b.Pub.Send(postCh(post), "stats", map[string]any{"stats": view.StatsOf(st.Histogram, st.Top, st.Hot), "version": version}, true)
}

// BoardChanged implements ranking.Announcer: nodes re-read the board.
func (b Bridge) BoardChanged(_ context.Context, board string) {
	b.Pub.Send("board:"+board, "changed", nil, true)
}

// Notified implements notifications.Announcer: pushed to its owner's me.
func (b Bridge) Notified(_ context.Context, n jokster.Notification) {
	b.Pub.Send("user:"+strconv.FormatInt(n.UserID, 10), "notification", view.NotificationOf(n), false)
}

// PostReady implements posts.Announcer: a new post is up.
func (b Bridge) PostReady(_ context.Context, p jokster.Post) {
	b.Pub.Send("posts:new", "new", view.PostOf(p), false)
}

// PostGone implements posts.Announcer: a post was deleted, removed or culled.
func (b Bridge) PostGone(_ context.Context, id int64, status string, version int64) {
	data := map[string]any{"id": strconv.FormatInt(id, 10), "status": status}
	if version > 0 {
		data["stats_version"] = version
	}
	b.Pub.Send("posts:new", "gone", data, false)
	b.Pub.Send(postCh(id), "status", data, false)
}

// commentCount is what comment messages add to their data: the post's
// comment count as the change left it, and its comments version after it,
// which a client compares with the Post's comments_version (and the other
// messages') to tell whether it has already counted the change. Like
// reactions, comment messages are not coalesced: each carries its change.
type commentCount struct {
	Count   int   `json:"comment_count"`
	Version int64 `json:"comments_version"`
}

// CommentAdded implements posts.Announcer: the Comment, with the count.
func (b Bridge) CommentAdded(_ context.Context, c jokster.Comment, version int64, count int) {
	b.Pub.Send(postCh(c.PostID), "comment", struct {
		view.Comment
		commentCount
	}{view.CommentOf(c), commentCount{count, version}}, false)
}

// CommentDeleted implements posts.Announcer: the comment's id, with the
// count.
func (b Bridge) CommentDeleted(_ context.Context, post, comment, version int64, count int) {
	b.Pub.Send(postCh(post), "comment_deleted", struct {
		ID string `json:"id"`
		commentCount
	}{strconv.FormatInt(comment, 10), commentCount{count, version}}, false)
}

// ReactionsChanged implements posts.Announcer: the counts with their
// version, by which clients drop counts older than those they hold.
// Concurrent changes reach Send in any order, and a coalesced event keeps
// whatever was sent last, which could be the older counts, leaving the
// newer ones unpublished; so reactions are not coalesced, and each change's
// message goes out for clients to order.
func (b Bridge) ReactionsChanged(_ context.Context, post, version int64, counts map[string]int) {
	if counts == nil {
		counts = map[string]int{}
	}
	b.Pub.Send(postCh(post), "reactions", map[string]any{"reactions": counts, "version": version}, false)
}

// PostsCulled implements cull.Announcer: the posts leave open feeds and
// their pages say so.
func (b Bridge) PostsCulled(ctx context.Context, run int64, ids, versions []int64) {
	for i, id := range ids {
		data := map[string]any{"id": strconv.FormatInt(id, 10), "status": jokster.PostCulled, "run": strconv.FormatInt(run, 10)}
		if i < len(versions) && versions[i] > 0 {
			data["stats_version"] = versions[i]
		}
		b.Pub.Send("posts:new", "gone", data, false)
		b.Pub.Send(postCh(id), "status", data, false)
	}
	b.DangerChanged(ctx)
}

// DangerChanged tells danger-zone watchers to look again (the cull).
func (b Bridge) DangerChanged(_ context.Context) {
	b.Pub.Send("danger", "changed", nil, true)
}
