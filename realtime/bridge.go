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

// CommentAdded implements posts.Announcer.
func (b Bridge) CommentAdded(_ context.Context, c jokster.Comment) {
	b.Pub.Send(postCh(c.PostID), "comment", view.CommentOf(c), false)
}

// CommentDeleted implements posts.Announcer.
func (b Bridge) CommentDeleted(_ context.Context, post, comment int64) {
	b.Pub.Send(postCh(post), "comment_deleted", map[string]string{"id": strconv.FormatInt(comment, 10)}, false)
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
