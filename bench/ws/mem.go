package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// runtimeStats reads the server's Go runtime figures (goroutines, heap
// and stack in use) when it publishes them: Jokster's operations listener
// /metrics, the bare broadcaster's /stats. nil when unknown.
type runtimeStats func(ctx context.Context) (map[string]float64, error)

var runtimeNames = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"}

func prometheusStats(hc *http.Client, metricsURL string) runtimeStats {
	return func(ctx context.Context) (map[string]float64, error) {
		body, err := loadkit.Get(ctx, hc, metricsURL)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		out := map[string]float64{}
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			name, val, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			for _, n := range runtimeNames {
				if name == n {
					if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						out[n] = v
					}
				}
			}
		}
		return out, sc.Err()
	}
}

func bareStats(hc *http.Client, statsURL string) runtimeStats {
	return func(ctx context.Context) (map[string]float64, error) {
		body, err := loadkit.Get(ctx, hc, statsURL)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		out := map[string]float64{}
		return out, json.NewDecoder(body).Decode(&out)
	}
}

type memResult struct {
	Target     string             `json:"target"`
	Round      int                `json:"round"`
	Conns      int                `json:"connections"`
	Subscribed bool               `json:"subscribed"`
	RSS0       int64              `json:"rss_0_bytes"`
	RSSN       int64              `json:"rss_n_bytes"`
	RSSAfter   int64              `json:"rss_after_close_bytes"`
	PerConn    float64            `json:"rss_per_connection_bytes"`
	Before     map[string]float64 `json:"runtime_0,omitempty"`
	After      map[string]float64 `json:"runtime_n,omitempty"`
}

// measureMemory reads the server's RSS with no bench connections, opens
// o.conns idle ones (subscribed to t.ch for Jokster), waits settle, reads
// it again, and closes them: (RSS_N − RSS_0) / N.
func measureMemory(ctx context.Context, t target, pid int, stats runtimeStats, o dialOptions, settle time.Duration) (memResult, error) {
	r := memResult{Target: t.name, Conns: o.conns, Subscribed: t.ch != ""}
	var err error
	if r.RSS0, err = steadyRSS(pid, 3, time.Second); err != nil {
		return r, err
	}
	if stats != nil {
		r.Before, _ = stats(ctx)
	}
	f, err := openFleet(ctx, t, o)
	if err != nil {
		return r, err
	}
	time.Sleep(settle)
	if r.RSSN, err = steadyRSS(pid, 5, time.Second); err != nil {
		f.close()
		return r, err
	}
	if stats != nil {
		r.After, _ = stats(ctx)
	}
	closed := f.closed.Load()
	f.close()
	if closed > 0 {
		return r, fmt.Errorf("%s: the server closed %d of the idle connections: %s", t.name, closed, f.reasons())
	}
	r.PerConn = float64(r.RSSN-r.RSS0) / float64(o.conns)
	time.Sleep(2 * time.Second)
	r.RSSAfter, _ = rss(pid)
	return r, nil
}

func printMem(w io.Writer, r memResult) {
	sub := ""
	if r.Subscribed {
		sub = ", each subscribed"
	}
	fmt.Fprintf(w, "round %d %-7s memory: %d idle connections%s: RSS %.1f → %.1f MiB: %.1f KB per connection (RSS %.1f MiB 2 s after closing)\n",
		r.Round, r.Target, r.Conns, sub, mib(r.RSS0), mib(r.RSSN), r.PerConn/1000, mib(r.RSSAfter))
	if r.Before != nil && r.After != nil {
		per := func(k string) float64 { return (r.After[k] - r.Before[k]) / float64(r.Conns) }
		fmt.Fprintf(w, "  per connection: %.2f goroutines, heap in use %.1f KB, stacks %.1f KB, runtime sys %.1f KB\n",
			per("go_goroutines"), per("go_memstats_heap_inuse_bytes")/1000, per("go_memstats_stack_inuse_bytes")/1000,
			per("go_memstats_sys_bytes")/1000)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
