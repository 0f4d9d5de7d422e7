// Package mail delivers e-mail reliably. A message is first written to the
// outbox table inside the transaction that decides to send it, so it cannot
// be lost once that transaction commits; a background task then delivers it
// through a Sender (SMTP, or the log when no SMTP server is configured), and
// a periodic job re-enqueues rows whose task went missing.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail to one recipient.
type Message struct {
	UserID  int64 // 0 when not tied to an account; pending mail dies with its account
	To      string
	Subject string
	Body    string // plain text
}

// Sender hands a message to the outside world.
type Sender interface {
	Send(ctx context.Context, from string, m Message) error
}

// Enqueuer schedules delivery of an outbox row; the worker package provides
// it with asynq. Errors are not fatal: the re-enqueue job retries.
type Enqueuer interface {
	EnqueueMail(ctx context.Context, id uuid.UUID) error
}

// Outbox records and dispatches mail.
type Outbox struct {
	db    *pgxpool.Pool
	queue Enqueuer
	from  string
}

// NewOutbox returns an Outbox writing to db and scheduling with queue.
func NewOutbox(db *pgxpool.Pool, queue Enqueuer, from string) *Outbox {
	return &Outbox{db: db, queue: queue, from: from}
}

// From is the sender address used for every message.
func (o *Outbox) From() string { return o.from }

// Add records m in tx. Call Dispatch with the returned id after commit.
func (o *Outbox) Add(ctx context.Context, tx pgx.Tx, m Message) (uuid.UUID, error) {
	id := uuid.New()
	var uid *int64
	if m.UserID != 0 {
		uid = &m.UserID
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox_mail (id, user_id, to_addr, subject, body) VALUES ($1, $2, $3, $4, $5)`,
		id, uid, m.To, m.Subject, m.Body)
	if err != nil {
		return uuid.Nil, fmt.Errorf("mail: outbox: %w", err)
	}
	return id, nil
}

// Dispatch enqueues delivery of committed outbox rows. A failure is logged,
// not returned: the row is safe in PostgreSQL and Requeue will pick it up.
func (o *Outbox) Dispatch(ctx context.Context, ids ...uuid.UUID) {
	for _, id := range ids {
		if err := o.queue.EnqueueMail(ctx, id); err != nil {
			slog.Warn("mail: enqueue failed; the re-enqueue job will retry", "id", id, "err", err)
		}
	}
}

// ErrGone means the outbox row no longer exists (its account was deleted).
var ErrGone = errors.New("mail: message no longer exists")

// ErrBusy means another delivery of the row is under way (its claim has
// not run out); the caller retries later.
var ErrBusy = errors.New("mail: another delivery of this message is under way")

// Delivery claims are longer than a send may take (sendTimeout), so a claim
// never runs out while its holder is still sending.
const (
	claimFor    = 2 * time.Minute
	sendTimeout = time.Minute
)

// Deliver sends outbox row id through s unless it was already sent. It is
// idempotent: asynq may run it more than once, even at the same time (a
// lease that ran out while the first run was still sending). It claims the
// row before sending, so only one run sends; the others get ErrBusy until
// the claim is released or runs out. A run that dies after sending and
// before marking the row sent leaves it to be sent again once the claim
// runs out: at least once, as mail must be.
func (o *Outbox) Deliver(ctx context.Context, s Sender, id uuid.UUID) error {
	var m Message
	var sentAt *time.Time
	var claimed bool
	err := o.db.QueryRow(ctx, `WITH c AS (
			UPDATE outbox_mail SET claimed_until = now() + make_interval(secs => $2)
			WHERE id = $1 AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
			RETURNING id)
		SELECT to_addr, subject, body, sent_at, EXISTS (SELECT 1 FROM c) FROM outbox_mail WHERE id = $1`,
		id, claimFor.Seconds()).Scan(&m.To, &m.Subject, &m.Body, &sentAt, &claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrGone
	} else if err != nil {
		return err
	}
	if sentAt != nil {
		return nil
	}
	if !claimed {
		return ErrBusy
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	// The claim is released whatever happens next; on a failure the retry
	// may start at once.
	bg := context.WithoutCancel(ctx)
	if err := s.Send(sctx, o.from, m); err != nil {
		_, _ = o.db.Exec(bg, `UPDATE outbox_mail SET attempts = attempts + 1, last_error = $2, claimed_until = NULL WHERE id = $1`, id, err.Error())
		return err
	}
	_, err = o.db.Exec(bg, `UPDATE outbox_mail SET attempts = attempts + 1, sent_at = now(), last_error = NULL, claimed_until = NULL WHERE id = $1`, id)
	return err
}

// Requeue re-enqueues unsent rows older than olderThan (their task was
// lost or is still retrying; asynq's task-id dedup makes a duplicate
// harmless), blanks the bodies of rows sent over an hour ago and forgets
// sent rows after a week. It returns how many it re-enqueued.
func (o *Outbox) Requeue(ctx context.Context, olderThan time.Duration) (int, error) {
	if _, err := o.db.Exec(ctx, `DELETE FROM outbox_mail WHERE sent_at < now() - interval '7 days'`); err != nil {
		return 0, err
	}
	// A body can hold a live secret (a reset or confirmation link); once
	// the message is out, the database need not keep it for whoever reads
	// a backup. The row stays, for the record of what was sent to whom.
	if _, err := o.db.Exec(ctx, `UPDATE outbox_mail SET body = '' WHERE sent_at < now() - interval '1 hour' AND body <> ''`); err != nil {
		return 0, err
	}
	// Every such row, a page at a time: rows whose task is still retrying
	// must not keep newer lost ones from their turn.
	n := 0
	var after time.Time
	var afterID uuid.UUID
	for {
		rows, err := o.db.Query(ctx, `SELECT id, created_at FROM outbox_mail
			WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => $1) AND (created_at, id) > ($2, $3)
			ORDER BY created_at, id LIMIT 1000`, olderThan.Seconds(), after, afterID)
		if err != nil {
			return n, err
		}
		var page int
		_, err = pgx.ForEachRow(rows, []any{&afterID, &after}, func() error {
			page++
			if err := o.queue.EnqueueMail(ctx, afterID); err == nil {
				n++
			}
			return nil
		})
		if err != nil || page < 1000 {
			return n, err
		}
	}
}

var linkRE = regexp.MustCompile(`https?://\S+`)

// LogSender writes each message to the log, so that on a machine with no
// SMTP server a developer can still click the links in it.
type LogSender struct{}

// Send logs m.
func (LogSender) Send(_ context.Context, from string, m Message) error {
	// The links are logged on their own too, so they can be clicked.
	slog.Info("mail (SMTP_URL not set, so it is logged instead of sent)", "from", from, "to", m.To, "subject", m.Subject,
		"links", strings.Join(linkRE.FindAllString(m.Body, -1), " "), "body", m.Body)
	return nil
}

// SMTPSender delivers through an SMTP server given as a URL:
// smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465.
type SMTPSender struct {
	host string
	opts []gomail.Option
}

// NewSMTPSender parses rawURL.
func NewSMTPSender(rawURL string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("mail: SMTP_URL %q is not smtp://[user:pass@]host[:port]", rawURL)
	}
	opts := []gomail.Option{gomail.WithTimeout(20 * time.Second)}
	switch u.Scheme {
	case "smtp":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic), gomail.WithPort(25))
	case "smtps":
		opts = append(opts, gomail.WithSSL(), gomail.WithPort(465))
	default:
		return nil, fmt.Errorf("mail: SMTP_URL scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("mail: SMTP_URL port: %w", err)
		}
		opts = append(opts, gomail.WithPort(n))
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		auth := gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover)
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			// Auto-discovery never sends a password without TLS, not even
			// to a relay on this machine (a local MTA, Mailpit). Like
			// net/smtp, allow that on loopback; PLAIN and LOGIN still
			// refuse to send a password in clear to any other host.
			auth = gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin)
		}
		opts = append(opts, auth, gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTPSender{host: u.Hostname(), opts: opts}, nil
}

// Send delivers m.
func (s *SMTPSender) Send(ctx context.Context, from string, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
