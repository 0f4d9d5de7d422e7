package realtime

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jokster/jokster"
)

// A subscriber's queue, as versions.
func queued(t *testing.T, c *client) []int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var vs []int64
	for _, m := range c.queue {
		var msg Message
		if err := json.Unmarshal(m, &msg); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, msg.V)
	}
	return vs
}

// Events this node published reach its subscribers at once when nothing
// before them is missing, and through the broker otherwise; each is
// delivered once and in version order.
func TestHubDeliversOwnEventsOnceInOrder(t *testing.T) {
	h := NewHub(NewMemoryBroker(), DefaultConfig(), nil)
	c := &client{h: h, wake: make(chan struct{}, 1), subs: map[string]*sub{"post:1": {}}, done: make(chan struct{})}
	h.add(c, "post:1")
	ev := func(v, prev int64) Event {
		return Event{Ch: "post:1", Type: "comment", V: v, Prev: prev, Data: json.RawMessage(`{}`)}
	}
	steps := []struct {
		name       string
		e          Event
		fromBroker bool
		want       []int64
	}{
		{"own event, nothing delivered yet here: waits for the broker", ev(10, 5), false, nil},
		{"the broker's copy", ev(10, 5), true, []int64{10}},
		{"own event following the last one: at once", ev(20, 10), false, []int64{10, 20}},
		{"its copy from the broker: skipped", ev(20, 10), true, []int64{10, 20}},
		{"own event after one from another node not yet here: waits", ev(40, 30), false, []int64{10, 20}},
		{"the other node's event", ev(30, 20), true, []int64{10, 20, 30}},
		{"then the own one, through the broker", ev(40, 30), true, []int64{10, 20, 30, 40}},
		{"an old copy: skipped", ev(30, 20), true, []int64{10, 20, 30, 40}},
	}
	for _, s := range steps {
		h.fanOut(s.e, s.fromBroker)
		if got := queued(t, c); !slices.Equal(got, s.want) {
			t.Fatalf("%s: queued %v, want %v", s.name, got, s.want)
		}
	}
	// A channel nobody here watches is not remembered.
	h.fanOut(Event{Ch: "post:2", Type: "comment", V: 5, Data: json.RawMessage(`{}`)}, true)
	h.seq.Lock()
	_, kept := h.last["post:2"]
	h.seq.Unlock()
	if kept {
		t.Fatal("the last version of a channel without subscribers is kept")
	}
}

// A signed-in connection whose token is refused when checked again (its
// session was signed out) loses its private subscription and is told so;
// a token that merely could not be checked keeps it.
func TestRecheckEndsPrivateSubscriptionsOfARevokedToken(t *testing.T) {
	var refuse error
	parse := func(string) (int64, time.Time, error) {
		if refuse != nil {
			return 0, time.Time{}, refuse
		}
		return 7, time.Now().Add(time.Hour), nil
	}
	cfg := DefaultConfig()
	cfg.TokenRecheck = time.Hour // the test runs the checks itself
	h := NewHub(NewMemoryBroker(), cfg, parse)
	c := &client{h: h, wake: make(chan struct{}, 1), subs: map[string]*sub{}, done: make(chan struct{})}
	defer c.close("test over")
	c.auth("t")
	c.subs["me:7"] = &sub{}
	h.add(c, "me:7")
	errorsQueued := func() []errorMessage { return queuedErrors(c, false) }

	refuse = errors.New("connection refused") // the database is away
	c.recheck()
	if c.user != 7 || c.subs["me:7"] == nil || len(errorsQueued()) != 0 {
		t.Fatalf("a check that failed to run signed the connection out: user %d, errors %v", c.user, errorsQueued())
	}

	refuse = jokster.Errorf(jokster.EUNAUTHORIZED, "this access token was signed out")
	c.recheck()
	errs := errorsQueued()
	if len(errs) != 1 || errs[0].Code != "unauthorized" || errs[0].Ch != "me" || !strings.Contains(errs[0].Message, "signed out") {
		t.Fatalf("errors sent: %+v", errs)
	}
	if c.user != 0 || c.subs["me:7"] != nil || h.subscribers("me:7") != 0 {
		t.Fatalf("still signed in (user %d) or subscribed (%d)", c.user, h.subscribers("me:7"))
	}
	h.mu.Lock()
	counted := h.users[7]
	h.mu.Unlock()
	if counted != 0 {
		t.Fatalf("the user still counts %d connections", counted)
	}
}

// An auth whose token could not be checked (the database is away) is
// refused as unavailable, which clients retry, not as unauthorized, which
// they take as a bad token; a bad token stays unauthorized.
func TestAuthUncheckedIsUnavailable(t *testing.T) {
	var refuse error
	parse := func(string) (int64, time.Time, error) { return 0, time.Time{}, refuse }
	h := NewHub(NewMemoryBroker(), DefaultConfig(), parse)
	c := &client{h: h, wake: make(chan struct{}, 1), subs: map[string]*sub{}, done: make(chan struct{})}
	defer c.close("test over")
	codes := func() []string {
		var out []string
		for _, e := range queuedErrors(c, true) {
			out = append(out, e.Code)
		}
		return out
	}
	refuse = errors.New("connection refused")
	c.auth("t")
	if got := codes(); len(got) != 1 || got[0] != "unavailable" {
		t.Fatalf("auth that could not be checked: %v; want unavailable", got)
	}
	refuse = jokster.Errorf(jokster.EUNAUTHORIZED, "this access token was signed out")
	c.auth("t")
	if got := codes(); len(got) != 1 || got[0] != "unauthorized" {
		t.Fatalf("auth with a signed-out token: %v; want unauthorized", got)
	}
}

// queuedErrors returns the error messages queued for c, and empties its
// queue if take.
func queuedErrors(c *client, take bool) []errorMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []errorMessage
	for _, m := range c.queue {
		var e errorMessage
		if json.Unmarshal(m, &e) == nil && e.Type == "error" {
			out = append(out, e)
		}
	}
	if take {
		c.queue = nil
	}
	return out
}
