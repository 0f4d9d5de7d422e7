package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/config"
)

// TestBusyDatabaseAnswers503 takes every connection of the server's pool,
// as a burst of slow requests would: requests that need PostgreSQL must
// be answered 503 with Retry-After within the request deadline — not
// hang until a connection frees up — and a write refused that way must
// change nothing. Once the connections are back, the same requests work.
func TestBusyDatabaseAnswers503(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RequestTimeout = 300 * time.Millisecond })
	alice := e.signup("alice")
	bob := e.signup("bob")
	id := alice.newPost(nil, "", "caption", "knock knock").want(201).post().ID

	ctx := context.Background()
	var held []*pgxpool.Conn
	for range e.db.Config().MaxConns {
		conn, err := e.db.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	release := func() {
		for _, c := range held {
			c.Release()
		}
		held = nil
	}
	defer release()

	// Without a deadline this request waits for a connection until
	// release() below, which runs only after it returns: the test hangs.
	r := e.client().get("/api/v1/posts/" + id).want(503)
	if code := r.errCode(); code != "unavailable" {
		t.Errorf("read with the pool taken: code %q, want unavailable", code)
	}
	if ra := r.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	bob.post("/api/v1/posts/"+id+"/comments", map[string]string{"body": "who's there?"}).want(503)

	release()
	e.client().get("/api/v1/posts/" + id).want(200)
	if n := e.count(`SELECT count(*) FROM comments`); n != 0 {
		t.Errorf("%d comments stored by a request answered 503", n)
	}
	bob.post("/api/v1/posts/"+id+"/comments", map[string]string{"body": "who's there?"}).want(201)
}
