// Command bench drives load against a running Jokster server over real
// HTTP and reports throughput and latency percentiles.
//
//	go run ./bench ratings -url http://127.0.0.1:18180 -users 200 -posts 1000 -concurrency 64 -duration 20s
//	go run ./bench boards  -url http://127.0.0.1:18180 -concurrency 64 -duration 20s -limit 10
//
// ratings signs in -users raters and -authors authors (registering them
// on the first run; later runs with the same -prefix reuse them), makes
// sure the authors have -posts ready text posts, then each of
// -concurrency workers rates a random post as a random rater with random
// stars, back to back, for -duration. Raters are never authors, so no
// rating is refused as "your own post".
//
// boards reads one leaderboard page (the top 10 by default) back to back.
//
// Both are closed-loop: a worker sends its next request when the previous
// one is answered, so -concurrency is the number of requests in flight.
// Only 2xx answers count towards the throughput and the latency
// percentiles; other statuses and transport errors are reported apart.
// docs/benchmarks.md has the figures and how to reproduce them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ratings":
		err = ratingsCmd(os.Args[2:])
	case "boards":
		err = boardsCmd(os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `bench drives load against a running Jokster server and reports
throughput and latency percentiles.

Usage:
  go run ./bench ratings [flags]   rate random posts as random users (PUT /api/v1/posts/{id}/rating)
  go run ./bench boards  [flags]   read a leaderboard page (GET /api/v1/leaderboards/{board})

Run "go run ./bench <command> -h" for the flags of each. Traffic goes only
to -url, which must be a loopback address unless -allow-remote is given.
Start the server with its rate limits off (RATE_IP=0 RATE_RATE=0 … ), or
the limits are what you measure. docs/benchmarks.md shows a full setup.
`)
}

// common are the flags of every command.
type common struct {
	url         string
	allowRemote bool
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	metrics     string
	progress    bool
	jsonOut     bool
	goalRate    float64
	goalP99     time.Duration
	cpu         string
	cpuGroups   []cpuGroup

	target *url.URL
}

func (c *common) register(fs *flag.FlagSet, goalRate float64, goalP99 time.Duration) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of the Jokster server (loopback only, unless -allow-remote)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a -url that is not a loopback address")
	fs.IntVar(&c.concurrency, "concurrency", 64, "workers, each with one request in flight")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to measure (the run stops by itself)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "load sent before measuring starts, not counted (opens connections, fills pools and caches)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout; a request that takes longer counts as an error")
	fs.StringVar(&c.metrics, "metrics", "", "the server's ops /metrics URL (e.g. http://127.0.0.1:8081/metrics): report the rating batch sizes reached during the run")
	fs.BoolVar(&c.progress, "progress", false, "print 2xx answers per second to stderr while running")
	fs.BoolVar(&c.jsonOut, "json", false, "also print the result as one JSON line")
	fs.StringVar(&c.cpu, "cpu", "server=@server,postgres=postgres: ,redis=redis-server",
		"report the CPU used in the measured window (Linux /proc; empty: off) by these groups, as label=match,…: "+
			"the processes whose command line contains match; @server is the process listening on -url's port. "+
			"This process and \"other processes\" are always reported. On a shared machine narrow postgres down to "+
			"the server's database, e.g. postgres=jokster_bench")
	fs.Float64Var(&c.goalRate, "goal-rate", goalRate, "throughput goal to report against, per second (0: none)")
	fs.DurationVar(&c.goalP99, "goal-p99", goalP99, "p99 latency goal to report against")
}

func (c *common) check() error {
	t, err := checkTarget(c.url, c.allowRemote)
	if err != nil {
		return err
	}
	c.target = t
	if c.metrics != "" {
		m, err := url.Parse(c.metrics)
		if err != nil || (m.Scheme != "http" && m.Scheme != "https") || m.Host == "" {
			return fmt.Errorf("-metrics: want a URL such as http://127.0.0.1:8081/metrics, got %q", c.metrics)
		}
		if !c.allowRemote && !loadkit.IsLoopback(m.Hostname()) {
			return fmt.Errorf("-metrics: %s is not a loopback address; pass -allow-remote to read a remote server", m.Hostname())
		}
	}
	if c.cpu != "" {
		port := c.target.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[c.target.Scheme]
		}
		p, _ := strconv.Atoi(port)
		gs, err := parseCPUGroups(c.cpu, p)
		if err != nil {
			// Accounting is a nicety: a remote server, another PID
			// namespace or no /proc must not stop the run.
			fmt.Fprintln(os.Stderr, "bench: warning:", err, "(CPU report without it)")
			gs, _ = parseCPUGroups(strings.ReplaceAll(c.cpu, "@server", "@server-not-found"), p)
		}
		if _, err := os.Stat("/proc/stat"); err == nil {
			c.cpuGroups = gs
		}
	}
	if c.concurrency < 1 || c.concurrency > 10000 {
		return fmt.Errorf("-concurrency must be 1..10000")
	}
	if c.duration <= 0 || c.warmup < 0 {
		return fmt.Errorf("-duration must be positive and -warmup not negative")
	}
	if c.duration+c.warmup > 10*time.Minute {
		fmt.Fprintln(os.Stderr, "bench: warning: access tokens last 15 minutes by default (ACCESS_TOKEN_TTL); a longer run sees 401s")
	}
	return nil
}

func (c *common) opts() loadOptions {
	return loadOptions{concurrency: c.concurrency, duration: c.duration, warmup: c.warmup, progress: c.progress, cpuGroups: c.cpuGroups}
}

func newFlags(name, what string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench %s [flags]\n\n%s\n\nFlags:\n", name, what)
		fs.PrintDefaults()
	}
	return fs
}

// interrupted returns a context that ends on Ctrl-C, for the setup phase
// (the load phase ends by itself).
func interrupted() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func ratingsCmd(args []string) error {
	fs := newFlags("ratings", `Signs in -users raters and -authors authors (registering them the first time;
runs with the same -prefix and -password reuse them), makes sure the authors
have -posts ready text posts (reused across runs too), then each worker rates
a random post as a random rater with 1-5 random stars, back to back, for
-duration. Raters never rate their own posts. A rating equal to the one a
rater already gave is still a 200 (the server changes nothing).`)
	var c common
	c.register(fs, 8000, 25*time.Millisecond)
	var so setupOptions
	fs.IntVar(&so.users, "users", 200, "raters")
	fs.IntVar(&so.authors, "authors", 4, "authors of the posts (apart from the raters)")
	fs.IntVar(&so.posts, "posts", 1000, "posts to rate")
	fs.StringVar(&so.prefix, "prefix", "bench", "prefix of the bench accounts' usernames (letters, digits, _)")
	fs.StringVar(&so.password, "password", "bench-password-not-secret", "password of the bench accounts")
	fs.IntVar(&so.concurrency, "setup-concurrency", 8, "concurrent requests while creating accounts and posts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := c.check(); err != nil {
		return err
	}
	if so.users < 1 || so.authors < 1 || so.posts < 1 || so.concurrency < 1 {
		return fmt.Errorf("-users, -authors, -posts and -setup-concurrency must be positive")
	}
	ctx, stop := interrupted()
	defer stop()

	base := c.target.String()
	setup := newAPI(base, newClient(so.concurrency, 60*time.Second))
	t0 := time.Now()
	names := make([]string, 0, so.authors+so.users)
	for i := range so.authors {
		names = append(names, authorName(so.prefix, i))
	}
	for i := range so.users {
		names = append(names, userName(so.prefix, i))
	}
	fmt.Fprintf(os.Stderr, "setup: signing in %d authors and %d raters (argon2id: slow on purpose)\n", so.authors, so.users)
	accts, err := signIn(ctx, setup, names, so.password, so.concurrency)
	if err != nil {
		return err
	}
	authors, raters := accts[:so.authors], accts[so.authors:]
	ids, err := ensurePosts(ctx, setup, authors, so.posts, so.concurrency)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "setup: done in %.1fs\n", time.Since(t0).Seconds())
	if err := ctx.Err(); err != nil {
		return err
	}

	// Everything a request needs is built once, so the load loop only
	// allocates what net/http does.
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = base + "/api/v1/posts/" + id + "/rating"
	}
	auth := make([]string, len(raters))
	for i, r := range raters {
		auth[i] = "Bearer " + r.token
	}
	var bodies [5][]byte
	for s := range bodies {
		bodies[s] = []byte(fmt.Sprintf(`{"stars":%d}`, s+1))
	}
	next := func(ctx context.Context, w *worker) (*http.Request, error) {
		body := bodies[w.rng.IntN(5)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, urls[w.rng.IntN(len(urls))], bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header["Authorization"] = []string{auth[w.rng.IntN(len(auth))]}
		req.Header["Content-Type"] = []string{"application/json"}
		req.Header["Accept"] = []string{"application/json"}
		return req, nil
	}
	return load(&c, "ratings", "ratings", next)
}

func boardsCmd(args []string) error {
	fs := newFlags("boards", `Reads one leaderboard page, anonymously, back to back: by default the
all-time top 10 (GET /api/v1/leaderboards/top?limit=10). Run "ratings"
first so the board has posts on it.`)
	var c common
	c.register(fs, 20000, 10*time.Millisecond)
	var board, window string
	var limit int
	fs.StringVar(&board, "board", "top", "board: hot, top, new, creators or tag:<name>")
	fs.StringVar(&window, "window", "", "window of the top board: all, week or day (empty: all)")
	fs.IntVar(&limit, "limit", 10, "entries per page (1..100)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := c.check(); err != nil {
		return err
	}
	if limit < 1 || limit > 100 {
		return fmt.Errorf("-limit must be 1..100")
	}
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if window != "" {
		q.Set("window", window)
	}
	target := c.target.String() + "/api/v1/leaderboards/" + url.PathEscape(board) + "?" + q.Encode()

	// One read first: the board must answer, and should be full, or the
	// figures are for an empty list.
	ctx, stop := interrupted()
	defer stop()
	probe := newAPI(c.target.String(), newClient(1, 30*time.Second))
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := probe.JSON(ctx, http.MethodGet, strings.TrimPrefix(target, c.target.String()), "", nil, &page); err != nil {
		return fmt.Errorf("first read of %s: %w", target, err)
	}
	if len(page.Items) < limit {
		fmt.Fprintf(os.Stderr, "bench: warning: the board has %d entries, fewer than -limit %d; run \"ratings\" first for realistic figures\n", len(page.Items), limit)
	}
	stop()

	next := func(ctx context.Context, w *worker) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		req.Header["Accept"] = []string{"application/json"}
		return req, nil
	}
	return load(&c, "boards", "reads", next)
}

// load runs the measured phase and prints the results.
func load(c *common, name, noun string, next request) error {
	hc := newClient(c.concurrency, c.timeout)
	var before batchSizes
	var berr error
	if c.metrics != "" {
		before, berr = scrapeBatches(context.Background(), hc, c.metrics)
	}
	fmt.Fprintf(os.Stderr, "%s: %d workers for %s (+%s warm-up)…\n", name, c.concurrency, c.duration, c.warmup)
	r := run(hc, c.opts(), next)
	report(os.Stdout, name, noun, c.target.String(), c.opts(), r, c.goalRate, c.goalP99)
	j := toJSON(name, c.target.String(), c.opts(), r)
	if c.metrics != "" {
		// The batches include the warm-up's: the server cannot tell them apart.
		after, aerr := scrapeBatches(context.Background(), hc, c.metrics)
		switch {
		case berr != nil:
			fmt.Fprintf(os.Stdout, "  batches     unavailable: %v\n", berr)
		case aerr != nil:
			fmt.Fprintf(os.Stdout, "  batches     unavailable: %v\n", aerr)
		default:
			fmt.Fprintf(os.Stdout, "  batches     %s (warm-up included)\n", describeBatches(before, after))
			if n := after.count - before.count; n > 0 {
				j.BatchMean = (after.sum - before.sum) / n
			}
		}
	}
	if c.jsonOut {
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stdout, string(b))
	}
	if r.OK == 0 {
		return fmt.Errorf("no request succeeded")
	}
	return nil
}
