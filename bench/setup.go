package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// account is a signed-in bench user.
type account struct {
	name  string
	token string
}

type setupOptions struct {
	prefix      string
	password    string
	users       int // raters
	authors     int
	posts       int
	concurrency int
}

func userName(prefix string, i int) string   { return fmt.Sprintf("%s_u%05d", prefix, i) }
func authorName(prefix string, i int) string { return fmt.Sprintf("%s_a%02d", prefix, i) }

// signIn registers each name (an existing account is reused) and logs it
// in, concurrency at a time. Registration and log-in both run argon2id,
// which is slow on purpose, so this is the long part of a first run.
func signIn(ctx context.Context, a *api, names []string, password string, concurrency int) ([]account, error) {
	out := make([]account, len(names))
	// Registering hashes the password as log-in does, so when the first
	// and the last account already exist (an earlier run made them), log
	// in only. Probing two names rather than trying every one keeps failed
	// log-ins, which the server throttles per IP (LOGIN_IP_FREE_ATTEMPTS),
	// to two a run; a name that still fails to log in is then registered.
	reuse := true
	for _, i := range []int{0, len(names) - 1} {
		if !reuse || out[i].token != "" {
			continue
		}
		tok, err := a.login(ctx, names[i], password)
		switch {
		case err == nil:
			out[i] = account{name: names[i], token: tok}
		case loadkit.StatusOf(err) == http.StatusUnauthorized:
			reuse = false
		default:
			return nil, fmt.Errorf("user %s: %w%s", names[i], err, hint(err))
		}
	}
	jobs := make(chan int)
	var firstErr error
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := names[i]
				var tok string
				var err error
				if reuse {
					tok, err = a.login(ctx, name, password)
				}
				if !reuse || loadkit.StatusOf(err) == http.StatusUnauthorized {
					err = a.register(ctx, name, name+"@bench.jokster.example", password)
					if err == nil {
						tok, err = a.login(ctx, name, password)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("user %s: %w%s", name, err, hint(err))
						cancel()
					}
					mu.Unlock()
					continue
				}
				out[i] = account{name: name, token: tok}
				if n := done.Add(1); n%50 == 0 {
					fmt.Fprintf(os.Stderr, "  %d/%d accounts signed in (%.0fs)\n", n, len(names), time.Since(start).Seconds())
				}
			}
		}()
	}
feed:
	for i := range names {
		if out[i].token != "" {
			done.Add(1)
			continue
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return out, firstErr
}

func hint(err error) string {
	switch loadkit.StatusOf(err) {
	case http.StatusTooManyRequests:
		return " (the server's rate limits are on: start it with RATE_IP=0 RATE_REGISTER=0 RATE_LOGIN=0 RATE_UPLOAD=0 RATE_RATE=0 RATE_WRITE=0)"
	case http.StatusUnauthorized:
		return " (the account exists with another password: use another -prefix or the same -password as before)"
	}
	return ""
}

// ensurePosts returns the ids of n ready posts by the authors, reusing
// the posts earlier runs made and creating only the missing ones.
func ensurePosts(ctx context.Context, a *api, authors []account, n, concurrency int) ([]string, error) {
	var ids []string
	for _, au := range authors {
		ps, err := a.postsBy(ctx, au.token, au.name)
		if err != nil {
			return nil, fmt.Errorf("listing posts of %s: %w", au.name, err)
		}
		for _, p := range ps {
			if p.Status == "ready" {
				ids = append(ids, p.ID)
			}
		}
	}
	if len(ids) >= n {
		fmt.Fprintf(os.Stderr, "  reusing %d of %d existing posts\n", n, len(ids))
		return ids[:n], nil
	}
	missing := n - len(ids)
	fmt.Fprintf(os.Stderr, "  %d posts exist; creating %d\n", len(ids), missing)
	made := make([]string, missing)
	jobs := make(chan int)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				au := authors[i%len(authors)]
				caption := fmt.Sprintf("Bench joke %d by %s: why did the benchmark cross the road? To get to the other p99.", i, au.name)
				p, err := a.createTextPost(ctx, au.token, caption)
				if err == nil && p.Status != "ready" {
					err = fmt.Errorf("post %s is %q, not ready", p.ID, p.Status)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("creating a post as %s: %w%s", au.name, err, hint(err))
						cancel()
					}
					mu.Unlock()
					continue
				}
				made[i] = p.ID
			}
		}()
	}
feed:
	for i := range missing {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return append(ids, made...), nil
}
