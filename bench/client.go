package main

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// checkTarget parses the base URL and refuses anything but a loopback
// host unless remote traffic was allowed explicitly: a load generator
// pointed at the wrong machine is a denial of service.
func checkTarget(raw string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url: want http:// or https://, got %q", raw)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("-url: want the server's base URL such as http://127.0.0.1:8080, got %q", raw)
	}
	u.Path = ""
	if allowRemote {
		return u, nil
	}
	if !loadkit.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("-url: %s is not a loopback address; pass -allow-remote to load a remote server", u.Hostname())
	}
	return u, nil
}

// newClient returns an HTTP client that keeps one idle connection per
// worker alive and never follows redirects (traffic goes to -url only).
func newClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // never route load through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     8 << 10,
		ReadBufferSize:      16 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// api is a small client of the Jokster REST API for the setup phase.
type api struct{ loadkit.API }

func newAPI(base string, hc *http.Client) *api { return &api{loadkit.API{Base: base, HC: hc}} }

// register creates the account; an existing one (409) is not an error.
func (a *api) register(ctx context.Context, username, email, password string) error {
	err := a.JSON(ctx, http.MethodPost, "/api/v1/auth/register", "",
		map[string]string{"username": username, "email": email, "password": password}, nil)
	if loadkit.StatusOf(err) == http.StatusConflict {
		return nil
	}
	return err
}

func (a *api) login(ctx context.Context, username, password string) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := a.JSON(ctx, http.MethodPost, "/api/v1/auth/login", "",
		map[string]string{"username": username, "password": password}, &out)
	if err == nil && out.AccessToken == "" {
		err = fmt.Errorf("login %s: no access_token in the answer", username)
	}
	return out.AccessToken, err
}

type postRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// createTextPost posts a caption-only post (ready at once).
func (a *api) createTextPost(ctx context.Context, token, caption string) (postRef, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("caption", caption); err != nil {
		return postRef{}, err
	}
	if err := mw.Close(); err != nil {
		return postRef{}, err
	}
	var p postRef
	err := a.Do(ctx, http.MethodPost, "/api/v1/posts", token, mw.FormDataContentType(), &buf, &p)
	return p, err
}

// postsBy lists every post of author (newest first).
func (a *api) postsBy(ctx context.Context, token, author string) ([]postRef, error) {
	var all []postRef
	cursor := ""
	for {
		q := url.Values{"author": {author}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []postRef `json:"items"`
			NextCursor *string   `json:"next_cursor"`
		}
		if err := a.JSON(ctx, http.MethodGet, "/api/v1/posts?"+q.Encode(), token, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" || len(page.Items) == 0 {
			return all, nil
		}
		cursor = *page.NextCursor
	}
}
