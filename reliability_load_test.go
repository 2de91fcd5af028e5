package redisstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Lengths of the long scenarios: short in CI, the with the flags
// (go test -run Reliability -overload=30s -soak=60s).
var (
	overloadFor = flag.Duration("overload", 5*time.Second, "how long scenario 7 overloads the pool (the issue asks 30s)")
	soakFor     = flag.Duration("soak", 10*time.Second, "how long scenario 13 soaks (the issue asks 60s)")
)

// storeConns counts the normal clients of srv other than the redis-cli that
// asks.
func storeConns(t *testing.T, srv *redisserver.Server) int {
	t.Helper()
	out := srv.Do(t, "CLIENT", "LIST", "TYPE", "normal")
	return strings.Count(out, "id=") - 1
}

// Scenario 7: ten times more callers than PoolSize for -overload, with
// contexts that expire or are cancelled at random while redis-server
// stalls (DEBUG SLEEP) and drops every connection (CLIENT KILL): the pool
// never opens more than PoolSize connections, no slot is lost to a
// cancelled wait (afterwards the store's open connections are exactly the
// server's, none stuck dialing), and after Close the goroutines and file
// descriptors are back to what they were before the store.
func TestReliabilityPoolOverload(t *testing.T) {
	const (
		poolSize = 2
		callers  = 10 * poolSize
	)
	srv := redisserver.Start(t, redisserver.Config{})
	base := takeBaseline()
	s, err := NewRedisStore(Options{Addr: srv.Addr, PoolSize: poolSize, PoolTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ps := samplePool(s)
	var ops, ok, panics atomic.Int64
	var errs errorKinds
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				guard(&panics, func() {
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					switch rand.IntN(3) {
					case 0: // a deadline that often ends while waiting
						ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(3000))*time.Microsecond)
					case 1: // cancelled from elsewhere at a random moment
						ctx, cancel = context.WithCancel(ctx)
						time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, cancel)
					}
					defer cancel()
					id := fmt.Sprintf("ovl-%d-%d", g, i%8)
					var err error
					if i%2 == 0 {
						err = s.SaveContext(ctx, testSession(id))
					} else if _, err = s.LoadContext(ctx, id); errors.Is(err, ErrSessionNotFound) {
						err = nil
					}
					ops.Add(1)
					if err == nil {
						ok.Add(1)
					} else {
						errs.add(err)
					}
				})
			}
		}()
	}
	// The server stalls and drops its clients now and then.
	var kills, stalls int
	end := time.Now().Add(*overloadFor)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond)
		if rand.IntN(2) == 0 {
			if _, err := srv.DoErr("CLIENT", "KILL", "TYPE", "normal"); err == nil {
				kills++
			}
		} else if _, err := srv.DoErr("DEBUG", "SLEEP", "0.05"); err == nil {
			stalls++
		}
	}
	close(stop)
	wg.Wait()
	ps.stop()

	// No slot lost: once quiet, every open connection is one the server
	// has, none is stuck dialing, and every pipe works again.
	var st Stats
	quiet := waitFor(5*time.Second, func() bool {
		st = s.Stats()
		return st.Pool.Dialing == 0 && st.Pool.Closing == 0 && st.Pool.Open == storeConns(t, srv)
	})
	server := storeConns(t, srv)
	for i := range 2 * poolSize {
		roundTrip(t, s, fmt.Sprintf("ovl-after-%d", i))
	}
	after := s.Stats().Pool
	s.Close()
	closed := s.Stats().Pool
	now := waitBaseline(t, base, 10*time.Second)
	t.Logf("figure: %d callers on PoolSize %d for %v, %d kills and %d 50ms stalls: %d calls (%.0f/s), %d ok, errors %v, %d panics; pool open max %d (%d samples), %d waits, %d wait timeouts, %d waits cancelled, %d dials; afterwards %d open = %d on the server, %d dialing; after Close %d open, goroutines %d (baseline %d), fds %d (baseline %d)",
		callers, poolSize, *overloadFor, kills, stalls, ops.Load(), float64(ops.Load())/overloadFor.Seconds(), ok.Load(), errs.String(), panics.Load(),
		ps.maxOpen.Load(), ps.samples.Load(), after.Waits, after.Timeouts, after.Canceled, after.Dials, st.Pool.Open, server, st.Pool.Dialing,
		closed.Open, now.goroutines, base.goroutines, now.fds, base.fds)
	errs.check(t)
	if panics.Load() != 0 {
		t.Errorf("%d panics", panics.Load())
	}
	if ps.maxOpen.Load() > poolSize {
		t.Errorf("pool open max %d > PoolSize %d", ps.maxOpen.Load(), poolSize)
	}
	if !quiet {
		t.Errorf("after the overload: %d open, %d dialing, %d closing; the server has %d", st.Pool.Open, st.Pool.Dialing, st.Pool.Closing, server)
	}
	if closed.Open != 0 {
		t.Errorf("after Close %d connections open", closed.Open)
	}
	if ok.Load() == 0 {
		t.Error("no call succeeded")
	}
}

// soakKey is what the soak knows of one key: its last acknowledged
// operation, or that a failed one left it unknown.
type soakKey struct {
	known   bool
	exists  bool // last acknowledged op was a Save
	version int  // of that Save
	next    int  // the next version to save
}

// Scenario 13: a soak of mixed Load, Save and Delete from 64 goroutines
// against redis-server for -soak, with CLIENT KILL every 100-300 ms: no
// acknowledged write is lost (a Load of a key whose last acknowledged op
// was a Save returns that version, a deleted key stays gone; a failed
// Save or Delete leaves the key unknown until the next acknowledged one),
// no panic, every error typed.
func TestReliabilitySoak(t *testing.T) {
	const (
		goroutines = 64
		keysEach   = 8
	)
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr})
	keys := make([][]soakKey, goroutines) // keys[g] is touched by goroutine g only
	var ops, loads, saves, deletes, checked, lost, panics atomic.Int64
	var errs errorKinds
	var lostMu sync.Mutex
	var lostExamples []string
	reportLost := func(format string, args ...any) {
		lost.Add(1)
		lostMu.Lock()
		if len(lostExamples) < 5 {
			lostExamples = append(lostExamples, fmt.Sprintf(format, args...))
		}
		lostMu.Unlock()
	}
	// verify checks a Load of key k against what is known of it.
	verify := func(id string, k *soakKey, got *session.Session, err error) {
		switch {
		case !k.known:
		case k.exists && err == nil:
			checked.Add(1)
			if got.Data["v"] != strconv.Itoa(k.version) || got.ID != id {
				reportLost("%s: loaded version %v, acknowledged %d", id, got.Data["v"], k.version)
			}
		case k.exists && errors.Is(err, ErrSessionNotFound):
			checked.Add(1)
			reportLost("%s: not found, acknowledged Save of version %d", id, k.version)
		case !k.exists && err == nil:
			checked.Add(1)
			reportLost("%s: found version %v after an acknowledged Delete", id, got.Data["v"])
		case !k.exists && errors.Is(err, ErrSessionNotFound):
			checked.Add(1)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		keys[g] = make([]soakKey, keysEach)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				guard(&panics, func() {
					i := rand.IntN(keysEach)
					k := &keys[g][i]
					id := fmt.Sprintf("soak-%d-%d", g, i)
					ops.Add(1)
					switch r := rand.IntN(10); {
					case r < 4:
						loads.Add(1)
						got, err := s.Load(id)
						if err != nil && !errors.Is(err, ErrSessionNotFound) {
							errs.add(err)
							return
						}
						verify(id, k, got, err)
					case r < 8:
						saves.Add(1)
						k.next++
						v := k.next
						err := s.Save(&session.Session{ID: id, Data: map[string]interface{}{"v": strconv.Itoa(v)}})
						if err != nil {
							errs.add(err)
							k.known = false
							return
						}
						*k = soakKey{known: true, exists: true, version: v, next: v}
					default:
						deletes.Add(1)
						if err := s.Delete(id); err != nil {
							errs.add(err)
							k.known = false
							return
						}
						k.known, k.exists = true, false
					}
				})
			}
		}()
	}
	kills := 0
	start := time.Now()
	for time.Since(start) < *soakFor {
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
		if _, err := srv.DoErr("CLIENT", "KILL", "TYPE", "normal"); err == nil {
			kills++
		}
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	// Every key whose state is known loads as acknowledged.
	finalChecked, unknown := 0, 0
	for g := range goroutines {
		for i := range keysEach {
			k := &keys[g][i]
			if !k.known {
				unknown++
				continue
			}
			id := fmt.Sprintf("soak-%d-%d", g, i)
			got, err := s.Load(id)
			if err != nil && !errors.Is(err, ErrSessionNotFound) {
				t.Errorf("final Load of %s: %v", id, err)
				continue
			}
			finalChecked++
			verify(id, k, got, err)
		}
	}
	t.Logf("figure: soak %v, %d goroutines, %d CLIENT KILLs: %d ops (%.0f/s: %d Loads, %d Saves, %d Deletes), errors %v; %d lost acknowledged writes in %d checked Loads (%d keys checked at the end, %d left unknown by a failed op), %d panics",
		elapsed.Round(time.Millisecond), goroutines, kills, ops.Load(), float64(ops.Load())/elapsed.Seconds(), loads.Load(), saves.Load(), deletes.Load(),
		errs.String(), lost.Load(), checked.Load(), finalChecked, unknown, panics.Load())
	errs.check(t)
	if lost.Load() != 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v", lost.Load(), lostExamples)
	}
	if panics.Load() != 0 {
		t.Errorf("%d panics", panics.Load())
	}
	if kills == 0 {
		t.Error("no CLIENT KILL ran")
	}
}
