package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// sender makes the server send one message to every subscriber: a comment
// through Jokster's API, a POST /broadcast to the bare broadcaster, or a
// rating (whose stats update carries no send time). now is the send time
// to carry.
type sender func(ctx context.Context, i int, now time.Time) error

type phaseOptions struct {
	rate     float64 // deliveries a second: messages × subscribers
	warmup   time.Duration
	duration time.Duration
	drain    time.Duration
	inflight int
	timed    bool // messages carry their send time (false: ratings)
}

// phaseResult is one target under one load.
type phaseResult struct {
	Target      string  `json:"target"`
	Round       int     `json:"round"`
	Drive       string  `json:"drive"`
	Conns       int     `json:"connections"`
	GoalRate    float64 `json:"goal_deliveries_per_s"`
	MsgRate     float64 `json:"goal_messages_per_s"`
	Sent        int64   `json:"sent"`        // messages (or ratings) sent in the window and accepted
	SendErrors  int64   `json:"send_errors"` // refused or failed sends in the window
	Skipped     int64   `json:"skipped"`     // not sent: too many sends in flight (the server is behind)
	Delivered   int64   `json:"delivered"`   // deliveries counted (see the doc comment of fleet)
	Expected    int64   `json:"expected"`    // sent × subscribers
	Rate        float64 `json:"deliveries_per_s"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	Mean        float64 `json:"mean_ms"`
	FanP50      float64 `json:"publish_to_receive_p50_ms,omitempty"`
	FanP99      float64 `json:"publish_to_receive_p99_ms,omitempty"`
	SendP50     float64 `json:"send_request_p50_ms"`
	SendP99     float64 `json:"send_request_p99_ms"`
	MsgBytes    float64 `json:"bytes_per_message,omitempty"`
	Closed      int64   `json:"closed_by_server"`
	Reasons     string  `json:"close_reasons,omitempty"`
	Other       string  `json:"other_messages,omitempty"`
	ServerCPU   float64 `json:"server_cpu_percent,omitempty"`    // of one CPU, over the window
	GenCPU      float64 `json:"generator_cpu_percent,omitempty"` // this process
	MachineBusy float64 `json:"machine_busy_cpus,omitempty"`     // every process: CPUs kept busy
}

// meter is a reading of CPU clocks: the server's, this process's and the
// machine's.
type meter struct {
	at                  time.Time
	server, self        float64 // CPU seconds
	machBusy, machTotal float64 // ticks, averaged over CPUs
	ncpu                int
}

type usage struct{ server, self, machine float64 }

func readMeter(serverPid int) meter {
	m := meter{at: time.Now()}
	if serverPid != 0 {
		m.server, _ = cpuSeconds(serverPid)
	}
	m.self, _ = cpuSeconds(os.Getpid())
	m.machBusy, m.machTotal, m.ncpu, _ = machineTicks()
	return m
}

func (m meter) since(m0 meter) usage {
	secs := m.at.Sub(m0.at).Seconds()
	u := usage{server: (m.server - m0.server) / secs * 100, self: (m.self - m0.self) / secs * 100}
	if m.machTotal > m0.machTotal {
		u.machine = (m.machBusy - m0.machBusy) / (m.machTotal - m0.machTotal) * float64(m.ncpu)
	}
	return u
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// phase drives one target, slice after slice, and accumulates what it
// measured: with -slice, each round alternates the targets every few
// seconds, so other work on the machine falls on all of them alike.
type phase struct {
	f         *fleet
	send      sender
	serverPid int
	o         phaseOptions

	sent, errs, skipped atomic.Int64
	reqLat              loadkit.Hist
	firstErr            atomic.Value
	next                int     // index of the next send (raters take turns across slices)
	secs                float64 // measured time so far
	use                 usage   // CPU seconds (server, self) and CPU-seconds of the machine, summed
}

// slice drives the target at o.rate deliveries a second for o.warmup + d,
// open-loop (a send is started on schedule whether or not the previous one
// was answered, at most o.inflight at once), counts what was sent in the
// last d, then waits up to o.drain for those deliveries.
func (p *phase) slice(ctx context.Context, d time.Duration) {
	f, o := p.f, p.o
	subs := int(f.ready.Load())
	interval := time.Duration(float64(time.Second) / (o.rate / float64(subs)))
	start := time.Now().Add(20 * time.Millisecond)
	winStart := start.Add(o.warmup)
	winEnd := winStart.Add(d)
	f.winStart.Store(winStart.UnixNano())
	f.winEnd.Store(winEnd.UnixNano())
	sem := make(chan struct{}, o.inflight)
	var wg sync.WaitGroup
	var m0 meter
	started := false
	for k := 0; p.send != nil; k++ {
		next := start.Add(time.Duration(k) * interval)
		if !next.Before(winEnd) || ctx.Err() != nil {
			break
		}
		if !started && !next.Before(winStart) {
			m0, started = readMeter(p.serverPid), true
		}
		time.Sleep(time.Until(next))
		inWin := !next.Before(winStart)
		select {
		case sem <- struct{}{}:
		default:
			if inWin {
				p.skipped.Add(1)
			}
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			now := time.Now()
			err := p.send(ctx, i, now)
			if now.Before(winStart) || !now.Before(winEnd) {
				return
			}
			p.reqLat.Record(time.Since(now))
			if err != nil {
				p.errs.Add(1)
				p.firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			p.sent.Add(1)
		}(p.next)
		p.next++
	}
	if p.send == nil { // the server sends by itself: just watch
		time.Sleep(time.Until(winStart))
		m0, started = readMeter(p.serverPid), true
	}
	time.Sleep(time.Until(winEnd))
	if started {
		m1 := readMeter(p.serverPid)
		u := m1.since(m0)
		secs := m1.at.Sub(m0.at).Seconds()
		p.use.server += u.server / 100 * secs
		p.use.self += u.self / 100 * secs
		p.use.machine += u.machine * secs
	}
	p.secs += d.Seconds()
	wg.Wait()
	if o.timed {
		expected := p.sent.Load() * int64(subs)
		deadline := time.Now().Add(o.drain)
		for f.timed.Load() < expected && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	} else {
		time.Sleep(time.Until(winEnd.Add(o.drain)))
	}
}

func (p *phase) result() phaseResult {
	f, o := p.f, p.o
	subs := int(f.ready.Load())
	r := phaseResult{Target: f.t.name, Conns: subs, GoalRate: o.rate, MsgRate: o.rate / float64(subs),
		Sent: p.sent.Load(), SendErrors: p.errs.Load(), Skipped: p.skipped.Load(), Expected: p.sent.Load() * int64(subs),
		SendP50: msf(p.reqLat.Quantile(0.5)), SendP99: msf(p.reqLat.Quantile(0.99)), Closed: f.closed.Load()}
	if p.secs > 0 {
		r.ServerCPU, r.GenCPU, r.MachineBusy = p.use.server/p.secs*100, p.use.self/p.secs*100, p.use.machine/p.secs
	}
	if r.Closed > 0 {
		r.Reasons = f.reasons()
	}
	if e, ok := p.firstErr.Load().(string); ok {
		r.Reasons = strings.TrimSpace(r.Reasons + " first send error: " + e)
	}
	f.mu.Lock()
	var other []string
	var stats int64
	for k, v := range f.types {
		other = append(other, fmt.Sprintf("%s=%d", k, v))
		if k == "stats" {
			stats = v
		}
	}
	f.mu.Unlock()
	sort.Strings(other)
	r.Other = strings.Join(other, " ")
	lat := &f.lat
	if o.timed {
		r.Delivered = f.timed.Load()
		if n := f.timed.Load(); n > 0 {
			r.MsgBytes = float64(f.bytes.Load()) / float64(n)
		}
	} else {
		r.Delivered = stats
		lat = &f.fan // no send time: only publish → receive is known
	}
	if p.secs > 0 {
		r.Rate = float64(r.Delivered) / p.secs
	}
	r.P50, r.P90, r.P99 = msf(lat.Quantile(0.5)), msf(lat.Quantile(0.9)), msf(lat.Quantile(0.99))
	r.Max, r.Mean = msf(lat.Max()), msf(lat.Mean())
	if f.fan.Count() > 0 {
		r.FanP50, r.FanP99 = msf(f.fan.Quantile(0.5)), msf(f.fan.Quantile(0.99))
	}
	return r
}

func printPhase(w io.Writer, r phaseResult) {
	loss := ""
	if r.Expected > 0 {
		loss = fmt.Sprintf(" (%.2f%% of sent×subscribers)", 100*float64(r.Delivered)/float64(r.Expected))
	}
	fmt.Fprintf(w, "round %d %-7s %s: %d subscribers, goal %.0f deliveries/s (%.1f msg/s)\n",
		r.Round, r.Target, r.Drive, r.Conns, r.GoalRate, r.MsgRate)
	fmt.Fprintf(w, "  achieved %.0f deliveries/s, %d delivered%s; sent %d, send errors %d, skipped %d; send request p50 %.1f ms p99 %.1f ms\n",
		r.Rate, r.Delivered, loss, r.Sent, r.SendErrors, r.Skipped, r.SendP50, r.SendP99)
	what := "send → receive"
	if r.Drive == "ratings" {
		what = "publish → receive (stats carry no send time)"
	}
	fmt.Fprintf(w, "  %s: p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  mean %.1f ms\n", what, r.P50, r.P90, r.P99, r.Max, r.Mean)
	if r.FanP50 > 0 && r.Drive != "ratings" {
		fmt.Fprintf(w, "  of which publish → receive: p50 %.1f ms  p99 %.1f ms\n", r.FanP50, r.FanP99)
	}
	extra := []string{}
	if r.MsgBytes > 0 {
		extra = append(extra, fmt.Sprintf("%.0f bytes/message", r.MsgBytes))
	}
	if r.MachineBusy > 0 {
		extra = append(extra, fmt.Sprintf("CPU: server %.0f%%, load generator %.0f%%, whole machine %.0f%% of one core",
			r.ServerCPU, r.GenCPU, r.MachineBusy*100))
	}
	if r.Other != "" {
		extra = append(extra, "other messages in the window: "+r.Other)
	}
	if r.Closed > 0 || r.Reasons != "" {
		extra = append(extra, fmt.Sprintf("closed by the server: %d %s", r.Closed, r.Reasons))
	}
	if len(extra) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(extra, "; "))
	}
}

// summarize prints ranges over rounds and the Jokster/bare p99 ratio of
// each round.
func summarize(w io.Writer, rs []phaseResult, pooled map[string]*loadkit.Hist) {
	by := map[string][]phaseResult{}
	var names []string
	for _, r := range rs {
		if by[r.Target] == nil {
			names = append(names, r.Target)
		}
		by[r.Target] = append(by[r.Target], r)
	}
	span := func(xs []phaseResult, f func(phaseResult) float64, format string) string {
		lo, hi := f(xs[0]), f(xs[0])
		for _, x := range xs[1:] {
			lo, hi = min(lo, f(x)), max(hi, f(x))
		}
		if fmt.Sprintf(format, lo) == fmt.Sprintf(format, hi) {
			return fmt.Sprintf(format, lo)
		}
		return fmt.Sprintf(format+"–"+format, lo, hi)
	}
	fmt.Fprintln(w, "summary (ranges over rounds):")
	for _, n := range names {
		xs := by[n]
		fmt.Fprintf(w, "  %-7s achieved %s deliveries/s; p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n", n,
			span(xs, func(r phaseResult) float64 { return r.Rate }, "%.0f"),
			span(xs, func(r phaseResult) float64 { return r.P50 }, "%.1f"),
			span(xs, func(r phaseResult) float64 { return r.P90 }, "%.1f"),
			span(xs, func(r phaseResult) float64 { return r.P99 }, "%.1f"),
			span(xs, func(r phaseResult) float64 { return r.Max }, "%.1f"))
	}
	if len(rs) > len(names) {
		fmt.Fprintln(w, "pooled (every round's deliveries together):")
		for _, n := range names {
			h := pooled[n]
			if h == nil {
				continue
			}
			ratio := ""
			if b := pooled["bare"]; n != "bare" && b != nil && b.Quantile(0.99) > 0 {
				ratio = fmt.Sprintf("; p99 %.2f× bare", float64(h.Quantile(0.99))/float64(b.Quantile(0.99)))
			}
			fmt.Fprintf(w, "  %-7s p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms%s\n", n,
				msf(h.Quantile(0.5)), msf(h.Quantile(0.9)), msf(h.Quantile(0.99)), msf(h.Max()), ratio)
		}
	}
	for _, n := range names {
		if n == "bare" {
			continue
		}
		var ratios []string
		lo, hi := 0.0, 0.0
		for _, jr := range by[n] {
			for _, br := range by["bare"] {
				if br.Round == jr.Round && br.P99 > 0 {
					x := jr.P99 / br.P99
					ratios = append(ratios, fmt.Sprintf("%.2f", x))
					if lo == 0 || x < lo {
						lo = x
					}
					hi = max(hi, x)
				}
			}
		}
		if len(ratios) > 0 {
			fmt.Fprintf(w, "  p99 %s/bare per round: %s (range %.2f–%.2f; goal ≤ 1.20)\n", n, strings.Join(ratios, " "), lo, hi)
		}
	}
}
