package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/api"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/ratelimit"
	"github.com/jokster/jokster/realtime"
	"github.com/jokster/jokster/testkit"
)

func TestRegisterLogin_201_200(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	r := c.post("/api/v1/auth/register", map[string]string{"username": "Alice_1", "email": "Alice@Example.com", "password": "a long passphrase with spaces"}).want(201).m()
	user := r["user"].(map[string]any)
	if user["username"] != "Alice_1" || user["email_verified"] != false {
		t.Fatalf("user = %v", user)
	}
	if e.count(`SELECT count(*) FROM profiles p JOIN users u ON u.id = p.user_id WHERE u.username = 'Alice_1'`) != 1 {
		t.Fatal("no profile created with the user")
	}
	if e.count(`SELECT count(*) FROM outbox_mail WHERE to_addr = 'Alice@Example.com' AND subject LIKE 'Confirm%'`) != 1 {
		t.Fatal("no verification mail in the outbox")
	}
	// Either identifier works, in any case; both may be sent.
	for _, body := range []map[string]string{
		{"username": "alice_1", "password": "a long passphrase with spaces"},
		{"email": "alice@example.com", "password": "a long passphrase with spaces"},
		{"username": "Alice_1", "email": "Alice@Example.com", "password": "a long passphrase with spaces"},
	} {
		var s struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int    `json:"expires_in"`
		}
		c.post("/api/v1/auth/login", body).want(200).json(&s)
		if s.AccessToken == "" || s.RefreshToken == "" || s.ExpiresIn != 900 {
			t.Fatalf("session = %+v", s)
		}
		c.token = s.AccessToken
		me := c.get("/api/v1/me").want(200).m()
		if me["username"] != "Alice_1" || me["profile"].(map[string]any)["display_name"] != "Alice_1" {
			t.Fatalf("me = %v", me)
		}
	}
	// Username and e-mail of different accounts do not log in.
	e.signup("bob")
	c.post("/api/v1/auth/login", map[string]string{"username": "bob", "email": "alice@example.com", "password": "a long passphrase with spaces"}).want(401)
}

func TestRegister_409(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.post("/api/v1/auth/register", map[string]string{"username": "carol", "email": "carol@example.com", "password": testPassword}).want(201)
	r := c.post("/api/v1/auth/register", map[string]string{"username": "CAROL", "email": "other@example.com", "password": testPassword}).want(409)
	if r.errCode() != "conflict" || r.field("username") == "" {
		t.Fatalf("body %s", r.Body)
	}
	if r.field("email") != "" {
		t.Fatalf("a free e-mail address reported taken: %s", r.Body)
	}
	r = c.post("/api/v1/auth/register", map[string]string{"username": "carol2", "email": "Carol@example.com", "password": testPassword}).want(409)
	if r.field("email") == "" || r.field("username") != "" {
		t.Fatalf("body %s", r.Body)
	}
	// Both taken: both named, so the form can show both at once.
	r = c.post("/api/v1/auth/register", map[string]string{"username": "Carol", "email": "CAROL@example.com", "password": testPassword}).want(409)
	if r.field("email") == "" || r.field("username") == "" {
		t.Fatalf("both taken, body %s", r.Body)
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("%d users", n)
	}
}

func TestRegister_400(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	cases := []struct {
		name, field string
		body        any
	}{
		{"short password", "password", map[string]string{"username": "dave", "email": "d@example.com", "password": "short"}},
		{"password is the username", "password", map[string]string{"username": "davedavedave", "email": "d@example.com", "password": "DaveDaveDave"}},
		{"bad username", "username", map[string]string{"username": "no spaces allowed", "email": "d@example.com", "password": testPassword}},
		{"reserved username", "username", map[string]string{"username": "admin", "email": "d@example.com", "password": testPassword}},
		{"bad email", "email", map[string]string{"username": "dave", "email": "not-an-address", "password": testPassword}},
		{"display name in email", "email", map[string]string{"username": "dave", "email": "Dave <d@example.com>", "password": testPassword}},
		{"wrong type", "password", `{"username":"dave","email":"d@example.com","password":12345678901}`},
		{"unknown field", "is_admin", `{"username":"dave","email":"d@example.com","password":"` + testPassword + `","is_admin":true}`},
		{"malformed", "", `{"username":"dave",`},
		{"not an object", "", `["dave"]`},
		{"trailing data", "", `{"username":"dave"} {}`},
		{"empty", "", ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/v1/auth/register", tc.body)
			if tc.body == `` {
				req, _ := http.NewRequest("POST", e.base+"/api/v1/auth/register", nil)
				r = c.send(req)
			}
			r.want(400)
			if r.errCode() != "invalid" {
				t.Fatalf("code %s", r.Body)
			}
			if tc.field != "" && r.field(tc.field) == "" {
				t.Fatalf("no message for field %s: %s", tc.field, r.Body)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("bad input wrote %d users", n)
	}
}

func TestBodyLimitsAndContentType_413_415(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	big := `{"username":"dave","email":"d@example.com","password":"` + strings.Repeat("x", 70_000) + `"}`
	if c.post("/api/v1/auth/register", big).want(413).errCode() != "too_large" {
		t.Fatal("wrong code")
	}
	// A huge announced length: the server answers after reading at most
	// its JSON limit, without waiting for the rest.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", e.cfg.UploadMaxBytes+1<<20)
	// Only the first JSON_BODY_LIMIT bytes are ever read.
	_, _ = conn.Write(bytes.Repeat([]byte(" "), e.cfg.JSONBodyLimit+1))
	hr, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	r := &resp{t: t, Status: hr.StatusCode, Header: hr.Header, Body: body}
	if r.want(413).errCode() != "too_large" {
		t.Fatal("wrong code")
	}
	req, _ := http.NewRequest("POST", e.base+"/api/v1/auth/register", nil)
	c.validate(req, nil, r)
	req, _ = http.NewRequest("POST", e.base+"/api/v1/auth/login", strings.NewReader("username=dave&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.send(req).want(415).errCode() != "unsupported" {
		t.Fatal("wrong code")
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("%d users", n)
	}
}

func TestLogin_401(t *testing.T) {
	e := newEnv(t)
	e.signup("erin")
	c := e.client()
	wrong := c.post("/api/v1/auth/login", map[string]string{"username": "erin", "password": "not the password"}).want(401)
	nobody := c.post("/api/v1/auth/login", map[string]string{"username": "nobody", "password": "not the password"}).want(401)
	if string(wrong.Body) != string(nobody.Body) {
		t.Fatalf("answers differ, revealing which accounts exist:\n%s\n%s", wrong.Body, nobody.Body)
	}
	c.post("/api/v1/auth/login", map[string]string{"password": "x"}).want(400)
	c.post("/api/v1/auth/login", map[string]string{"username": "erin"}).want(400)
}

func TestLoginThrottle_429(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.LoginFreeAttempts = 3 })
	c := e.client()
	ctx := context.Background()
	// After the free failures the next attempt waits a second from the last
	// failure, as Redis's clock tells (the server's). throttled checks that
	// attempts inside that second are refused; it returns false when the
	// second had passed before the server saw one (a slow machine), which
	// tells nothing either way, and never accepts an answer given inside it.
	throttled := func(name string, rightToo bool) bool {
		t.Helper()
		for i := 0; i < 3; i++ {
			c.post("/api/v1/auth/login", map[string]string{"username": name, "password": "wrong password"}).want(401)
		}
		last, err := e.rdb.HGet(ctx, e.rankPrefix+"rl:backoff:login:u:"+name, "t").Int64()
		if err != nil {
			t.Fatal(err)
		}
		passwords := []string{"wrong password"}
		if rightToo {
			passwords = append(passwords, testPassword) // even the right password waits: the delay is per name
		}
		for _, pw := range passwords {
			r := c.post("/api/v1/auth/login", map[string]string{"username": name, "password": pw})
			if r.Status == 429 {
				if r.errCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
					t.Fatalf("%s: %v %s", name, r.Header, r.Body)
				}
				continue
			}
			now, err := e.rdb.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if now.UnixMilli()-last < 1000 {
				t.Fatalf("%s: %d inside the back-off (%d ms after the last failure): %s", name, r.Status, now.UnixMilli()-last, r.Body)
			}
			return false
		}
		return true
	}
	for try := 1; ; try++ {
		account, ghost := fmt.Sprintf("frank%d", try), fmt.Sprintf("ghost%d", try)
		e.signup(account)
		// An account and no account behave alike.
		if throttled(account, true) && throttled(ghost, false) {
			break
		}
		if try == 3 {
			t.Fatal("three tries in a row were too slow to reach the server within the back-off's second")
		}
	}
	// Another account from the same IP is not affected (the IP allowance is larger).
	e.signup("gina")

	// A burst of parallel guesses gets the free attempts, not one each:
	// every attempt is counted before its password is checked.
	e.signup("hugo")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	began := time.Now()
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.client().post("/api/v1/auth/login", map[string]string{"username": "hugo", "password": "a guess, wrong"})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// The back-off allows one more attempt a second later (then two, …):
	// a burst that took longer may have earned them.
	allowed := 3 + int(time.Since(began)/time.Second)
	if codes[401] < 3 || codes[401] > allowed || codes[401]+codes[429] != 12 {
		t.Fatalf("12 parallel guesses got %v; want 3 checked (401; %d if the burst took that many seconds) and the rest refused (429)",
			codes, allowed)
	}
}

func TestLoginUnverified_403(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RequireVerifiedEmail = true })
	c := e.client()
	c.post("/api/v1/auth/register", map[string]string{"username": "hank", "email": "hank@example.com", "password": testPassword}).want(201)
	c.post("/api/v1/auth/login", map[string]string{"username": "hank", "password": "wrong password!"}).want(401)
	r := c.post("/api/v1/auth/login", map[string]string{"username": "hank", "password": testPassword}).want(403)
	if r.errCode() != "forbidden" {
		t.Fatal(string(r.Body))
	}
	tok := e.mailedToken("hank@example.com", "Confirm")
	c.post("/api/v1/auth/verify", map[string]string{"token": tok}).want(200)
	c.post("/api/v1/auth/login", map[string]string{"username": "hank", "password": testPassword}).want(200)
}

func TestBadTokens_401(t *testing.T) {
	e := newEnv(t)
	good := e.signup("ivy")
	key, err := accounts.SigningKey(context.Background(), e.db, "")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": "jokster", "sub": "1", "name": "ivy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	sign := func(m jwt.SigningMethod, k any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	expired := jwt.MapClaims{}
	for k, v := range claims {
		expired[k] = v
	}
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	noExp := jwt.MapClaims{"iss": "jokster", "sub": "1", "name": "ivy"}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	none := header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	cases := map[string]string{
		"garbage":       "not-a-token",
		"alg none":      none,
		"wrong key":     sign(jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), claims),
		"HS512 refused": sign(jwt.SigningMethodHS512, key, claims),
		"expired":       sign(jwt.SigningMethodHS256, key, expired),
		"no expiry":     sign(jwt.SigningMethodHS256, key, noExp),
		"tampered":      good.token[:len(good.token)-4] + "AAAA",
	}
	c := e.client()
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c.token = tok
			r := c.get("/api/v1/me").want(401)
			if r.errCode() != "unauthorized" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%v %s", r.Header, r.Body)
			}
		})
	}
	c.token = ""
	c.get("/api/v1/me").want(401)
	req, _ := http.NewRequest("GET", e.base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Basic aXZ5Onh4")
	c.send(req).want(401)
	// A correctly signed token works, proving the cases above fail for
	// the reason they name.
	c.token = sign(jwt.SigningMethodHS256, key, claims)
	c.get("/api/v1/me").want(200)
}

func TestRefreshRotation_200_401(t *testing.T) {
	e := newEnv(t)
	e.signup("jack")
	c := e.client()
	type session struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	var s1, s2, s3 session
	c.post("/api/v1/auth/login", map[string]string{"username": "jack", "password": testPassword}).want(200).json(&s1)
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s1.RefreshToken}).want(200).json(&s2)
	if s2.RefreshToken == s1.RefreshToken || s2.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	c.token = s2.AccessToken
	c.get("/api/v1/me").want(200)
	// Within 30 s of its use the token works again (a reload dropped the
	// answer, or two tabs refreshed at once): a new token of the same
	// family, and the first answer's token stays good.
	var again session
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s1.RefreshToken}).want(200).json(&again)
	if again.RefreshToken == s2.RefreshToken || again.RefreshToken == s1.RefreshToken || again.AccessToken == "" {
		t.Fatal("a refresh within the grace did not give a new session")
	}
	c.token = again.AccessToken
	c.get("/api/v1/me").want(200)
	// Used again later, the grace (from the first use) is over.
	if _, err := e.db.Exec(context.Background(), `UPDATE refresh_tokens SET used_at = used_at - interval '31 seconds'
		WHERE token_hash = sha256($1::text::bytea)`, s1.RefreshToken); err != nil {
		t.Fatal(err)
	}
	// A thief replays the first token: the whole family is revoked…
	r := c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s1.RefreshToken}).want(401)
	if !strings.Contains(string(r.Body), "already used") {
		t.Fatalf("body %s", r.Body)
	}
	// …so the legitimate newer tokens are dead too.
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s2.RefreshToken}).want(401)
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": again.RefreshToken}).want(401)
	// Other sessions (families) live on.
	c.post("/api/v1/auth/login", map[string]string{"username": "jack", "password": testPassword}).want(200).json(&s3)
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s3.RefreshToken}).want(200)
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": "made-up"}).want(401)
	c.post("/api/v1/auth/refresh", nil).want(401)
	if n := e.count(`SELECT count(*) FROM refresh_tokens WHERE token_hash = sha256($1::text::bytea)`, s1.RefreshToken); n != 1 {
		t.Fatal("refresh tokens must be stored hashed")
	}
}

func TestRefreshCookieAndLogout_200_204(t *testing.T) {
	e := newEnv(t)
	e.signup("kate")
	c := e.client()
	r := c.post("/api/v1/auth/login", map[string]string{"email": "kate@example.com", "password": testPassword}).want(200)
	ck := r.Header.Get("Set-Cookie")
	for _, want := range []string{"jokster_refresh=", "HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"} {
		if !strings.Contains(strings.ToLower(ck), strings.ToLower(want)) {
			t.Fatalf("cookie %q lacks %q", ck, want)
		}
	}
	// The browser path: no body, the cookie jar sends the cookie.
	c.post("/api/v1/auth/refresh", nil).want(200)
	c.post("/api/v1/auth/refresh", nil).want(200)
	c.post("/api/v1/auth/logout", nil).want(204)
	c.post("/api/v1/auth/refresh", nil).want(401)
	// Only the session signup opened on another client is still alive.
	if n := e.count(`SELECT count(DISTINCT family) FROM refresh_tokens WHERE revoked_at IS NULL`); n != 1 {
		t.Fatalf("%d live sessions after logout, want 1", n)
	}
}

func TestChangePassword_200_403(t *testing.T) {
	e := newEnv(t)
	c := e.signup("liam")
	other := e.client()
	var old struct {
		RefreshToken string `json:"refresh_token"`
	}
	other.post("/api/v1/auth/login", map[string]string{"username": "liam", "password": testPassword}).want(200).json(&old)
	c.post("/api/v1/me/password", map[string]string{"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"}).want(403)
	c.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "short"}).want(400)
	var s struct {
		AccessToken string `json:"access_token"`
	}
	c.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).want(200).json(&s)
	c.token = s.AccessToken
	c.get("/api/v1/me").want(200)
	other.post("/api/v1/auth/refresh", map[string]string{"refresh_token": old.RefreshToken}).want(401)
	c.post("/api/v1/auth/login", map[string]string{"username": "liam", "password": testPassword}).want(401)
	c.post("/api/v1/auth/login", map[string]string{"username": "liam", "password": "a brand new passphrase"}).want(200)
	if e.count(`SELECT count(*) FROM outbox_mail WHERE to_addr = 'liam@example.com' AND subject LIKE '%password was changed%'`) != 1 {
		t.Fatal("no warning mail")
	}
}

func TestForgotAndResetPassword_202_204_400(t *testing.T) {
	e := newEnv(t)
	e.signup("mia")
	c := e.client()
	known := c.post("/api/v1/auth/password/forgot", map[string]string{"email": "MIA@example.com"}).want(202)
	unknown := c.post("/api/v1/auth/password/forgot", map[string]string{"email": "nobody@example.com"}).want(202)
	if string(known.Body) != string(unknown.Body) {
		t.Fatal("the answer reveals whether the address exists")
	}
	if e.count(`SELECT count(*) FROM outbox_mail WHERE subject LIKE 'Reset%'`) != 1 {
		t.Fatal("want exactly one reset mail")
	}
	// Asking again within a minute sends nothing more (no mail bombing).
	c.post("/api/v1/auth/password/forgot", map[string]string{"email": "mia@example.com"}).want(202)
	if e.count(`SELECT count(*) FROM outbox_mail WHERE subject LIKE 'Reset%'`) != 1 {
		t.Fatal("a second mail within a minute")
	}
	tok := e.mailedToken("mia@example.com", "Reset")
	c.post("/api/v1/auth/password/reset", map[string]string{"token": tok, "password": "tiny"}).want(400)
	c.post("/api/v1/auth/password/reset", map[string]string{"token": "bogus", "password": "the new long password"}).want(400)
	c.post("/api/v1/auth/password/reset", map[string]string{"token": tok, "password": "the new long password"}).want(204)
	r := c.post("/api/v1/auth/password/reset", map[string]string{"token": tok, "password": "another long password"}).want(400)
	if r.field("token") == "" {
		t.Fatal(string(r.Body))
	}
	c.post("/api/v1/auth/login", map[string]string{"username": "mia", "password": "the new long password"}).want(200)
	// Expired links fail.
	c.post("/api/v1/auth/password/forgot", map[string]string{"email": "bad"}).want(400)
	_, err := e.db.Exec(context.Background(), `UPDATE account_tokens SET created_at = now() - interval '2 hours'`)
	if err != nil {
		t.Fatal(err)
	}
	c.post("/api/v1/auth/password/forgot", map[string]string{"email": "mia@example.com"}).want(202)
	tok = e.mailedToken("mia@example.com", "Reset")
	_, _ = e.db.Exec(context.Background(), `UPDATE account_tokens SET expires_at = now() - interval '1 second'`)
	c.post("/api/v1/auth/password/reset", map[string]string{"token": tok, "password": "yet another password"}).want(400)
}

func TestVerifyEmailLink_303(t *testing.T) {
	e := newEnv(t)
	c := e.signup("noah")
	tok := e.mailedToken("noah@example.com", "Confirm")
	r := c.get("/api/v1/auth/verify?token=" + tok).want(303)
	if r.Header.Get("Location") != "/?email_verified=1" {
		t.Fatal(r.Header)
	}
	if c.get("/api/v1/me").want(200).m()["email_verified"] != true {
		t.Fatal("not verified")
	}
	if c.get("/api/v1/auth/verify?token="+tok).want(303).Header.Get("Location") != "/?email_verified=0" {
		t.Fatal("a used link verified again")
	}
	c.post("/api/v1/auth/verify/resend", nil).want(409)
}

func TestChangeEmail_202_200_409(t *testing.T) {
	e := newEnv(t)
	c := e.signup("olga")
	e.signup("pete")
	c.post("/api/v1/me/email", map[string]string{"new_email": "pete@example.com", "password": testPassword}).want(409)
	c.post("/api/v1/me/email", map[string]string{"new_email": "olga@new.example", "password": "wrong password"}).want(403)
	c.post("/api/v1/me/email", map[string]string{"new_email": "nope", "password": testPassword}).want(400)
	c.post("/api/v1/me/email", map[string]string{"new_email": "olga@new.example", "password": testPassword}).want(202)
	if c.get("/api/v1/me").want(200).m()["email"] != "olga@example.com" {
		t.Fatal("changed before confirmation")
	}
	if e.count(`SELECT count(*) FROM outbox_mail WHERE to_addr = 'olga@example.com' AND subject LIKE '%about to change%'`) != 1 {
		t.Fatal("the old address was not warned")
	}
	tok := e.mailedToken("olga@new.example", "new Jokster e-mail")
	r := c.post("/api/v1/auth/email/confirm", map[string]string{"token": tok}).want(200).m()
	if r["email"] != "olga@new.example" {
		t.Fatal(r)
	}
	me := c.get("/api/v1/me").want(200).m()
	if me["email"] != "olga@new.example" || me["email_verified"] != true {
		t.Fatal(me)
	}
	c.post("/api/v1/auth/email/confirm", map[string]string{"token": tok}).want(400)
	c.post("/api/v1/auth/login", map[string]string{"email": "olga@new.example", "password": testPassword}).want(200)
}

func TestDeleteAccountAndExport_200_204(t *testing.T) {
	e := newEnv(t)
	c := e.signup("quinn")
	fan := e.signup("rita")
	fan.post("/api/v1/profiles/quinn/follow", nil).want(200)
	c.post("/api/v1/profiles/rita/follow", nil).want(200)

	r := c.get("/api/v1/me/export").want(200)
	if !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatal(r.Header)
	}
	var doc struct {
		Account   map[string]any   `json:"account"`
		Profile   map[string]any   `json:"profile"`
		Following []map[string]any `json:"following"`
		Followers []map[string]any `json:"followers"`
		Sessions  []map[string]any `json:"sessions"`
	}
	r.json(&doc)
	if doc.Account["username"] != "quinn" || len(doc.Following) != 1 || len(doc.Followers) != 1 || len(doc.Sessions) != 1 || doc.Profile == nil {
		t.Fatalf("export %s", r.Body)
	}
	if strings.Contains(string(r.Body), "argon2") {
		t.Fatal("the export leaks the password hash")
	}

	c.do("DELETE", "/api/v1/me", map[string]string{"password": "wrong password"}).want(403)
	fans := fan.newPost(nil, "", "caption", "rita's joke").want(201).post()
	c.do("DELETE", "/api/v1/me", map[string]string{"password": testPassword}).want(204)
	// Writes with the token that outlives the account are refused, not
	// failed: the rows they would add refer to an account that is gone.
	c.newPost(nil, "", "caption", "from beyond").want(401)
	c.post("/api/v1/posts/"+fans.ID+"/comments", map[string]string{"body": "boo"}).want(401)
	c.do("PUT", "/api/v1/posts/"+fans.ID+"/rating", map[string]int{"stars": 5}).want(401)
	c.get("/api/v1/me").want(401)
	// The access token outlives the account for a few minutes; it can do nothing.
	c.post("/api/v1/profiles/rita/follow", nil).want(401)
	c.get("/api/v1/me/export").want(401)
	// Even where a token is optional: it is a bad token, not no token.
	c.get("/api/v1/profiles/quinn").want(401)
	e.client().get("/api/v1/profiles/quinn").want(404)
	c.post("/api/v1/auth/login", map[string]string{"username": "quinn", "password": testPassword}).want(401)
	p := fan.get("/api/v1/profiles/rita").want(200).m()
	if p["followers_count"] != 0.0 || p["following_count"] != 0.0 {
		t.Fatalf("counts not updated after the cascade: %v", p)
	}
	for _, table := range []string{"profiles", "follows", "refresh_tokens", "account_tokens", "notifications"} {
		if n := e.count(`SELECT count(*) FROM ` + table + ` t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.username = 'rita')`); n != 0 {
			t.Fatalf("rita is gone from %s?", table)
		}
	}
	if n := e.count(`SELECT count(*) FROM notifications WHERE actor_id IS NULL`); n != 1 {
		t.Fatalf("rita's follow notification from quinn should remain without its actor, got %d", n)
	}
}

// TestRedisDown_503 stops Redis under a running server: readiness says so,
// while log-in (throttling fails open) and reads that need only PostgreSQL
// keep working; when Redis is back, readiness recovers.
func TestRedisDown_503(t *testing.T) {
	srv, err := testkit.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := newEnv(t, func(c *config.Config) { c.RedisURL = "redis://" + srv.Addr + "/0" })
	e.signup("uma")
	c := e.client()
	c.get("/readyz").want(200)
	srv.Stop()
	r := c.get("/readyz").want(503).m()
	checks := r["checks"].(map[string]any)
	if checks["postgres"] != "ok" || checks["redis"] == "ok" {
		t.Fatal(r)
	}
	c.post("/api/v1/auth/login", map[string]string{"username": "uma", "password": testPassword}).want(200)
	c.get("/api/v1/profiles/uma").want(200)
	srv2, err := testkit.StartRedisOn(srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.Stop)
	deadline := time.Now().Add(20 * time.Second)
	for c.get("/readyz").Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("readiness did not recover")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Deleting an account takes its posts (deleted by the cascade) off every
// board at once, and its author off the creators board.
func TestDeleteAccountLeavesTheBoards_204(t *testing.T) {
	e := newEnv(t)
	vic, rater := e.signup("victor"), e.signup("wendy")
	var mine []string
	for i := range 3 {
		p := vic.newPost(nil, "", "caption", fmt.Sprintf("joke %d", i), "tags", "cats").want(201).post()
		mine = append(mine, p.ID)
	}
	other := rater.newPost(nil, "", "caption", "another joke").want(201).post()
	e.waitRanked()
	rater.do("PUT", "/api/v1/posts/"+mine[0]+"/rating", map[string]int{"stars": 5}).want(200)
	ids := func(path string) []string {
		var page struct {
			Items []struct {
				Rank    int                  `json:"rank"`
				Post    *struct{ ID string } `json:"post"`
				Creator *struct {
					Username string `json:"username"`
				} `json:"creator"`
			} `json:"items"`
		}
		rater.get(path).want(200).json(&page)
		var out []string
		for _, it := range page.Items {
			if it.Post != nil {
				out = append(out, fmt.Sprintf("%s@%d", it.Post.ID, it.Rank))
			} else if it.Creator != nil {
				out = append(out, fmt.Sprintf("%s@%d", it.Creator.Username, it.Rank))
			}
		}
		slices.Sort(out)
		return out
	}
	if got := ids("/api/v1/leaderboards/top"); len(got) != 4 {
		t.Fatalf("top before: %v", got)
	}
	if got := ids("/api/v1/leaderboards/creators"); !slices.Equal(got, []string{"victor@1"}) {
		t.Fatalf("creators before: %v", got)
	}

	vic.do("DELETE", "/api/v1/me", map[string]string{"password": testPassword}).want(204)
	for _, board := range []string{"top", "hot", "top?window=day"} {
		// A page skips posts that are gone, so ranks tell whether the board
		// still counts them.
		if got := ids("/api/v1/leaderboards/" + board); !slices.Equal(got, []string{other.ID + "@1"}) {
			t.Fatalf("%s after the account went: %v, want only %s at rank 1", board, got, other.ID)
		}
	}
	if got := ids("/api/v1/leaderboards/tag:cats"); len(got) != 0 {
		t.Fatalf("tag:cats after the account went: %v, want none", got)
	}
	// The creators board: wendy, once rated, is first, not second behind
	// the account that is gone.
	other2 := vic.e.signup("xena")
	other2.do("PUT", "/api/v1/posts/"+other.ID+"/rating", map[string]int{"stars": 4}).want(200)
	e.eventually("wendy on the creators board", func() bool {
		return slices.Equal(ids("/api/v1/leaderboards/creators"), []string{"wendy@1"})
	})
}

// Someone who knew the password asks to move the account to their own
// address; the owner, warned, changes the password: the move's link is
// dead. And a reset link mailed to an address the account left is dead.
func TestStaleLinksAfterPasswordOrEmailChange_400(t *testing.T) {
	e := newEnv(t)
	owner := e.signup("quill")
	attacker := e.client()
	attacker.login("quill", testPassword)
	attacker.post("/api/v1/me/email", map[string]string{"new_email": "thief@evil.example", "password": testPassword}).want(202)
	steal := e.mailedToken("thief@evil.example", "new Jokster e-mail")
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	owner.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).
		want(200).json(&sess)
	owner.token = sess.AccessToken
	if f := attacker.post("/api/v1/auth/email/confirm", map[string]string{"token": steal}).want(400).field("token"); f == "" {
		t.Fatal("no field error for the dead link")
	}
	if me := owner.get("/api/v1/me").want(200).m(); me["email"] != "quill@example.com" {
		t.Fatalf("the address moved: %v", me["email"])
	}

	// A password reset mailed to the old address, then the address moves.
	e.client().post("/api/v1/auth/password/forgot", map[string]string{"email": "quill@example.com"}).want(202)
	reset := e.mailedToken("quill@example.com", "Reset")
	owner.post("/api/v1/me/email", map[string]string{"new_email": "quill@new.example", "password": "a brand new passphrase"}).want(202)
	move := e.mailedToken("quill@new.example", "new Jokster e-mail")
	owner.post("/api/v1/auth/email/confirm", map[string]string{"token": move}).want(200)
	e.client().post("/api/v1/auth/password/reset", map[string]string{"token": reset, "password": "the old mailbox's password"}).want(400)
	e.client().post("/api/v1/auth/login", map[string]string{"username": "quill", "password": "a brand new passphrase"}).want(200)
}

type sessionBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// wantSignedOut checks that token is refused as a signed-out one on a
// route that requires a token and on one where a token is optional.
func (c *client) wantSignedOut(token string) {
	c.e.t.Helper()
	saved := c.token
	defer func() { c.token = saved }()
	c.token = token
	r := c.get("/api/v1/me").want(401)
	if r.errCode() != "unauthorized" || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
		c.e.t.Fatalf("%v %s", r.Header, r.Body)
	}
	c.get("/api/v1/posts").want(401)
}

// A password change ends every access token issued before it, on every
// route, while the token it returns works at once, though issued in the
// same second; so does a log-in right after.
func TestChangePasswordEndsAccessTokens_401(t *testing.T) {
	e := newEnv(t)
	c := e.signup("sam")
	other := e.client()
	other.login("sam", testPassword)
	before, otherBefore := c.token, other.token
	c.get("/api/v1/me").want(200)
	other.get("/api/v1/posts").want(200)

	var s sessionBody
	c.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).want(200).json(&s)
	c.wantSignedOut(before)
	c.wantSignedOut(otherBefore)
	c.token = s.AccessToken
	c.get("/api/v1/me").want(200)
	c.get("/api/v1/posts").want(200)
	other.login("sam", "a brand new passphrase")
	other.get("/api/v1/me").want(200)
	// A session refreshed from the new one keeps working too.
	var r sessionBody
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).want(200).json(&r)
	c.token = r.AccessToken
	c.get("/api/v1/me").want(200)
}

func TestResetPasswordEndsAccessTokens_401(t *testing.T) {
	e := newEnv(t)
	c := e.signup("tess")
	before := c.token
	c.get("/api/v1/me").want(200)
	e.client().post("/api/v1/auth/password/forgot", map[string]string{"email": "tess@example.com"}).want(202)
	tok := e.mailedToken("tess@example.com", "Reset")
	e.client().post("/api/v1/auth/password/reset", map[string]string{"token": tok, "password": "the new long password"}).want(204)
	c.wantSignedOut(before)
	c.login("tess", "the new long password")
	c.get("/api/v1/me").want(200)
}

// Logging out ends that session's access token; the account's other
// sessions go on.
func TestLogoutEndsItsAccessToken_401(t *testing.T) {
	e := newEnv(t)
	e.signup("ursa")
	phone, laptop := e.client(), e.client()
	var p, l sessionBody
	phone.post("/api/v1/auth/login", map[string]string{"username": "ursa", "password": testPassword}).want(200).json(&p)
	laptop.post("/api/v1/auth/login", map[string]string{"username": "ursa", "password": testPassword}).want(200).json(&l)
	phone.token, laptop.token = p.AccessToken, l.AccessToken
	phone.get("/api/v1/me").want(200)
	// The browser path: the cookie names the session.
	phone.post("/api/v1/auth/logout", nil).want(204)
	phone.wantSignedOut(p.AccessToken)
	laptop.get("/api/v1/me").want(200)
	laptop.post("/api/v1/auth/logout", map[string]string{"refresh_token": l.RefreshToken}).want(204)
	laptop.wantSignedOut(l.AccessToken)
}

// A reused refresh token revokes its family: the access tokens issued for
// that session end with it, other sessions' do not.
func TestRefreshReuseEndsItsAccessTokens_401(t *testing.T) {
	e := newEnv(t)
	e.signup("vera")
	c, other := e.client(), e.client()
	var s1, s2, o sessionBody
	c.post("/api/v1/auth/login", map[string]string{"username": "vera", "password": testPassword}).want(200).json(&s1)
	other.post("/api/v1/auth/login", map[string]string{"username": "vera", "password": testPassword}).want(200).json(&o)
	other.token = o.AccessToken
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s1.RefreshToken}).want(200).json(&s2)
	c.token = s2.AccessToken
	c.get("/api/v1/me").want(200)
	if _, err := e.db.Exec(context.Background(), `UPDATE refresh_tokens SET used_at = used_at - interval '31 seconds'
		WHERE token_hash = sha256($1::text::bytea)`, s1.RefreshToken); err != nil {
		t.Fatal(err)
	}
	c.post("/api/v1/auth/refresh", map[string]string{"refresh_token": s1.RefreshToken}).want(401)
	c.wantSignedOut(s2.AccessToken)
	c.wantSignedOut(s1.AccessToken)
	other.get("/api/v1/me").want(200)
}

// node starts another API node on e's database and Redis with its own
// accounts service, and so its own cache of sign-outs, as a second
// `jokster serve` behind nginx would have.
func (e *env) node() *env {
	e.t.Helper()
	ctx := context.Background()
	key, err := accounts.SigningKey(ctx, e.db, e.cfg.JWTSecret)
	if err != nil {
		e.t.Fatal(err)
	}
	tokens, err := accounts.NewTokens(key, e.cfg.AccessTokenTTL)
	if err != nil {
		e.t.Fatal(err)
	}
	d := e.deps
	d.Accounts = accounts.New(e.db, tokens, e.out, ratelimit.NewBackoff(e.rdb, e.rankPrefix, e.cfg.LoginMaxDelay), accounts.Settings{
		PublicURL: e.cfg.PublicURL, RefreshTTL: e.cfg.RefreshTokenTTL, VerifyTTL: e.cfg.VerifyTokenTTL, ResetTTL: e.cfg.ResetTokenTTL,
		LoginFreeAttempts: e.cfg.LoginFreeAttempts, LoginIPFreeAttempts: e.cfg.LoginIPFreeAttempts, Hash: fastHash,
	})
	d.Hub = nil
	app := api.New(d)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	e.t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	n := *e
	n.base = "http://" + ln.Addr().String()
	n.acc = d.Accounts
	n.deps = d
	return &n
}

// A password change made through one node ends the old access tokens on
// the others too: at once on a node that sees a token issued after the
// change, and within its cache's few seconds on any other.
func TestChangePasswordEndsAccessTokensOnEveryNode_401(t *testing.T) {
	e := newEnv(t)
	n2, n3 := e.node(), e.node()
	a := e.signup("wynn")
	old := a.token
	on2, on3 := n2.client(), n3.client()
	on2.token, on3.token = old, old
	on2.get("/api/v1/me").want(200) // now in n2's cache
	on3.get("/api/v1/me").want(200) // and n3's
	var s sessionBody
	a.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).want(200).json(&s)
	a.wantSignedOut(old)
	on2.token = s.AccessToken
	on2.get("/api/v1/me").want(200)
	on2.wantSignedOut(old)
	n3.eventually("the old token is refused on the third node", func() bool {
		return on3.get("/api/v1/me").Status == 401
	})
	on3.wantSignedOut(old)
}

// Two changes that both checked the same current password: one is made,
// the other finds the password changed and changes nothing (409), rather
// than silently replacing the first one's password.
func TestConcurrentPasswordChanges_200_409(t *testing.T) {
	e := newEnv(t)
	a := e.signup("xavi")
	ctx := context.Background()
	// Hold the account's row so that both requests have checked the
	// current password and wait to write when they are let go.
	tx, err := e.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE username = 'xavi' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	news := []string{"first new passphrase", "second new passphrase"}
	statuses := make([]int, 2)
	bodies := make([]*resp, 2)
	var wg sync.WaitGroup
	for i, pw := range news {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client()
			c.token = a.token
			bodies[i] = c.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": pw})
			statuses[i] = bodies[i].Status
		}()
	}
	e.eventually("both changes wait to write", func() bool {
		return e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'UPDATE users SET password_hash%'`) == 2
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	won := slices.Index(statuses, 200)
	lost := 1 - won
	if won < 0 || statuses[lost] != 409 {
		t.Fatalf("statuses %v, want one 200 and one 409", statuses)
	}
	if bodies[lost].errCode() != "conflict" || bodies[lost].field("current_password") == "" {
		t.Fatalf("body %s", bodies[lost].Body)
	}
	c := e.client()
	c.post("/api/v1/auth/login", map[string]string{"username": "xavi", "password": news[lost]}).want(401)
	c.post("/api/v1/auth/login", map[string]string{"username": "xavi", "password": testPassword}).want(401)
	c.login("xavi", news[won])
	if n := e.count(`SELECT count(*) FROM outbox_mail WHERE subject LIKE '%password was changed%'`); n != 1 {
		t.Fatalf("%d warning mails for one change", n)
	}
}

// The export has the user's posts, comments, ratings, reactions, reports
// and bans, ids as strings like everywhere in the API; and it is complete
// however much there is.
func TestExportEverything_200(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	yves, zoe, mod := e.signup("yves"), e.signup("zoe"), e.signup("moda")
	if _, err := e.db.Exec(ctx, `UPDATE users SET is_admin = true WHERE username = 'moda'`); err != nil {
		t.Fatal(err)
	}
	mine := yves.newPost(nil, "", "caption", "my joke", "tags", "cats").want(201).post()
	theirs := zoe.newPost(nil, "", "caption", "their joke").want(201).post()
	path := "/api/v1/posts/" + theirs.ID
	yves.post(path+"/comments", map[string]string{"body": "ha!"}).want(201)
	yves.do("PUT", path+"/rating", map[string]int{"stars": 4}).want(200)
	yves.do("PUT", path+"/reactions/laugh", nil).want(200)
	yves.post(path+"/report", map[string]string{"reason": "spam", "note": "seen it"}).want(202)
	zoe.post(path+"/comments", map[string]string{"body": "not yours"}).want(201)
	mod.do("PUT", "/api/v1/admin/users/yves/ban", map[string]any{"hours": 1, "reason": "spam"}).want(200)

	type item = map[string]any
	var doc map[string]json.RawMessage
	yves.get("/api/v1/me/export").want(200).json(&doc)
	list := func(name string) []item {
		t.Helper()
		var l []item
		if err := json.Unmarshal(doc[name], &l); err != nil {
			t.Fatalf("%s: %v in %s", name, err, doc[name])
		}
		return l
	}
	for _, name := range []string{"exported_at", "account", "profile", "following", "followers", "posts", "comments",
		"ratings", "reactions", "reports", "bans", "notifications", "sessions"} {
		if doc[name] == nil {
			t.Errorf("no section %s", name)
		}
	}
	check := func(name string, want int, fields item) {
		t.Helper()
		l := list(name)
		if len(l) != want {
			t.Fatalf("%s: %d items, want %d: %v", name, len(l), want, l)
		}
		for k, v := range fields {
			if l[0][k] != v {
				t.Fatalf("%s: %s = %#v, want %#v: %v", name, k, l[0][k], v, l[0])
			}
		}
	}
	check("posts", 1, item{"id": mine.ID, "caption": "my joke", "status": "ready"})
	if tags := list("posts")[0]["tags"]; !reflect.DeepEqual(tags, []any{"cats"}) {
		t.Fatalf("tags %v", tags)
	}
	check("comments", 1, item{"post_id": theirs.ID, "body": "ha!"})
	if _, ok := list("comments")[0]["id"].(string); !ok {
		t.Fatalf("comment id not a string: %v", list("comments")[0])
	}
	check("ratings", 1, item{"post_id": theirs.ID, "stars": 4.0})
	check("reactions", 1, item{"post_id": theirs.ID, "kind": "laugh"})
	check("reports", 1, item{"post_id": theirs.ID, "reason": "spam", "note": "seen it"})
	check("bans", 1, item{"reason": "spam"})
	if strings.Contains(string(doc["comments"]), "not yours") {
		t.Fatal("someone else's comment is in the export")
	}

	// Thousands of rows come through whole, as valid JSON.
	if _, err := e.db.Exec(ctx, `WITH p AS (
			INSERT INTO posts (author_id, caption, kind, status)
			SELECT u.id, 'bulk ' || g, 'text', 'ready' FROM users u, generate_series(1, 3000) g WHERE u.username = 'zoe'
			RETURNING id)
		INSERT INTO ratings (post_id, user_id, stars) SELECT p.id, u.id, 3 FROM p, users u WHERE u.username = 'yves'`); err != nil {
		t.Fatal(err)
	}
	doc = nil
	yves.get("/api/v1/me/export").want(200).json(&doc)
	if n := len(list("ratings")); n != 3001 {
		t.Fatalf("%d ratings exported, want 3001", n)
	}
	for _, r := range list("ratings") {
		if _, ok := r["post_id"].(string); !ok {
			t.Fatalf("post_id not a string: %v", r)
		}
	}
}

// A password change ends the private live stream of the connections signed
// in with the old token: a `me` subscription made before it is ended (the
// hub checks tokens again), one asked for after it is refused, and the old
// token no longer signs a connection in; the new one does.
func TestLive_PasswordChangeEndsMe(t *testing.T) {
	hubTweaks = []func(*realtime.Config){func(c *realtime.Config) { c.TokenRecheck = 100 * time.Millisecond }}
	defer func() { hubTweaks = nil }()
	e := newEnv(t)
	a := e.signup("yara")
	old := a.token
	subscribed := e.ws(nil)
	subscribed.send(map[string]any{"type": "auth", "token": old})
	subscribed.wait("auth ok", func(m map[string]any) bool { return m["type"] == "auth_ok" })
	subscribed.send(map[string]any{"type": "subscribe", "ch": "me"})
	subscribed.wait("me snapshot", is("me", "snapshot"))

	var s sessionBody
	a.post("/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).want(200).json(&s)
	m := subscribed.wait("me ended", func(m map[string]any) bool { return m["type"] == "error" && m["ch"] == "me" })
	if m["code"] != "unauthorized" || !strings.Contains(m["message"].(string), "signed out") {
		t.Fatal(m)
	}
	subscribed.send(map[string]any{"type": "subscribe", "ch": "me"})
	e.eventually("me refused again", func() bool {
		return subscribed.count(func(m map[string]any) bool {
			return m["type"] == "error" && m["ch"] == "me" && m["code"] == "unauthorized"
		}) == 2
	})

	later := e.ws(nil)
	later.send(map[string]any{"type": "auth", "token": old})
	later.wait("old token refused", func(m map[string]any) bool {
		return m["type"] == "error" && m["code"] == "unauthorized" && m["ch"] == nil
	})
	later.send(map[string]any{"type": "auth", "token": s.AccessToken})
	later.wait("auth ok", func(m map[string]any) bool { return m["type"] == "auth_ok" })
	later.send(map[string]any{"type": "subscribe", "ch": "me"})
	later.wait("me snapshot", is("me", "snapshot"))
	e.signup("zack").post("/api/v1/profiles/yara/follow", nil).want(200)
	later.wait("notification", is("me", "notification"))
}

// Without the periodic check, a `me` subscription asked for with a token
// signed out since the auth is refused all the same.
func TestLive_MeRefusedAfterSignOut(t *testing.T) {
	hubTweaks = []func(*realtime.Config){func(c *realtime.Config) { c.TokenRecheck = 0 }}
	defer func() { hubTweaks = nil }()
	e := newEnv(t)
	a := e.signup("yuri")
	w := e.ws(nil)
	w.send(map[string]any{"type": "auth", "token": a.token})
	w.wait("auth ok", func(m map[string]any) bool { return m["type"] == "auth_ok" })
	a.post("/api/v1/auth/logout", nil).want(204)
	w.send(map[string]any{"type": "subscribe", "ch": "me"})
	m := w.wait("me refused", func(m map[string]any) bool { return m["type"] == "error" && m["ch"] == "me" })
	if m["code"] != "unauthorized" || w.count(is("me", "snapshot")) != 0 {
		t.Fatal(m)
	}
}

// An account deletion whose password was right when checked but changed
// before the deletion could be written (the owner locking out an intruder
// who knew the old one) deletes nothing: 409.
func TestDeleteAccountAfterPasswordChange_409(t *testing.T) {
	e := newEnv(t)
	a := e.signup("yara")
	r := e.passwordChangedWhileWaiting("yara", "%DELETE FROM users%", func() *resp {
		return a.do("DELETE", "/api/v1/me", map[string]string{"password": testPassword})
	}).want(409)
	if r.errCode() != "conflict" || r.field("password") == "" {
		t.Fatalf("body %s", r.Body)
	}
	if e.count(`SELECT count(*) FROM users WHERE username = 'yara'`) != 1 {
		t.Fatal("the account was deleted with a password that had changed")
	}
}

// passwordChangedWhileWaiting holds username's row, sends the request,
// waits until it waits for that row in a statement matching queryLike,
// changes the password and lets go; it returns the request's answer.
func (e *env) passwordChangedWhileWaiting(username, queryLike string, send func() *resp) *resp {
	t := e.t
	t.Helper()
	ctx := context.Background()
	tx, err := e.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE username = $1 FOR UPDATE`, username); err != nil {
		t.Fatal(err)
	}
	done := make(chan *resp, 1)
	go func() { done <- send() }()
	e.eventually("the request waits to write", func() bool {
		return e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE $1`, queryLike) == 1
	})
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = 'changed meanwhile' WHERE username = $1`, username); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// An address change whose password was right when checked but changed
// before the change's link could be written sends no link: a change of
// password voids pending address changes, and one written after it would
// let whoever knew the old password take the account. 409.
func TestChangeEmailAfterPasswordChange_409(t *testing.T) {
	e := newEnv(t)
	a := e.signup("zeno")
	r := e.passwordChangedWhileWaiting("zeno", "%FOR NO KEY UPDATE%", func() *resp {
		return a.post("/api/v1/me/email", map[string]string{"new_email": "zeno2@example.com", "password": testPassword})
	}).want(409)
	if r.errCode() != "conflict" || r.field("password") == "" {
		t.Fatalf("body %s", r.Body)
	}
	if n := e.count(`SELECT count(*) FROM account_tokens WHERE purpose = 'change_email'`); n != 0 {
		t.Fatalf("%d address-change links written after the password changed", n)
	}
}

// The ratings an account's deletion takes with it leave the boards with
// the account, not at the next reconcile: by the time the deletion is
// answered the post's board score is the one its remaining ratings give.
func TestDeleteAccountTakesItsRatingsOffTheBoards_204(t *testing.T) {
	e := newEnv(t)
	alice, vera, bob := e.signup("alice"), e.signup("vera"), e.signup("bob")
	p := alice.newPost(nil, "", "caption", "a joke").want(201).post()
	e.waitRanked()
	vera.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 5}).want(200)
	bob.do("PUT", "/api/v1/posts/"+p.ID+"/rating", map[string]int{"stars": 1}).want(200)
	id, err := strconv.ParseInt(p.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	board := e.rankPrefix + "board:top:all"
	want := ranking.BoardScore(ranking.TopScore(ranking.Histogram{1, 0, 0, 0, 0}), id) // bob's rating alone
	e.eventually("both ratings on the board", func() bool {
		s, err := e.rdb.ZScore(ctx, board, p.ID).Result()
		return err == nil && s == ranking.BoardScore(ranking.TopScore(ranking.Histogram{1, 0, 0, 0, 1}), id)
	})
	vera.do("DELETE", "/api/v1/me", map[string]string{"password": testPassword}).want(204)
	if s, err := e.rdb.ZScore(ctx, board, p.ID).Result(); err != nil || s != want {
		t.Fatalf("board score right after the deletion: %v %v, want %v (bob's rating alone)", s, err, want)
	}
}
