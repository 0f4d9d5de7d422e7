package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// procStatus reads fields of /proc/<pid>/status in bytes (VmRSS, VmHWM, …)
// or counts (Threads).
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		parts := strings.Fields(rest)
		if len(parts) == 0 {
			break
		}
		n, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return 0, err
		}
		if len(parts) > 1 && parts[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// rss is the process's resident set, in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// steadyRSS samples the RSS n times, every gap, and returns the median
// (the Go runtime grows and returns memory in steps; one sample can catch
// a step half-way).
func steadyRSS(pid, n int, gap time.Duration) (int64, error) {
	var xs []int64
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		v, err := rss(pid)
		if err != nil {
			return 0, err
		}
		xs = append(xs, v)
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[len(xs)/2], nil
}

// listenerPID finds the process listening on the TCP port of addr
// ("host:port").
func listenerPID(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, err
	}
	return loadkit.ListenerPID(port)
}

func pidSelf() int { return os.Getpid() }

// cpuSeconds is the CPU time the process used so far (user + system),
// from /proc/<pid>/stat in clock ticks of 1/100 s (USER_HZ on Linux).
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from its ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, err1 := strconv.ParseFloat(f[11], 64) // utime, field 14
	k, err2 := strconv.ParseFloat(f[12], 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return (u + k) / 100, nil
}

// loadAvg describes how busy the machine is (other work skews latency).
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

// machineTicks reads the busy and total clock ticks of every CPU together
// from /proc/stat.
// (busy and total are averages over the CPUs; ncpu counts them).
func machineTicks() (busy, total float64, ncpu int, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	lines := strings.Split(string(data), "\n")
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "cpu") {
			ncpu++
		}
	}
	f := strings.Fields(lines[0])
	if len(f) < 8 || f[0] != "cpu" || ncpu == 0 {
		return 0, 0, 0, errors.New("/proc/stat: unexpected format")
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, 0, 0, err
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, ncpu, nil
}

// machineBusy is how many CPUs the whole machine kept busy over d.
func machineBusy(d time.Duration) float64 {
	b0, t0, _, err := machineTicks()
	if err != nil {
		return -1
	}
	time.Sleep(d)
	b1, t1, n, err := machineTicks()
	if err != nil || t1 == t0 {
		return -1
	}
	return (b1 - b0) / (t1 - t0) * float64(n)
}

// waitQuiet waits until other work keeps at most maxBusy CPUs busy
// (sampled over 1 s), or until maxWait; it returns what it last saw.
func waitQuiet(maxBusy float64, maxWait time.Duration) float64 {
	start := time.Now()
	for {
		b := machineBusy(time.Second)
		if b < 0 || b <= maxBusy || time.Since(start) >= maxWait {
			if time.Since(start) > 3*time.Second {
				fmt.Fprintf(os.Stderr, "  waited %.0fs for the machine to quieten (busy %.2f CPUs)\n", time.Since(start).Seconds(), b)
			}
			return b
		}
	}
}
