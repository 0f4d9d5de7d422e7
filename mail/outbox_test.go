package mail_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/testkit"
)

// recordingQueue is a mail.Enqueuer that remembers what it was given.
type recordingQueue struct {
	mu  sync.Mutex
	ids []uuid.UUID
	err error
}

func (q *recordingQueue) EnqueueMail(_ context.Context, id uuid.UUID) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.ids = append(q.ids, id)
	return nil
}

func (q *recordingQueue) IDs() []uuid.UUID {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.ids)
}

// recordingSender is a mail.Sender that counts sends and can fail.
type recordingSender struct {
	mu    sync.Mutex
	sent  []mail.Message
	calls int
	fail  func(call int) error // nil: never fails
}

func (s *recordingSender) Send(_ context.Context, from string, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(s.calls); err != nil {
			return err
		}
	}
	s.sent = append(s.sent, m)
	return nil
}

func (s *recordingSender) Sent() []mail.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

func addCommitted(t *testing.T, pool *pgxpool.Pool, o *mail.Outbox, m mail.Message) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		id, err = o.Add(ctx, tx, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type outboxRow struct {
	sentAt    *time.Time
	attempts  int
	lastError *string
}

func row(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) outboxRow {
	t.Helper()
	var r outboxRow
	err := pool.QueryRow(context.Background(), `SELECT sent_at, attempts, last_error FROM outbox_mail WHERE id = $1`, id).
		Scan(&r.sentAt, &r.attempts, &r.lastError)
	if err != nil {
		t.Fatalf("outbox row %s: %v", id, err)
	}
	return r
}

func exists(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM outbox_mail WHERE id = $1)`, id).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func insertUser(t *testing.T, pool *pgxpool.Pool, name string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(),
		`INSERT INTO users (username, email, password_hash) VALUES ($1, $1 || '@example.org', 'x') RETURNING id`, name).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAddDispatchDeliver(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	q := &recordingQueue{}
	o := mail.NewOutbox(pool, q, "noreply@jokster.example")
	if o.From() != "noreply@jokster.example" {
		t.Fatalf("From() = %q", o.From())
	}
	uid := insertUser(t, pool, "alice")
	m := mail.Message{UserID: uid, To: "alice@example.org", Subject: "Hi", Body: "Hello"}
	id := addCommitted(t, pool, o, m)
	if got := q.IDs(); len(got) != 0 {
		t.Fatalf("Add enqueued %v; only Dispatch may", got)
	}
	o.Dispatch(ctx, id)
	if got := q.IDs(); !slices.Equal(got, []uuid.UUID{id}) {
		t.Fatalf("Dispatch enqueued %v, want [%s]", got, id)
	}
	var gotUID *int64
	if err := pool.QueryRow(ctx, `SELECT user_id FROM outbox_mail WHERE id = $1`, id).Scan(&gotUID); err != nil {
		t.Fatal(err)
	}
	if gotUID == nil || *gotUID != uid {
		t.Fatalf("user_id = %v, want %d", gotUID, uid)
	}

	s := &recordingSender{}
	if err := o.Deliver(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].To != m.To || sent[0].Subject != m.Subject || sent[0].Body != m.Body {
		t.Fatalf("sent %+v, want %+v", sent, m)
	}
}

func TestAddWithoutUser(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	var uid *int64
	if err := pool.QueryRow(ctx, `SELECT user_id FROM outbox_mail WHERE id = $1`, id).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	if uid != nil {
		t.Fatalf("user_id = %d, want NULL", *uid)
	}
}

// A message added in a transaction that rolls back does not exist.
func TestAddRolledBack(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := o.Add(ctx, tx, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	s := &recordingSender{}
	if err := o.Deliver(ctx, s, id); !errors.Is(err, mail.ErrGone) {
		t.Fatalf("Deliver of a rolled-back message = %v, want ErrGone", err)
	}
	if s.calls != 0 {
		t.Fatalf("sender called %d times", s.calls)
	}
}

// Dispatch never fails the caller: the row is safe and Requeue retries.
func TestDispatchEnqueueFailure(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	q := &recordingQueue{err: errors.New("redis down")}
	o := mail.NewOutbox(pool, q, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	o.Dispatch(ctx, id)
	if !exists(t, pool, id) {
		t.Fatal("row vanished")
	}
	q.mu.Lock()
	q.err = nil
	q.mu.Unlock()
	n, err := o.Requeue(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	if got := q.IDs(); !slices.Equal(got, []uuid.UUID{id}) {
		t.Fatalf("Requeue enqueued %v", got)
	}
}

func TestDeliverIdempotent(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	s := &recordingSender{}
	for i := range 3 {
		if err := o.Deliver(ctx, s, id); err != nil {
			t.Fatalf("Deliver #%d: %v", i+1, err)
		}
	}
	if len(s.Sent()) != 1 || s.calls != 1 {
		t.Fatalf("sent %d times (%d calls), want once", len(s.Sent()), s.calls)
	}
	r := row(t, pool, id)
	if r.sentAt == nil || r.attempts != 1 || r.lastError != nil {
		t.Fatalf("row = %+v, want sent after 1 attempt without error", r)
	}
}

// blockingSender holds every Send until release is closed, and counts them.
type blockingSender struct {
	recordingSender
	started chan struct{}
	release chan struct{}
}

func (s *blockingSender) Send(ctx context.Context, from string, m mail.Message) error {
	s.started <- struct{}{}
	<-s.release
	return s.recordingSender.Send(ctx, from, m)
}

// Two runs of one row at once (asynq re-runs a task whose lease ran out
// while the first run was still sending) send it once: the second finds
// the row claimed and is told to come back; once the first has sent, a
// retry finds it sent.
func TestDeliverConcurrentRunsSendOnce(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	s := &blockingSender{started: make(chan struct{}, 2), release: make(chan struct{})}
	first := make(chan error, 1)
	go func() { first <- o.Deliver(ctx, s, id) }()
	<-s.started // the first run is sending
	second := make(chan error, 1)
	go func() { second <- o.Deliver(ctx, s, id) }()
	select {
	case err := <-second:
		if !errors.Is(err, mail.ErrBusy) {
			t.Fatalf("second run while the first sends = %v, want ErrBusy", err)
		}
	case <-s.started:
		close(s.release)
		t.Fatal("a second run started sending while the first was still sending")
	}
	close(s.release)
	if err := <-first; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if err := o.Deliver(ctx, s, id); err != nil {
		t.Fatalf("retry after the send: %v", err)
	}
	if n := len(s.Sent()); n != 1 || len(s.started) != 0 {
		t.Fatalf("sent %d times (%d more sends started), want once", n, len(s.started))
	}
	if r := row(t, pool, id); r.sentAt == nil || r.attempts != 1 {
		t.Fatalf("row = %+v, want sent after 1 attempt", r)
	}
}

// A run that died while it held the claim (its process was killed) does
// not keep the message from going out: once the claim runs out, the next
// run sends it.
func TestDeliverAfterAbandonedClaim(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	if _, err := pool.Exec(ctx, `UPDATE outbox_mail SET claimed_until = now() + interval '1 minute' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	s := &recordingSender{}
	if err := o.Deliver(ctx, s, id); !errors.Is(err, mail.ErrBusy) {
		t.Fatalf("Deliver under a live claim = %v, want ErrBusy", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE outbox_mail SET claimed_until = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, s, id); err != nil {
		t.Fatalf("Deliver after the claim ran out: %v", err)
	}
	if len(s.Sent()) != 1 {
		t.Fatalf("sent %d times, want once", len(s.Sent()))
	}
	var claimed *time.Time
	if err := pool.QueryRow(ctx, `SELECT claimed_until FROM outbox_mail WHERE id = $1`, id).Scan(&claimed); err != nil || claimed != nil {
		t.Fatalf("claim after the send = %v, %v; want released", claimed, err)
	}
}

func TestDeliverFailureRecorded(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
	boom := errors.New("451 try again later")
	s := &recordingSender{fail: func(call int) error {
		if call <= 2 {
			return boom
		}
		return nil
	}}
	for attempt := 1; attempt <= 2; attempt++ {
		if err := o.Deliver(ctx, s, id); !errors.Is(err, boom) {
			t.Fatalf("Deliver #%d = %v, want the sender's error", attempt, err)
		}
		r := row(t, pool, id)
		if r.sentAt != nil || r.attempts != attempt || r.lastError == nil || *r.lastError != boom.Error() {
			t.Fatalf("after failure #%d: row = %+v", attempt, r)
		}
	}
	if err := o.Deliver(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	r := row(t, pool, id)
	if r.sentAt == nil || r.attempts != 3 || r.lastError != nil {
		t.Fatalf("after success: row = %+v, want sent, 3 attempts, no error", r)
	}
	if len(s.Sent()) != 1 {
		t.Fatalf("sent %d, want 1", len(s.Sent()))
	}
}

func TestDeliverGone(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	s := &recordingSender{}

	if err := o.Deliver(ctx, s, uuid.New()); !errors.Is(err, mail.ErrGone) {
		t.Fatalf("Deliver of an unknown id = %v, want ErrGone", err)
	}

	// Pending mail dies with its account.
	uid := insertUser(t, pool, "bob")
	other := insertUser(t, pool, "carol")
	id := addCommitted(t, pool, o, mail.Message{UserID: uid, To: "bob@example.org", Subject: "s", Body: "b"})
	keep := addCommitted(t, pool, o, mail.Message{UserID: other, To: "carol@example.org", Subject: "s", Body: "b"})
	if _, err := pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, uid); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, s, id); !errors.Is(err, mail.ErrGone) {
		t.Fatalf("Deliver after the user was deleted = %v, want ErrGone", err)
	}
	if s.calls != 0 {
		t.Fatalf("sender called %d times for gone mail", s.calls)
	}
	if err := o.Deliver(ctx, s, keep); err != nil {
		t.Fatalf("another user's mail: %v", err)
	}
}

func TestRequeue(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	q := &recordingQueue{}
	o := mail.NewOutbox(pool, q, "noreply@jokster.example")
	add := func(created, sent string) uuid.UUID {
		id := addCommitted(t, pool, o, mail.Message{To: "x@example.org", Subject: "s", Body: "b"})
		_, err := pool.Exec(ctx, `UPDATE outbox_mail SET created_at = now() - $2::interval,
			sent_at = CASE WHEN $3::interval IS NULL THEN NULL ELSE now() - $3::interval END WHERE id = $1`, id, created, nilIfEmpty(sent))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldUnsent := add("10 minutes", "")
	olderUnsent := add("3 days", "")
	freshUnsent := add("0 seconds", "")
	oldSent := add("8 days", "7 days 1 hour")
	recentSent := add("2 days", "1 day")
	sentJustNow := add("10 minutes", "1 second")

	n, err := o.Requeue(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := q.IDs()
	if n != 2 || len(got) != 2 || !slices.Contains(got, oldUnsent) || !slices.Contains(got, olderUnsent) {
		t.Fatalf("Requeue(2m) = %d, enqueued %v; want the two old unsent rows %s, %s", n, got, oldUnsent, olderUnsent)
	}
	if got[0] != olderUnsent {
		t.Errorf("Requeue should start with the oldest row; got %v", got)
	}
	if exists(t, pool, oldSent) {
		t.Error("a row sent more than 7 days ago was not deleted")
	}
	// Bodies (links with secrets) go an hour after sending; unsent ones
	// and fresh ones stay.
	body := func(id uuid.UUID) string {
		var b string
		if err := pool.QueryRow(ctx, `SELECT body FROM outbox_mail WHERE id = $1`, id).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := body(recentSent); b != "" {
		t.Errorf("a body sent a day ago is still kept: %q", b)
	}
	if body(sentJustNow) != "b" || body(olderUnsent) != "b" {
		t.Error("an unsent body, or one sent a second ago, was blanked")
	}
	for _, id := range []uuid.UUID{oldUnsent, olderUnsent, freshUnsent, recentSent, sentJustNow} {
		if !exists(t, pool, id) {
			t.Errorf("row %s was deleted", id)
		}
	}

	// With no threshold every unsent row goes, sent ones never.
	q.mu.Lock()
	q.ids = nil
	q.mu.Unlock()
	n, err = o.Requeue(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got = q.IDs()
	slices.SortFunc(got, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	want := []uuid.UUID{oldUnsent, olderUnsent, freshUnsent}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if n != 3 || !slices.Equal(got, want) {
		t.Fatalf("Requeue(0) = %d, enqueued %v; want %v", n, got, want)
	}

	// Enqueue failures are not counted and not fatal.
	q.mu.Lock()
	q.err = errors.New("redis down")
	q.mu.Unlock()
	n, err = o.Requeue(ctx, 0)
	if err != nil || n != 0 {
		t.Fatalf("Requeue with a failing queue = %d, %v; want 0, nil", n, err)
	}
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func TestLogSender(t *testing.T) {
	if err := (mail.LogSender{}).Send(context.Background(), "a@example.org", mail.Message{To: "b@example.org", Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
}
