package cull_test

import (
	"sync"
	"testing"
	"time"

	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/notifications"
)

// process is one more worker or API process checking the danger zone of
// env's database, with announcements of its own.
func (e *env) process() (*cull.Service, *cull.Memory) {
	heard := &cull.Memory{}
	return cull.New(e.db, e.set, cull.Deps{Notify: notifications.New(e.db, nil), Announce: heard, Now: e.clock.Now}), heard
}

// dangerAnnounced is how many DangerChanged calls the memories heard.
func dangerAnnounced(heard ...*cull.Memory) int {
	n := 0
	for _, h := range heard {
		_, d := h.Snapshot()
		n += d
	}
	return n
}

// Several processes check the danger zone: a change of its front (a
// rating that moves a post within the zone: nobody enters or leaves) is
// announced once in all, by whichever process checks first; a process
// that restarts announces neither an unchanged front again nor misses one
// that moved while it was down.
func TestCheckDanger_FrontAnnouncedOnceAcrossProcesses(t *testing.T) {
	e := newEnv(t, hourly, nil)
	var posts []int64
	for i := range 10 {
		posts = append(posts, e.post(e.author, 48*time.Hour, i, 0))
	}
	e.rebuild()
	a, heardA := e.process()
	b, heardB := e.process()
	check := func(who string, s *cull.Service, want int) {
		t.Helper()
		if n, err := s.CheckDanger(e.ctx); err != nil || n != want {
			t.Fatalf("%s: CheckDanger = %d, %v; want %d entered or left", who, n, err, want)
		}
	}
	want := func(when string, total int, heard ...*cull.Memory) {
		t.Helper()
		if n := dangerAnnounced(heard...); n != total {
			t.Fatalf("%s: DangerChanged announced %d times in all; want %d", when, n, total)
		}
	}
	check("a", a, 2) // posts 0 and 1 enter: announced by a
	check("b", b, 0)
	want("both processes checked the first zone", 1, heardA, heardB)

	e.rate(posts[0], 1, 0) // moves within the zone
	check("a", a, 0)
	check("b", b, 0)
	check("a", a, 0)
	want("a move within the zone, checked by both", 2, heardA, heardB)

	// Restarts: a new process finds the front unchanged.
	c, heardC := e.process()
	check("c", c, 0)
	want("a restarted process, nothing moved", 2, heardA, heardB, heardC)

	// The front moves while c is down; the process that comes up checks
	// first and announces it, and nobody announces it again.
	e.rate(posts[0], 0, 1)
	d, heardD := e.process()
	check("d", d, 0)
	if _, n := heardD.Snapshot(); n != 1 {
		t.Fatalf("a process started after the front moved announced %d times; want 1", n)
	}
	check("a", a, 0)
	check("b", b, 0)
	want("a move while a process was down", 3, heardA, heardB, heardC, heardD)

	// Many processes check at once after one move: one announcement.
	e.rate(posts[1], 1, 0) // level with post 2, but older: still in the zone
	var procs []*cull.Service
	var heard []*cull.Memory
	for range 6 {
		s, h := e.process()
		procs, heard = append(procs, s), append(heard, h)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, s := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CheckDanger(e.ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := dangerAnnounced(heard...); n != 1 {
		t.Fatalf("six processes checking one move at once announced it %d times; want 1", n)
	}
	check("a", a, 0)
	want("after the concurrent checks", 3, heardA, heardB, heardC, heardD)
}
