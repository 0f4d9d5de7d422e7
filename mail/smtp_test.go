package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/jokster/jokster/mail"
	"github.com/jokster/jokster/testkit"
)

// serverTLS is the certificate of the STARTTLS test server, for 127.0.0.1.
// TestMain makes the process trust it (SSL_CERT_FILE), because SMTPSender
// verifies certificates against the system roots, as it should.
var serverTLS *tls.Config

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jokster-mail-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverTLS, err = selfSignedTLS(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := testkit.Main(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// selfSignedTLS makes a certificate for 127.0.0.1 and installs it as the
// only system root of this test process. It must run before anything in
// the process loads the system roots.
func selfSignedTLS(dir string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jokster test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SSL_CERT_FILE", caFile); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// received is one message as the SMTP server saw it.
type received struct {
	From string
	To   []string
	Data []byte
	User string // authenticated user, "" without AUTH
	TLS  bool
}

// smtpServer is a real SMTP server (go-smtp) on a loopback port that keeps
// what it receives. With user set it offers AUTH PLAIN and requires it.
type smtpServer struct {
	Addr       string
	user, pass string

	mu   sync.Mutex
	msgs []received
}

type smtpOpts struct {
	user, pass string
	startTLS   bool   // offer STARTTLS with the trusted test certificate
	host       string // listen address, 127.0.0.1 by default
}

func startSMTP(t *testing.T, o smtpOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{user: o.user, pass: o.pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 20 * time.Second
	srv.WriteTimeout = 20 * time.Second
	if o.startTLS {
		srv.TLSConfig = serverTLS
	}
	host := o.host
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

func (s *smtpServer) Received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	srv    *smtpServer
	conn   *smtp.Conn
	authed string
	cur    received
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if s.srv.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.srv.user || password != s.srv.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, User: s.authed}
	_, s.cur.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	s.cur = received{}
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

// parsed decodes what the server received into header fields and the text
// body (go-mail encodes subjects per RFC 2047 and bodies as quoted-printable).
func parsed(t *testing.T, data []byte) (from, to, subject, body string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	dec := new(mime.WordDecoder)
	subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	ct, _, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || ct != "text/plain" {
		t.Errorf("Content-Type = %q (%v), want text/plain", msg.Header.Get("Content-Type"), err)
	}
	var r io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "", "7bit", "8bit":
	default:
		t.Fatalf("unexpected Content-Transfer-Encoding %q", msg.Header.Get("Content-Transfer-Encoding"))
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header.Get("From"), msg.Header.Get("To"), subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

// A message with a link (which quoted-printable escapes) and non-ASCII text.
var testMsg = mail.Message{
	To:      "alice@example.org",
	Subject: "Bestätige deine Adresse bei Jokster",
	Body:    "Hallo Alice,\n\nbitte bestätige: https://jokster.example/verify?token=abc123&x=1\n\nDein Jokster-Team\n",
}

func checkReceived(t *testing.T, srv *smtpServer, wantUser string, wantTLS bool) {
	t.Helper()
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	r := got[0]
	if r.From != "noreply@jokster.example" {
		t.Errorf("MAIL FROM = %q", r.From)
	}
	if len(r.To) != 1 || r.To[0] != testMsg.To {
		t.Errorf("RCPT TO = %q", r.To)
	}
	if r.User != wantUser {
		t.Errorf("authenticated as %q, want %q", r.User, wantUser)
	}
	if r.TLS != wantTLS {
		t.Errorf("TLS = %v, want %v", r.TLS, wantTLS)
	}
	from, to, subject, body := parsed(t, r.Data)
	if !strings.Contains(from, "noreply@jokster.example") || !strings.Contains(to, testMsg.To) {
		t.Errorf("From: %q, To: %q", from, to)
	}
	if subject != testMsg.Subject {
		t.Errorf("Subject = %q, want %q", subject, testMsg.Subject)
	}
	if strings.TrimRight(body, "\n") != strings.TrimRight(testMsg.Body, "\n") {
		t.Errorf("body = %q, want %q", body, testMsg.Body)
	}
}

func TestSMTPSenderDelivers(t *testing.T) {
	tests := []struct {
		name     string
		opts     smtpOpts
		userinfo string
		wantUser string
		wantTLS  bool
	}{
		{name: "no auth", opts: smtpOpts{}},
		{name: "no auth, STARTTLS offered", opts: smtpOpts{startTLS: true}, wantTLS: true},
		{name: "AUTH PLAIN after STARTTLS", opts: smtpOpts{user: "jokster", pass: "s3cret:/@", startTLS: true},
			userinfo: "jokster:" + "s3cret%3A%2F%40" + "@", wantUser: "jokster", wantTLS: true},
		{name: "AUTH PLAIN without TLS on loopback", opts: smtpOpts{user: "jokster", pass: "s3cret"},
			userinfo: "jokster:s3cret@", wantUser: "jokster"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.opts)
			s, err := mail.NewSMTPSender("smtp://" + tc.userinfo + srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Send(ctx, "noreply@jokster.example", testMsg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkReceived(t, srv, tc.wantUser, tc.wantTLS)
		})
	}
}

func TestSMTPSenderWrongPassword(t *testing.T) {
	srv := startSMTP(t, smtpOpts{user: "jokster", pass: "right", startTLS: true})
	s, err := mail.NewSMTPSender("smtp://jokster:wrong@" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Send(ctx, "noreply@jokster.example", testMsg); err == nil {
		t.Fatal("Send with a wrong password succeeded")
	} else {
		t.Logf("failed as it should: %v", err)
	}
	if n := len(srv.Received()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}

// Without TLS, a password goes only to a relay on loopback; 127.0.0.2 is
// reachable here but is not "localhost" to the SMTP client.
func TestSMTPSenderNoCleartextPassword(t *testing.T) {
	srv := startSMTP(t, smtpOpts{user: "jokster", pass: "s3cret", host: "127.0.0.2"})
	s, err := mail.NewSMTPSender("smtp://jokster:s3cret@" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Send(ctx, "noreply@jokster.example", testMsg); err == nil {
		t.Fatal("Send gave a password to a non-loopback server without TLS")
	} else {
		t.Logf("refused as it should: %v", err)
	}
	if n := len(srv.Received()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}

func TestSMTPSenderUnreachable(t *testing.T) {
	port, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSMTPSender(fmt.Sprintf("smtp://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Send(ctx, "noreply@jokster.example", testMsg); err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
}

// Deliver through the real SMTP path: the outbox row is marked sent and a
// second delivery sends nothing.
func TestDeliverOverSMTP(t *testing.T) {
	srv := startSMTP(t, smtpOpts{})
	s, err := mail.NewSMTPSender("smtp://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, _ := testkit.Pool(t)
	o := mail.NewOutbox(pool, &recordingQueue{}, "noreply@jokster.example")
	id := addCommitted(t, pool, o, testMsg)
	for range 2 {
		if err := o.Deliver(ctx, s, id); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	checkReceived(t, srv, "", false)
	r := row(t, pool, id)
	if r.sentAt == nil || r.attempts != 1 || r.lastError != nil {
		t.Fatalf("row after delivery: %+v", r)
	}
}

func TestNewSMTPSenderBadURL(t *testing.T) {
	for _, u := range []string{
		"",
		"localhost:25",
		"http://mail.example.org",
		"ftp://mail.example.org:21",
		"mail.example.org",
		"smtp://",
		"smtp:///path",
		"smtp://user:pass@",
		"smtps://:465",
		"smtp://mail.example.org:notaport",
		"smtp://mail.example.org:99999999999999999999",
		"://mail.example.org",
	} {
		if s, err := mail.NewSMTPSender(u); err == nil {
			t.Errorf("NewSMTPSender(%q) = %v, want an error", u, s)
		} else if !strings.Contains(err.Error(), "SMTP_URL") {
			t.Errorf("NewSMTPSender(%q): error %q does not name SMTP_URL", u, err)
		}
	}
	for _, u := range []string{
		"smtp://mail.example.org",
		"smtp://mail.example.org:587",
		"smtp://user:pass@mail.example.org:587",
		"smtps://mail.example.org",
		"smtps://user@mail.example.org:465",
		"smtp://[::1]:2525",
	} {
		if _, err := mail.NewSMTPSender(u); err != nil {
			t.Errorf("NewSMTPSender(%q): %v", u, err)
		}
	}
}
