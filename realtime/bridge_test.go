package realtime

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// A cull's live messages carry each victim's version after the cull, so a
// copy of the post read before it cannot bring it back to ready; runs
// recorded before versions were (nil) send none.
func TestBridgePostsCulledCarryVersions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	br := Bridge{Pub: pub}
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
