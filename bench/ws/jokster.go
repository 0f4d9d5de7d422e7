package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// baseURL checks a server's base URL: http on a loopback host, no path.
func baseURL(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	if u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("%s: want a base URL such as http://127.0.0.1:18280, got %q", flagName, raw)
	}
	if !loadkit.IsLoopback(u.Hostname()) {
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

// api is the little of Jokster's REST API the benchmark needs.
type api struct{ loadkit.API }

// signIn registers the account if it does not exist yet, and logs in.
func (a *api) signIn(ctx context.Context, username, password string) (string, error) {
	login := func() (string, error) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		err := a.JSON(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": username, "password": password}, &out)
		if err == nil && out.AccessToken == "" {
			err = errors.New("no access_token in the answer")
		}
		return out.AccessToken, err
	}
	tok, err := login()
	if loadkit.StatusOf(err) == http.StatusUnauthorized {
		err = a.JSON(ctx, http.MethodPost, "/api/v1/auth/register", "",
			map[string]string{"username": username, "email": username + "@wsbench.jokster.example", "password": password}, nil)
		if err == nil || loadkit.StatusOf(err) == http.StatusConflict {
			tok, err = login()
		}
	}
	if err != nil {
		hint := ""
		if loadkit.StatusOf(err) == http.StatusTooManyRequests {
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
	if err := a.Do(ctx, http.MethodPost, "/api/v1/posts", token, mw.FormDataContentType(), &buf, &p); err != nil {
		return "", fmt.Errorf("create post: %w", err)
	}
	if p.ID == "" {
		return "", errors.New("create post: no id in the answer")
	}
	return p.ID, nil
}

// comment adds a comment whose body carries the send time.
func (a *api) comment(ctx context.Context, token, post string, body []byte) error {
	return a.Do(ctx, http.MethodPost, "/api/v1/posts/"+post+"/comments", token, "application/json", bytes.NewReader(body), nil)
}

// rate gives (or changes) token's rating of post.
func (a *api) rate(ctx context.Context, token, post string, stars int) error {
	return a.Do(ctx, http.MethodPut, "/api/v1/posts/"+post+"/rating", token, "application/json",
		strings.NewReader(fmt.Sprintf(`{"stars":%d}`, stars)), nil)
}
