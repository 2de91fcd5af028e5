package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// load saves sessions from several goroutines until stop is closed and
// records which Saves succeeded and the longest gap between successes.
type load struct {
	mu      sync.Mutex
	ok      []string
	okAt    []time.Time // when each of ok was acknowledged
	okBy    []string    // the master the store was on right after each of ok
	errs    map[string]int
	lastOK  time.Time
	maxGap  time.Duration
	gapFrom time.Time
	wait    func()
}

func runLoad(t *testing.T, s *RedisStore, writers int, prefix string, stop <-chan struct{}) *load {
	l := &load{errs: map[string]int{}, lastOK: time.Now()}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := s.SaveContext(ctx, testSession(id))
				cancel()
				now := time.Now()
				l.mu.Lock()
				if err == nil {
					l.ok = append(l.ok, id)
					l.okAt = append(l.okAt, now)
					l.okBy = append(l.okBy, s.c.Addrs()[0])
					if gap := now.Sub(l.lastOK); gap > l.maxGap {
						l.maxGap, l.gapFrom = gap, l.lastOK
					}
					l.lastOK = now
				} else {
					if errors.Is(err, ErrSessionNotFound) || errors.Is(err, ErrInvalidSession) {
						t.Errorf("Save = %v", err)
					}
					l.errs[client.ErrorKind(err)]++
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	t.Cleanup(wg.Wait)
	l.wait = wg.Wait
	return l
}

// okCount is the number of Saves that succeeded so far.
func (l *load) okCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ok)
}

// checkAll loads every session whose Save succeeded. Replication is
// asynchronous, so a master killed with kill -9 can take the last writes it
// acknowledged with it: Saves acknowledged after fence (when the replica
// was known to hold everything before it) by the old master (the store was
// still on it right after the reply; it switches only once that master is
// dead, so no reply of the old master is in flight then) may be lost, and
// are only counted. Zero fence: none may.
func (l *load) checkAll(t *testing.T, s *RedisStore, fence time.Time, old string) {
	t.Helper()
	l.wait()
	missing, mayLose, lost := 0, 0, 0
	for i, id := range l.ok {
		unfenced := !fence.IsZero() && !l.okAt[i].Before(fence) && l.okBy[i] == old
		if unfenced {
			mayLose++
		}
		if _, err := s.Load(id); err != nil {
			if unfenced {
				lost++
				continue
			}
			missing++
			if missing < 5 {
				t.Errorf("Load(%s) after a successful Save = %v", id, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged Saves lost", missing, len(l.ok)-mayLose)
	}
	t.Logf("%d Saves succeeded; failures by kind: %v; acknowledged by the old master after the replication fence: %d, of which lost: %d",
		len(l.ok), l.errs, mayLose, lost)
}

// replicationFence returns a time before which every write master m
// acknowledged is held by its replica r: it reads m's replication offset,
// then waits until r has processed that much of the stream (r's own
// offset, not the acknowledgement r sends m once a second).
func replicationFence(t *testing.T, m, r *redisserver.Server) time.Time {
	t.Helper()
	fence := time.Now()
	want, err := strconv.ParseInt(m.Info(t, "replication")["master_repl_offset"], 10, 64)
	if err != nil {
		t.Fatalf("master_repl_offset: %v", err)
	}
	var got int64
	if !waitFor(10*time.Second, func() bool {
		got, _ = strconv.ParseInt(r.Info(t, "replication")["slave_repl_offset"], 10, 64)
		return got >= want
	}) {
		t.Fatalf("the replica is at offset %d, never reached the master's %d", got, want)
	}
	return fence
}

func TestSentinelFollowsFailover(t *testing.T) {
	const downAfter = time.Second
	for _, mode := range []string{"SENTINEL FAILOVER", "kill -9"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			g := redisserver.StartSentinel(t, redisserver.SentinelConfig{DownAfter: downAfter})
			s := openStore(t, Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName})
			stop := make(chan struct{})
			l := runLoad(t, s, 4, "s", stop)
			stopLoad := sync.OnceFunc(func() { close(stop) })
			t.Cleanup(stopLoad) // before runLoad's wait, should a Fatal skip the close below
			// Writes flow before the fault (not a fixed sleep: under load the
			// first Saves can take long).
			if !waitFor(10*time.Second, func() bool { return l.okCount() >= 50 }) {
				t.Fatalf("only %d Saves succeeded before the fault", l.okCount())
			}
			old, oldAddr := g.Master, g.Master.Addr
			start := time.Now()
			var fence time.Time
			if mode == "kill -9" {
				fence = replicationFence(t, old, g.Replica)
				old.Kill(t)
				g.WaitMasterChange(t, oldAddr)
			} else {
				// A planned switch as operators run it: writes paused on the
				// old master while Sentinel promotes the replica, then the old
				// master follows the new one. Without the pause, Sentinel's
				// asynchronous promotion leaves the old master accepting
				// writes that the failover then discards.
				// The pause outlasts Failover's own deadlines (2 x 30 s): it
				// must not end on its own before the UNPAUSE below, whatever
				// the machine's load.
				old.Do(t, "CLIENT", "PAUSE", "120000", "WRITE")
				g.Failover(t)
				old.Do(t, "REPLICAOF", "127.0.0.1", fmt.Sprint(g.Master.Port))
				old.Do(t, "CLIENT", "UNPAUSE")
			}
			switched := time.Since(start)
			// Wait for the store to be on the new master with writes
			// succeeding there again, instead of sleeping and hoping.
			okAtSwitch := l.okCount()
			if !waitFor(15*time.Second, func() bool {
				return s.c.Addrs()[0] == g.Master.Addr && l.okCount() >= okAtSwitch+200
			}) {
				t.Fatalf("%v after the sentinels switched, the store uses %s (the master is %s) and %d Saves succeeded since",
					time.Since(start)-switched, s.c.Addrs()[0], g.Master.Addr, l.okCount()-okAtSwitch)
			}
			stopLoad()
			l.wait()
			if got := s.c.Addrs()[0]; got != g.Master.Addr {
				t.Fatalf("store uses %s, the master is %s", got, g.Master.Addr)
			}
			l.mu.Lock()
			t.Logf("%s: sentinels switched after %v; longest write outage %v (from %v after the fault)",
				mode, switched.Round(time.Millisecond), l.maxGap.Round(time.Millisecond), l.gapFrom.Sub(start).Round(time.Millisecond))
			// How long the sentinels take is theirs (down-after, up to 1 s
			// of random desync, the 1 s is-master-down and INFO periods: 2 to
			// over 3 s here) and is measured above as switched. The store's
			// part is what the outage lasts beyond it: a failed command
			// rediscovers at once (every refreshInterval at most, retries
			// every maxBackoff at most), the +switch-master event or the
			// watch (every client.SentinelWatchInterval) cover a store that sees no
			// failure. Bound: that interval plus 1 s of margin.
			if storeShare, limit := l.maxGap-switched, client.SentinelWatchInterval+time.Second; storeShare > limit {
				t.Errorf("writes stopped for %v, %v beyond the sentinels' own %v failover (limit %v)",
					l.maxGap, storeShare, switched, limit)
			}
			l.mu.Unlock()
			l.checkAll(t, s, fence, oldAddr)
		})
	}
}

// An idle store (no command fails to tell it) follows a failover through the
// +switch-master event alone, as a RESP3 push or a RESP2 message: polling is
// off here.
func TestSentinelSwitchesOnTheEvent(t *testing.T) {
	defer func(d time.Duration) { client.SentinelWatchInterval = d }(client.SentinelWatchInterval)
	client.SentinelWatchInterval = time.Hour
	for _, protocol := range []int{3, 2} {
		t.Run(fmt.Sprintf("RESP%d", protocol), func(t *testing.T) {
			g := redisserver.StartSentinel(t, redisserver.SentinelConfig{DownAfter: time.Second})
			s := openStore(t, Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName, Protocol: protocol})
			roundTrip(t, s, "before")
			// The subscription is up: a sentinel lists a client subscribed
			// to a channel (the sentinels' own links to each other carry no
			// subscription). A failover before that would go unnoticed with
			// polling off.
			if !waitFor(10*time.Second, func() bool { return subscribed(g) }) {
				t.Fatal("no sentinel lists the store's +switch-master subscription")
			}
			start := time.Now()
			g.Failover(t)
			// Failover returns once every sentinel names the new master, so
			// the event has been published by then; what is left is the
			// store's ROLE check and switch.
			if !waitFor(10*time.Second, func() bool { return s.c.Addrs()[0] == g.Master.Addr }) {
				t.Fatalf("the store still uses %s %v after the failover to %s", s.c.Addrs()[0], time.Since(start).Round(time.Millisecond), g.Master.Addr)
			}
			t.Logf("switched %v after SENTINEL FAILOVER was sent, without polling", time.Since(start).Round(time.Millisecond))
			roundTrip(t, s, "after")
		})
	}
}

// subscribed reports whether a sentinel of g has a client with a
// subscription (CLIENT LIST sub=1): the store's +switch-master listener.
func subscribed(g *redisserver.SentinelGroup) bool {
	for _, sn := range g.Sentinels {
		if out, err := sn.DoErr("CLIENT", "LIST"); err == nil && strings.Contains(out, " sub=1 ") {
			return true
		}
	}
	return false
}
