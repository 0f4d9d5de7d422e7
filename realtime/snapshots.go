package realtime

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var snapshotsMade = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "jokster_live_snapshots_total",
	Help: "Snapshots sent to subscribers: read (a round that read the state) or shared (a subscriber served by another's round).",
}, []string{"outcome"})

// snapshotGroup lets the subscribers of a channel who are waiting at the
// same moment share one snapshot: when thousands of clients subscribe to
// one post at once (a link shared widely, or every client resubscribing
// after the broker reconnected), the state is read and encoded once per
// round instead of once per client, which spares PostgreSQL and Redis and
// leaves far less garbage behind.
//
// A snapshot is only shared with clients that subscribed before its
// version was taken, or one of them could miss an update published in
// between: callers join a round that has not started; a round starts when
// the one before it (same channel and viewer) has finished.
type snapshotGroup struct {
	mu      sync.Mutex
	waiting map[snapshotKey]*snapshotRound // not started yet: open to joiners
	running map[snapshotKey]*snapshotRound
}

type snapshotKey struct {
	ch     string
	viewer int64 // snapshots can depend on who looks
}

type snapshotRound struct {
	done    chan struct{}
	callers int // the leader and those who joined
	msg     []byte
	v       int64
	err     error
}

func newSnapshotGroup() *snapshotGroup {
	return &snapshotGroup{waiting: map[snapshotKey]*snapshotRound{}, running: map[snapshotKey]*snapshotRound{}}
}

// do returns the encoded snapshot message of channel key for viewer and
// its version, made by read in a round this caller joined.
func (g *snapshotGroup) do(key string, viewer int64, read func() ([]byte, int64, error)) ([]byte, int64, error) {
	k := snapshotKey{key, viewer}
	g.mu.Lock()
	if r := g.waiting[k]; r != nil {
		r.callers++
		g.mu.Unlock()
		snapshotsMade.WithLabelValues("shared").Inc()
		<-r.done
		return r.msg, r.v, r.err
	}
	r := &snapshotRound{done: make(chan struct{}), callers: 1}
	snapshotsMade.WithLabelValues("read").Inc()
	g.waiting[k] = r
	prev := g.running[k]
	g.mu.Unlock()
	if prev != nil {
		<-prev.done // meanwhile others join r
	}
	g.mu.Lock()
	delete(g.waiting, k)
	g.running[k] = r
	g.mu.Unlock()

	r.msg, r.v, r.err = read()

	g.mu.Lock()
	if g.running[k] == r {
		delete(g.running, k)
	}
	g.mu.Unlock()
	close(r.done)
	return r.msg, r.v, r.err
}
