package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jokster/jokster"
)

// A cull's live messages carry each victim's version after the cull, so a
// copy of the post read before it cannot bring it back to ready; runs
// recorded before versions were (nil) send none.
func TestBridgePostsCulledCarryVersions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, got := bridgeEvents(ctx)
	br.PostsCulled(ctx, 4, []int64{7, 9}, []int64{12, 30})
	br.PostsCulled(ctx, 5, []int64{11}, nil)
	want := map[string]float64{"7": 12, "9": 30, "11": 0}
	seen := 0
	deadline := time.After(30 * time.Second)
	for seen < len(want) {
		select {
		case e := <-got:
			if e.Type != "status" {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			v, _ := d["stats_version"].(float64)
			if w, ok := want[d["id"].(string)]; !ok || v != w || d["status"] != "culled" {
				t.Fatalf("status message %v; want culled with stats_version %v", d, w)
			}
			seen++
		case <-deadline:
			t.Fatalf("%d of %d status messages arrived", seen, len(want))
		}
	}
}

// bridgeEvents returns a Bridge on a memory broker and the events it
// publishes, once the broker's subscription is in place.
func bridgeEvents(ctx context.Context) (Bridge, <-chan Event) {
	b := NewMemoryBroker()
	got := make(chan Event, 16)
	go func() { _ = b.Run(ctx, func(e Event) { got <- e }, func() {}) }()
	// Events published before Run subscribed would reach nobody.
	for subscribed := false; !subscribed; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		subscribed = len(b.subs) > 0
		b.mu.Unlock()
	}
	pub := NewPublisher(b)
	go pub.Run(ctx)
	return Bridge{Pub: pub}, got
}

// Comment messages carry the post's comment count as their change left it
// and the comments version after it, beside the comment (or its id), so a
// client can tell whether a count it holds already has the change; each
// change is its own message, none coalesced into another.
func TestBridgeCommentMessagesCarryCountAndVersion(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, got := bridgeEvents(ctx)
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	br.CommentAdded(ctx, jokster.Comment{ID: 31, PostID: 7, AuthorID: 2, Author: "ann", AuthorName: "Ann", Body: "lol", CreatedAt: at}, 5, 4)
	br.CommentAdded(ctx, jokster.Comment{ID: 32, PostID: 7, AuthorID: 3, Author: "bob", AuthorName: "Bob", Body: "rofl", CreatedAt: at}, 6, 5)
	br.CommentDeleted(ctx, 7, 31, 7, 4)
	want := []struct {
		typ     string
		fields  map[string]any
		version float64
		count   float64
	}{
		{"comment", map[string]any{"id": "31", "post_id": "7", "body": "lol", "created_at": "2026-11-27T12:00:00Z"}, 5, 4},
		{"comment", map[string]any{"id": "32", "post_id": "7", "body": "rofl"}, 6, 5},
		{"comment_deleted", map[string]any{"id": "31"}, 7, 4},
	}
	// Messages are published in no set order (the versions order them), so
	// each is matched with the one expected of its type and comment id.
	deadline := time.After(30 * time.Second)
	for i := 0; i < len(want); {
		select {
		case e := <-got:
			var d map[string]any
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			j := slices.IndexFunc(want, func(w struct {
				typ     string
				fields  map[string]any
				version float64
				count   float64
			}) bool {
				return w.typ == e.Type && w.fields["id"] == d["id"]
			})
			if e.Ch != "post:7" || j < 0 {
				t.Fatalf("event %d: %s %s %v; want one of %v on post:7", i, e.Ch, e.Type, d, want)
			}
			w := want[j]
			want[j].typ = "" // matched
			for k, v := range w.fields {
				if d[k] != v {
					t.Fatalf("%s message %v: %s is %v, want %v", w.typ, d, k, d[k], v)
				}
			}
			if d["comments_version"] != w.version || d["comment_count"] != w.count {
				t.Fatalf("%s message %v: want comments_version %v and comment_count %v", w.typ, d, w.version, w.count)
			}
			if w.typ == "comment" {
				if a, ok := d["author"].(map[string]any); !ok || a["username"] == nil {
					t.Fatalf("comment message without its author: %v", d)
				}
			}
			i++
		case <-deadline:
			t.Fatalf("%d of %d comment messages arrived", i, len(want))
		}
	}
}
