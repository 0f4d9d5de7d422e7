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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/config"
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
	r = c.post("/api/v1/auth/register", map[string]string{"username": "carol2", "email": "Carol@example.com", "password": testPassword}).want(409)
	if r.field("email") == "" {
		t.Fatalf("body %s", r.Body)
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
	c.get("/api/v1/profiles/quinn").want(404)
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
