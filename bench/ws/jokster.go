package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// isLoopback accepts "localhost" and loopback IP literals only; other
// names are refused rather than resolved (a name can point anywhere).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// baseURL checks a server's base URL: http on a loopback host, no path.
func baseURL(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	if u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("%s: want a base URL such as http://127.0.0.1:18280, got %q", flagName, raw)
	}
	if !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s: %s is not a loopback address: this load generator only targets this machine", flagName, u.Hostname())
	}
	u.Path = ""
	return u, nil
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Body))
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// api is the little of Jokster's REST API the benchmark needs.
type api struct {
	base string
	hc   *http.Client
}

func (a *api) do(ctx context.Context, method, path, token, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if len(data) > 300 {
			data = data[:300]
		}
		return &apiError{Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (a *api) json(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	return a.do(ctx, method, path, token, ctype, body, out)
}

// signIn registers the account if it does not exist yet, and logs in.
func (a *api) signIn(ctx context.Context, username, password string) (string, error) {
	login := func() (string, error) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		err := a.json(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": password}, &out)
		if err == nil && out.AccessToken == "" {
			err = errors.New("no access_token in the answer")
		}
		return out.AccessToken, err
	}
	tok, err := login()
	if statusOf(err) == http.StatusUnauthorized {
		err = a.json(ctx, http.MethodPost, "/api/v1/auth/register", "",
			map[string]string{"username": username, "email": username + "@wsbench.jokster.example", "password": password}, nil)
		if err == nil || statusOf(err) == http.StatusConflict {
			tok, err = login()
		}
	}
	if err != nil {
		hint := ""
		if statusOf(err) == http.StatusTooManyRequests {
			hint = " (start the server with RATE_IP=0 RATE_REGISTER=0 RATE_LOGIN=0 RATE_COMMENT=0 RATE_WRITE=0 RATE_RATE=0)"
		}
		return "", fmt.Errorf("sign in %s: %w%s", username, err, hint)
	}
	return tok, nil
}

// createTextPost posts a caption-only post (ready at once) and returns its id.
func (a *api) createTextPost(ctx context.Context, token, caption string) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("caption", caption)
	_ = mw.Close()
	var p struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/posts", token, mw.FormDataContentType(), &buf, &p); err != nil {
		return "", fmt.Errorf("create post: %w", err)
	}
	if p.ID == "" {
		return "", errors.New("create post: no id in the answer")
	}
	return p.ID, nil
}

// comment adds a comment whose body carries the send time.
func (a *api) comment(ctx context.Context, token, post string, body []byte) error {
	return a.do(ctx, http.MethodPost, "/api/v1/posts/"+post+"/comments", token, "application/json", bytes.NewReader(body), nil)
}

// rate gives (or changes) token's rating of post.
func (a *api) rate(ctx context.Context, token, post string, stars int) error {
	return a.do(ctx, http.MethodPut, "/api/v1/posts/"+post+"/rating", token, "application/json",
		strings.NewReader(fmt.Sprintf(`{"stars":%d}`, stars)), nil)
}
