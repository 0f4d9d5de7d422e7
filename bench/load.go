package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// request is one unit of load: it sends a request with the worker's
// client and returns the response (whose body the driver drains).
type request func(ctx context.Context, w *worker) (*http.Request, error)

// worker is one closed-loop client: it sends its next request when the
// previous answer has arrived.
type worker struct {
	id  int
	rng *rand.Rand
	// Results, merged after the run.
	ok       loadkit.Hist // latency of 2xx answers
	all      loadkit.Hist // latency of every answer, any status
	statuses map[int]uint64
	errs     map[string]uint64
}

func newRand(worker uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), worker))
}

type loadOptions struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	progress    bool
	cpuGroups   []cpuGroup // processes to account CPU to; nil: no accounting
}

type result struct {
	Elapsed  time.Duration
	Requests uint64
	OK       uint64
	Statuses map[int]uint64    // non-2xx answers by status
	Errors   map[string]uint64 // requests with no answer, by cause
	Hist     loadkit.Hist
	AllHist  loadkit.Hist
	CPU      *cpuReport // nil without -cpu or /proc
}

func (r *result) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// run drives concurrency workers for warmup+duration. Requests that start
// during the warm-up are not counted; the measured window starts when it
// ends and closes when the last worker has its final answer (each worker
// sends nothing after the deadline).
func run(hc *http.Client, o loadOptions, next request) *result {
	ws := make([]*worker, o.concurrency)
	for i := range ws {
		ws[i] = &worker{id: i, rng: newRand(uint64(i)), statuses: map[int]uint64{}, errs: map[string]uint64{}}
	}
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	var done atomic.Uint64 // 2xx answers, for -progress
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if o.progress {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			var last uint64
			for {
				select {
				case <-stopProgress:
					return
				case now := <-t.C:
					n := done.Load()
					fmt.Fprintf(os.Stderr, "  %5.1fs %8d ok/s\n", now.Sub(start).Seconds(), n-last)
					last = n
				}
			}
		}()
	}
	// CPU accounting covers the measured window only.
	var cpuStart *cpuSnap
	cpuTaken := make(chan struct{})
	if o.cpuGroups != nil {
		go func() {
			defer close(cpuTaken)
			time.Sleep(time.Until(measureFrom))
			cpuStart, _ = takeCPUSnap()
		}()
	} else {
		close(cpuTaken)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, err := next(ctx, w)
				if err != nil {
					w.errs["build request: "+err.Error()]++
					return
				}
				resp, err := hc.Do(req)
				var status int
				if err == nil {
					// Drain so the connection goes back to the pool.
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				d := time.Since(t0)
				if err == nil && status/100 == 2 {
					done.Add(1)
				}
				if t0.Before(measureFrom) {
					continue
				}
				switch {
				case err != nil:
					w.errs[errorKind(err)]++
				case status/100 == 2:
					w.ok.Record(d)
					w.all.Record(d)
				default:
					w.statuses[status]++
					w.all.Record(d)
				}
			}
		}()
	}
	wg.Wait()
	finished := time.Now()
	close(stopProgress)
	progressDone.Wait()

	r := &result{Elapsed: finished.Sub(measureFrom), Statuses: map[int]uint64{}, Errors: map[string]uint64{}}
	<-cpuTaken
	if cpuStart != nil {
		if cpuEnd, err := takeCPUSnap(); err == nil {
			c := cpuBetween(cpuStart, cpuEnd, o.cpuGroups)
			r.CPU = &c
		}
	}
	for _, w := range ws {
		r.Hist.Merge(&w.ok)
		r.AllHist.Merge(&w.all)
		for s, n := range w.statuses {
			r.Statuses[s] += n
		}
		for e, n := range w.errs {
			r.Errors[e] += n
		}
	}
	r.OK = r.Hist.Count()
	r.Requests = r.OK
	for _, n := range r.Statuses {
		r.Requests += n
	}
	for _, n := range r.Errors {
		r.Requests += n
	}
	return r
}

// errorKind names a transport failure briefly, without the URL.
func errorKind(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port free (EADDRNOTAVAIL)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by server (EOF)"
	}
	s := err.Error()
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// report prints r; noun names one request ("ratings", "reads").
func report(out io.Writer, name, noun string, target string, o loadOptions, r *result, goalRate float64, goalP99 time.Duration) {
	fmt.Fprintf(out, "%s: %d workers, %s measured (after %s warm-up) against %s\n", name, o.concurrency, o.duration, o.warmup, target)
	fmt.Fprintf(out, "  requests    %d in %.2fs: %d 2xx, %d other status, %d errors\n",
		r.Requests, r.Elapsed.Seconds(), r.OK, sum(r.Statuses), sum(r.Errors))
	fmt.Fprintf(out, "  throughput  %.0f %s/s (2xx only)\n", r.rate(), noun)
	h := &r.Hist
	fmt.Fprintf(out, "  latency 2xx p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
		ms(h.Quantile(0.50)), ms(h.Quantile(0.90)), ms(h.Quantile(0.99)), ms(h.Quantile(0.999)),
		ms(h.Max()), ms(h.Mean()))
	if len(r.Statuses) > 0 {
		a := &r.AllHist
		fmt.Fprintf(out, "  latency all p50 %s  p99 %s  max %s\n", ms(a.Quantile(0.5)), ms(a.Quantile(0.99)), ms(a.Max()))
		keys := make([]int, 0, len(r.Statuses))
		for s := range r.Statuses {
			keys = append(keys, s)
		}
		sort.Ints(keys)
		parts := make([]string, len(keys))
		for i, s := range keys {
			parts[i] = fmt.Sprintf("%d ×%d", s, r.Statuses[s])
		}
		fmt.Fprintf(out, "  non-2xx     %s\n", strings.Join(parts, ", "))
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for e := range r.Errors {
			keys = append(keys, e)
		}
		sort.Strings(keys)
		for _, e := range keys {
			fmt.Fprintf(out, "  error       %s ×%d\n", e, r.Errors[e])
		}
	}
	if r.CPU != nil {
		fmt.Fprintf(out, "  cpu         %s\n", r.CPU.String(r.rate()))
	}
	if goalRate > 0 {
		p99 := h.Quantile(0.99)
		verdict := "MET"
		var why []string
		if r.rate() < goalRate {
			verdict = "MISSED"
			why = append(why, fmt.Sprintf("throughput at %.0f%% of the goal", 100*r.rate()/goalRate))
		}
		if p99 >= goalP99 {
			verdict = "MISSED"
			why = append(why, fmt.Sprintf("p99 %s over", ms(p99-goalP99)))
		}
		line := fmt.Sprintf("  goal        ≥ %.0f %s/s with p99 < %s: %s", goalRate, noun, ms(goalP99), verdict)
		if len(why) > 0 {
			line += " (" + strings.Join(why, "; ") + ")"
		}
		fmt.Fprintln(out, line)
	}
}

func sum[K comparable](m map[K]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// jsonResult is the -json form of a run.
type jsonResult struct {
	Command     string            `json:"command"`
	URL         string            `json:"url"`
	Concurrency int               `json:"concurrency"`
	Seconds     float64           `json:"seconds"`
	Requests    uint64            `json:"requests"`
	OK          uint64            `json:"ok"`
	PerSecond   float64           `json:"per_second"`
	P50ms       float64           `json:"p50_ms"`
	P90ms       float64           `json:"p90_ms"`
	P99ms       float64           `json:"p99_ms"`
	P999ms      float64           `json:"p999_ms"`
	MaxMs       float64           `json:"max_ms"`
	NonOK       map[string]uint64 `json:"non_2xx,omitempty"`
	Errors      map[string]uint64 `json:"errors,omitempty"`
	BatchMean   float64           `json:"batch_mean,omitempty"`
	CPU         *cpuReport        `json:"cpu,omitempty"`
}

func toJSON(cmd, target string, o loadOptions, r *result) jsonResult {
	f := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	j := jsonResult{Command: cmd, URL: target, Concurrency: o.concurrency, Seconds: r.Elapsed.Seconds(),
		Requests: r.Requests, OK: r.OK, PerSecond: r.rate(),
		P50ms: f(r.Hist.Quantile(0.5)), P90ms: f(r.Hist.Quantile(0.9)), P99ms: f(r.Hist.Quantile(0.99)),
		P999ms: f(r.Hist.Quantile(0.999)), MaxMs: float64(r.Hist.Max().Microseconds()) / 1000, Errors: r.Errors, CPU: r.CPU}
	if len(r.Statuses) > 0 {
		j.NonOK = map[string]uint64{}
		for s, n := range r.Statuses {
			j.NonOK[fmt.Sprint(s)] = n
		}
	}
	return j
}
