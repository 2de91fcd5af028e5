package redisstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/sessionx-redis/redisstore/internal/client"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// load saves sessions from several goroutines until stop is closed and
// records which Saves succeeded and the longest gap between successes.
type load struct {
	mu      sync.Mutex
	ok      []string
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

// checkAll loads every session whose Save succeeded.
func (l *load) checkAll(t *testing.T, s *RedisStore) {
	t.Helper()
	l.wait()
	missing := 0
	for _, id := range l.ok {
		if _, err := s.Load(id); err != nil {
			missing++
			if missing < 5 {
				t.Errorf("Load(%s) after a successful Save = %v", id, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged Saves lost", missing, len(l.ok))
	}
	t.Logf("%d Saves succeeded; failures by kind: %v", len(l.ok), l.errs)
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
			time.Sleep(500 * time.Millisecond)
			old, oldAddr := g.Master, g.Master.Addr
			start := time.Now()
			if mode == "kill -9" {
				old.Kill(t)
				g.WaitMasterChange(t, oldAddr)
			} else {
				// A planned switch as operators run it: writes paused on the
				// old master while Sentinel promotes the replica, then the old
				// master follows the new one. Without the pause, Sentinel's
				// asynchronous promotion leaves the old master accepting
				// writes that the failover then discards.
				old.Do(t, "CLIENT", "PAUSE", "10000", "WRITE")
				g.Failover(t)
				old.Do(t, "REPLICAOF", "127.0.0.1", fmt.Sprint(g.Master.Port))
				old.Do(t, "CLIENT", "UNPAUSE")
			}
			switched := time.Since(start)
			time.Sleep(2 * time.Second)
			close(stop)
			l.wait()
			if got := s.c.Addrs()[0]; got != g.Master.Addr {
				t.Fatalf("store uses %s, the master is %s", got, g.Master.Addr)
			}
			l.mu.Lock()
			t.Logf("%s: sentinels switched after %v; longest write outage %v (from %v after the fault)",
				mode, switched.Round(time.Millisecond), l.maxGap.Round(time.Millisecond), l.gapFrom.Sub(start).Round(time.Millisecond))
			if l.maxGap > downAfter+2*time.Second {
				t.Errorf("writes stopped for %v, over down-after + 2s", l.maxGap)
			}
			l.mu.Unlock()
			l.checkAll(t, s)
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
			time.Sleep(200 * time.Millisecond) // the subscription is up
			start := time.Now()
			g.Failover(t)
			if !waitFor(5*time.Second, func() bool { return s.c.Addrs()[0] == g.Master.Addr }) {
				t.Fatalf("the store still uses %s %v after the failover to %s", s.c.Addrs()[0], time.Since(start).Round(time.Millisecond), g.Master.Addr)
			}
			t.Logf("switched %v after SENTINEL FAILOVER was sent, without polling", time.Since(start).Round(time.Millisecond))
			roundTrip(t, s, "after")
		})
	}
}
