package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster/bench/loadkit"
)

// CPU accounting from /proc (Linux only): how much CPU time the server,
// PostgreSQL, Redis, this load generator and everything else used during
// the measured window. On a machine where all of them share two cores,
// this shows where a request's cost goes, and the CPU time per request is
// steadier than the throughput when other work competes for the machine.

type procTicks struct {
	comm  string
	cmd   string // command line, arguments joined by spaces
	ticks uint64 // utime + stime, all threads
}

// cpuGroup is one line of the CPU report: the processes whose command
// line contains match, or (match "@server") the process listening on the
// target's port.
type cpuGroup struct {
	label, match string
	pid          int // for @server, found once before the run
}

// parseCPUGroups reads "label=match,…"; a bare "match" is its own label.
func parseCPUGroups(spec string, port int) ([]cpuGroup, error) {
	var gs []cpuGroup
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		label, match, ok := strings.Cut(item, "=")
		if !ok {
			match = label
		}
		g := cpuGroup{label: strings.TrimSpace(label), match: match}
		if match == "@server" {
			pid, err := loadkit.ListenerPID(port)
			if err != nil {
				return nil, fmt.Errorf("-cpu: finding the server: %w", err)
			}
			g.pid = pid
		}
		gs = append(gs, g)
	}
	return gs, nil
}

type cpuSnap struct {
	at          time.Time
	total, idle uint64 // machine, from /proc/stat
	procs       map[int]procTicks
}

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

func takeCPUSnap() (*cpuSnap, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return nil, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	s := &cpuSnap{at: time.Now(), procs: map[int]procTicks{}}
	for i, v := range f[1:] {
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i == 3 || i == 4 { // idle, iowait
			s.idle += n
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid … utime(14) stime(15); comm may hold spaces.
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open {
			continue
		}
		rest := strings.Fields(st[end+1:])
		if len(rest) < 13 {
			continue
		}
		ut, _ := strconv.ParseUint(rest[11], 10, 64)
		stt, _ := strconv.ParseUint(rest[12], 10, 64)
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		s.procs[pid] = procTicks{comm: st[open+1 : end], cmd: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")), ticks: ut + stt}
	}
	return s, nil
}

// cpuShare is one group's CPU use in the window.
type cpuShare struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"` // of one core
}

type cpuReport struct {
	Cores  int        `json:"cores"`
	Busy   float64    `json:"busy_percent"` // whole machine, of one core
	Groups []cpuShare `json:"groups"`
}

// cpuBetween attributes the CPU time used between a and b to the groups
// (a process counts towards the first that matches), to this process, and
// to "other processes" (all the rest, including those that started and
// ended within the window).
func cpuBetween(a, b *cpuSnap, groups []cpuGroup) cpuReport {
	secs := b.at.Sub(a.at).Seconds()
	cores := 0
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
				cores++
			}
		}
	}
	r := cpuReport{Cores: cores}
	total := float64(b.total - a.total)
	if total <= 0 || secs <= 0 {
		return r
	}
	busyFrac := 1 - float64(b.idle-a.idle)/total
	r.Busy = 100 * busyFrac * float64(max(cores, 1))
	self := os.Getpid()
	byGroup := map[string]uint64{}
	for pid, pb := range b.procs {
		pa, ok := a.procs[pid]
		d := pb.ticks
		if ok && pa.comm == pb.comm {
			d -= min(pa.ticks, pb.ticks)
		}
		g := ""
		if pid == self {
			g = "bench (load generator)"
		} else {
			for _, cg := range groups {
				if (cg.pid != 0 && cg.pid == pid) || (cg.pid == 0 && strings.Contains(pb.cmd, cg.match)) {
					g = cg.label
					break
				}
			}
		}
		if g != "" {
			byGroup[g] += d
		}
	}
	named := 0.0
	for g, t := range byGroup {
		pct := 100 * float64(t) / clkTck / secs
		named += pct
		r.Groups = append(r.Groups, cpuShare{Name: g, Percent: pct})
	}
	sort.Slice(r.Groups, func(i, j int) bool { return r.Groups[i].Percent > r.Groups[j].Percent })
	r.Groups = append(r.Groups, cpuShare{Name: "other processes", Percent: max(0, r.Busy-named)})
	return r
}

func (r cpuReport) String(perSecond float64) string {
	var parts []string
	for _, g := range r.Groups {
		s := fmt.Sprintf("%s %.0f%%", g.Name, g.Percent)
		if perSecond > 0 && g.Name != "other processes" {
			s += fmt.Sprintf(" (%.2fms/req)", g.Percent/100/perSecond*1000)
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("machine busy %.0f%% of %d%%: %s", r.Busy, 100*r.Cores, strings.Join(parts, ", "))
}
