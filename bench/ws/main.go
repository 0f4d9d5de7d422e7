// Command ws benchmarks Jokster's live updates (GET /ws) with real
// WebSocket clients over loopback, against a bare broadcaster measured in
// the same run, so the cost of Jokster's protocol is a ratio. It is also
// the bare broadcaster, and a diagnostic third server.
//
// Servers (each meant to be pinned to its own core, apart from the load):
//
//	go run ./bench/ws -bare-server 127.0.0.1:18290   # Fiber v2 + contrib/websocket, no protocol
//	go run ./bench/ws -hub-server 127.0.0.1:18292    # Jokster's realtime.Hub alone (optional)
//
// The bare broadcaster sends every broadcast to every connection, through
// a bounded queue and one writer goroutine per connection; POST /broadcast
// sends the request body (or -bare-tick makes it broadcast by itself). The
// hub server runs realtime.Hub, Jokster's protocol, queues and writers,
// with the in-process memory broker and a fixed snapshot instead of Redis
// and PostgreSQL: it tells the protocol's cost apart from the API's.
//
// Latency: -conns connections to each target (Jokster: each subscribed to
// post:<id> of a post the benchmark creates; the hub: post:1), updates at
// -rate deliveries a second (deliveries = messages × subscribers). Every
// fleet stays open for the round, and the targets are driven in turn,
// -slice at a time (after -warmup each), until each had -duration, so
// other work on the machine falls on all of them alike; -rounds times:
//
//	taskset -c 1 go run ./bench/ws -targets bare,hub,jokster -conns 1000 -rate 20000
//
// Jokster's updates are comments on the post, by its author, whose body
// carries the send time ("wsb:<unix ns>"); comment events are never
// coalesced, so each is one message to every subscriber. The bare
// broadcaster and the hub get a POST /broadcast whose body (a message of
// about -payload bytes, like a comment's) carries the send time. Latency is
// receive time − send time on this machine's clock; for Jokster it
// includes the API request (PostgreSQL), the publisher queue and Redis,
// and "publish → receive" (from the envelope's version: the broker's clock
// in µs when it published) isolates the fan-out. -drive ratings rates the
// post instead, -raters users in turn: stats updates are coalesced per post
// while queued, so the deliveries counted are the stats messages actually
// received in the window, and only publish → receive latency is known.
// Sends are open-loop: on schedule whether or not earlier ones were
// answered.
//
// Memory: the server's RSS (/proc/<pid>/status VmRSS; the pid of the
// process listening on the target's port, or -pid / -bare-pid) with no
// connections and with -conns idle ones: (RSS_N − RSS_0) / N. Start the
// servers afresh first: a Go process keeps the memory it once used.
//
//	taskset -c 1 go run ./bench/ws -mode memory -conns 19500 -targets bare,hub,jokster
//
// Only loopback targets are accepted. bench/ws/run.sh starts the servers
// and runs both modes as recorded; docs/benchmarks.md ("Live updates") has
// the figures and the exact commands.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

func main() {
	log.SetFlags(0)
	var (
		bareServer = flag.String("bare-server", "", "run the bare broadcaster on this loopback address (\":port\" means 127.0.0.1:port) and nothing else")
		bareQueue  = flag.Int("bare-queue", 256, "bare broadcaster: messages queued per connection before it is dropped as slow (Jokster's WS_QUEUE default)")
		bareTick   = flag.Float64("bare-tick", 0, "bare broadcaster: also broadcast by itself, this many messages a second")
		hubServer  = flag.String("hub-server", "", "run Jokster's realtime.Hub alone (memory broker, fixed snapshot; a diagnostic target) on this loopback address and nothing else")
		hubQueue   = flag.Int("hub-queue", 256, "bench hub: its QueueSize (WS_QUEUE)")
		pprofAddr  = flag.String("pprof", "", "bare broadcaster or bench hub: also serve net/http/pprof on this loopback address")
		payload    = flag.Int("payload", 250, "bytes of each bare broadcast message (about a Jokster comment message)")

		mode     = flag.String("mode", "latency", "latency or memory")
		targets  = flag.String("targets", "bare,jokster", "targets, in the order each round runs them")
		jURL     = flag.String("url", "http://127.0.0.1:18280", "Jokster's base URL (loopback)")
		bURL     = flag.String("bare-url", "http://127.0.0.1:18290", "the bare broadcaster's base URL (loopback)")
		hURL     = flag.String("hub-url", "http://127.0.0.1:18292", "the bench hub's base URL (loopback), for -targets hub")
		opsURL   = flag.String("ops-url", "", "Jokster's operations listener (loopback), for Go runtime figures from /metrics in memory mode, e.g. http://127.0.0.1:18281")
		conns    = flag.Int("conns", 1000, "WebSocket connections (subscribers) per target")
		rate     = flag.Float64("rate", 20000, "goal deliveries a second (messages × subscribers)")
		duration = flag.Duration("duration", 20*time.Second, "measured time of each target in each round")
		warmup   = flag.Duration("warmup", time.Second, "load before each measured slice, not counted")
		drain    = flag.Duration("drain", 5*time.Second, "longest wait for the last deliveries after sending stops")
		rounds   = flag.Int("rounds", 5, "rounds; each runs every target")
		drive    = flag.String("drive", "comments", "Jokster updates: comments (carry the send time) or ratings (coalesced stats)")
		raters   = flag.Int("raters", 20, "ratings drive: users rating in turn")
		inflight = flag.Int("inflight", 256, "most update requests in flight; a send due while that many wait is skipped and counted")
		bPost    = flag.Bool("bare-post", true, "drive the bare broadcaster with POST /broadcast (false: it ticks by itself, see -bare-tick)")
		pid      = flag.Int("pid", 0, "Jokster's pid (0: the process listening on -url's port)")
		barePid  = flag.Int("bare-pid", 0, "the bare broadcaster's pid (0: the process listening on -bare-url's port)")
		settle   = flag.Duration("settle", 5*time.Second, "memory: wait after the connections are ready before reading the RSS")
		subIdle  = flag.Bool("subscribe", true, "memory: subscribe each idle Jokster connection to the post's channel")
		srcIPs   = flag.Int("src-ips", 16, "spread client connections over source addresses 127.0.0.2… (more than ~28,000 connections need several)")
		dialConc = flag.Int("dial-concurrency", 64, "connections opened at once")
		readyTO  = flag.Duration("ready-timeout", 15*time.Minute, "longest wait for every connection to be open and subscribed")
		prefix   = flag.String("prefix", "wsb", "prefix of the benchmark's Jokster user names")
		password = flag.String("password", "wsbench-password-1", "password of the benchmark's Jokster users")
		jsonOut  = flag.String("json", "", "also write the results as JSON to this file")
		slice    = flag.Duration("slice", 5*time.Second, "latency: drive the targets in turn this long each (0: each for the whole -duration in one go)")
		quiet    = flag.Float64("quiet", 0, "before each slice (memory: each target), wait until the machine keeps at most this many CPUs busy (other people's work skews latency; 0: do not wait)")
		quietMax = flag.Duration("quiet-wait", 10*time.Minute, "longest wait for -quiet")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *pprofAddr != "" && (*bareServer != "" || *hubServer != "") {
		if err := servePprof(*pprofAddr); err != nil {
			log.Fatal(err)
		}
	}
	if *bareServer != "" {
		if err := runBare(ctx, *bareServer, *bareQueue, *bareTick, *payload); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *hubServer != "" {
		if err := runHub(ctx, *hubServer, *hubQueue); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *srcIPs < 0 || *srcIPs > 250 {
		log.Fatal("-src-ips: 0 to 250")
	}
	if *mode != "latency" && *mode != "memory" {
		log.Fatal("-mode: latency or memory")
	}
	if *drive != "comments" && *drive != "ratings" {
		log.Fatal("-drive: comments or ratings")
	}
	if *conns < 1 || *rate <= 0 || *rounds < 1 || *inflight < 1 {
		log.Fatal("-conns, -rate, -rounds and -inflight must be positive")
	}
	hc := newHTTPClient(*inflight + 8)
	var ts []target
	for _, name := range strings.Split(*targets, ",") {
		var raw, flagName string
		switch strings.TrimSpace(name) {
		case "bare":
			raw, flagName = *bURL, "-bare-url"
		case "hub":
			raw, flagName = *hURL, "-hub-url"
		case "jokster":
			raw, flagName = *jURL, "-url"
		default:
			log.Fatalf("-targets: bare, hub and/or jokster, not %q", name)
		}
		u, err := baseURL(flagName, raw)
		if err != nil {
			log.Fatal(err)
		}
		t := target{name: strings.TrimSpace(name), base: u, ws: "ws://" + u.Host + "/ws"}
		if t.name == "hub" && (*mode == "latency" || *subIdle) {
			t.ch = "post:1"
		}
		ts = append(ts, t)
	}
	if *opsURL != "" {
		if _, err := baseURL("-ops-url", *opsURL); err != nil {
			log.Fatal(err)
		}
	}
	pids := map[string]int{}
	for _, t := range ts {
		p := map[string]int{"bare": *barePid, "jokster": *pid}[t.name] // the hub: by its port
		if p == 0 {
			var err error
			if p, err = listenerPID(t.base.Host); err != nil {
				if *mode == "memory" {
					log.Fatalf("%s: %v (pass -pid / -bare-pid)", t.name, err)
				}
				log.Printf("%s: %v: server CPU is not reported", t.name, err)
			}
		}
		pids[t.name] = p
	}
	fmt.Printf("load generator: GOMAXPROCS %d of %d CPUs, pid %d; server pids %v; %s mode, %d connections per target; %s\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), os.Getpid(), pids, *mode, *conns, loadAvg())

	// Jokster: an author, a post to watch, and raters when rating.
	var jk *api
	var author, post string
	var raterTokens []string
	signInAll := func() error {
		var err error
		if author, err = jk.signIn(ctx, *prefix+"_author", *password); err != nil {
			return err
		}
		if *drive == "ratings" {
			raterTokens = raterTokens[:0]
			for i := range *raters {
				tok, err := jk.signIn(ctx, fmt.Sprintf("%s_r%03d", *prefix, i), *password)
				if err != nil {
					return err
				}
				raterTokens = append(raterTokens, tok)
			}
		}
		return nil
	}
	for i, t := range ts {
		if t.name != "jokster" {
			continue
		}
		jk = &api{loadkit.API{Base: t.base.String(), HC: hc}}
		if err := signInAll(); err != nil {
			log.Fatal(err)
		}
		var err error
		if post, err = jk.createTextPost(ctx, author, "live benchmark "+time.Now().UTC().Format(time.RFC3339)); err != nil {
			log.Fatal(err)
		}
		if *mode == "latency" || *subIdle {
			ts[i].ch = "post:" + post
		}
		fmt.Printf("jokster: post %s, connections subscribe to %q\n", post, ts[i].ch)
	}
	dial := dialOptions{conns: *conns, concurrency: *dialConc, srcIPs: *srcIPs, timeout: *readyTO}

	var results []phaseResult
	var mems []memResult
	pooled := map[string]*loadkit.Hist{} // every round's latencies together, by target
	for round := 1; round <= *rounds && ctx.Err() == nil; round++ {
		var phases []*phase
		for _, t := range ts {
			if ctx.Err() != nil {
				break
			}
			if t.name == "jokster" && round > 1 {
				if err := signInAll(); err != nil { // access tokens last 15 minutes by default
					log.Fatal(err)
				}
			}
			if *quiet > 0 && *mode == "memory" {
				waitQuiet(*quiet, *quietMax)
			}
			if *mode == "memory" {
				var stats runtimeStats
				switch {
				case t.name == "bare" || t.name == "hub":
					stats = bareStats(hc, t.base.String()+"/stats")
				case *opsURL != "":
					stats = prometheusStats(hc, strings.TrimRight(*opsURL, "/")+"/metrics")
				}
				m, err := measureMemory(ctx, t, pids[t.name], stats, dial, *settle)
				if err != nil {
					log.Fatal(err)
				}
				m.Round = round
				printMem(os.Stdout, m)
				mems = append(mems, m)
				continue
			}
			f, err := openFleet(ctx, t, dial)
			if err != nil {
				log.Fatal(err)
			}
			var send sender
			timed := true
			switch {
			case t.name == "bare" && *bPost:
				url := t.base.String() + "/broadcast"
				send = func(ctx context.Context, _ int, now time.Time) error {
					return postOK(ctx, hc, url, payloadBytes(now, *payload))
				}
			case t.name == "bare":
				send = nil // the broadcaster ticks by itself
			case t.name == "hub":
				url := t.base.String() + "/broadcast?ch=post:1"
				send = func(ctx context.Context, _ int, now time.Time) error {
					// data about as long as a Jokster comment's, so the
					// whole message is about -payload bytes
					data := fmt.Appendf(nil, `{"body":"wsb:%d","pad":"`, now.UnixNano())
					for len(data) < *payload-83 {
						data = append(data, 'x')
					}
					data = append(data, `"}`...)
					return postOK(ctx, hc, url, data)
				}
			case *drive == "comments":
				send = func(ctx context.Context, _ int, now time.Time) error {
					return jk.comment(ctx, author, post, fmt.Appendf(nil, `{"body":"wsb:%d"}`, now.UnixNano()))
				}
			default:
				timed = false
				send = func(ctx context.Context, i int, _ time.Time) error {
					k := len(raterTokens)
					return jk.rate(ctx, raterTokens[i%k], post, (i/k)%5+1)
				}
			}
			o := phaseOptions{rate: *rate, warmup: *warmup, duration: *duration, drain: *drain, inflight: *inflight, timed: timed}
			phases = append(phases, &phase{f: f, send: send, serverPid: pids[t.name], o: o})
		}
		if len(phases) == 0 {
			continue
		}
		// Every fleet is open (the idle ones cost their servers nothing):
		// drive the targets in turn, -slice at a time, starting with
		// another one each slice.
		sl := *slice
		if sl <= 0 || sl > *duration {
			sl = *duration
		}
		for done, k := time.Duration(0), 0; done < *duration && ctx.Err() == nil; done, k = done+sl, k+1 {
			d := min(sl, *duration-done)
			for j := range phases {
				if *quiet > 0 {
					waitQuiet(*quiet, *quietMax)
				}
				phases[(j+k)%len(phases)].slice(ctx, d)
			}
		}
		for _, p := range phases {
			p.f.close()
			if pooled[p.f.t.name] == nil {
				pooled[p.f.t.name] = &loadkit.Hist{}
			}
			if p.o.timed {
				pooled[p.f.t.name].Merge(&p.f.lat)
			} else {
				pooled[p.f.t.name].Merge(&p.f.fan)
			}
			r := p.result()
			r.Round, r.Drive = round, *drive
			if r.Target != "jokster" {
				r.Drive = "broadcasts"
			}
			printPhase(os.Stdout, r)
			results = append(results, r)
		}
		time.Sleep(time.Second) // let the servers finish closing before the next round
	}
	if len(results) > 0 {
		summarize(os.Stdout, results, pooled)
	}
	if len(mems) > 0 {
		summarizeMem(os.Stdout, mems)
	}
	if *jsonOut != "" {
		pooledMs := map[string]map[string]float64{}
		for n, h := range pooled {
			pooledMs[n] = map[string]float64{"p50_ms": msf(h.Quantile(0.5)), "p90_ms": msf(h.Quantile(0.9)),
				"p99_ms": msf(h.Quantile(0.99)), "max_ms": msf(h.Max()), "deliveries": float64(h.Count())}
		}
		data, _ := json.MarshalIndent(map[string]any{"latency": results, "pooled": pooledMs, "memory": mems, "args": os.Args[1:]}, "", "  ")
		if err := os.WriteFile(*jsonOut, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if ctx.Err() != nil {
		log.Fatal(errors.New("interrupted"))
	}
}

func postOK(ctx context.Context, hc *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// payloadBytes is a bare broadcast message of about size bytes carrying
// the send time, shaped like a Jokster event.
func payloadBytes(now time.Time, size int) []byte {
	b := fmt.Appendf(make([]byte, 0, size+8), `{"ch":"bare","type":"comment","v":%d,"data":{"body":"wsb:%d","pad":"`, now.UnixMicro(), now.UnixNano())
	for len(b) < size-3 {
		b = append(b, 'x')
	}
	return append(b, `"}}`...)
}

func summarizeMem(w io.Writer, ms []memResult) {
	by := map[string][]float64{}
	var names []string
	for _, m := range ms {
		if by[m.Target] == nil {
			names = append(names, m.Target)
		}
		by[m.Target] = append(by[m.Target], m.PerConn/1000)
	}
	fmt.Fprintln(w, "summary (KB = 1000 bytes of RSS per idle connection):")
	for _, n := range names {
		xs := by[n]
		lo, hi := xs[0], xs[0]
		for _, x := range xs {
			lo, hi = min(lo, x), max(hi, x)
		}
		fmt.Fprintf(w, "  %-7s %.1f–%.1f KB (goal for jokster ≤ 30 KB)\n", n, lo, hi)
	}
}
