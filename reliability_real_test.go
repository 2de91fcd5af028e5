package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// raceSlack is the extra time a timing bound allows: the machine is small
// and noisy, and the race detector slows everything several times.
func raceSlack() time.Duration {
	if raceEnabled {
		return 2 * time.Second
	}
	return time.Second
}

// poolSampler records the highest Stats().Pool.Open and Dialing of a store,
// sampled every millisecond until stop.
type poolSampler struct {
	maxOpen, maxDialing atomic.Int64
	samples             atomic.Int64
	done                chan struct{}
	stopped             chan struct{}
}

func samplePool(s *RedisStore) *poolSampler {
	ps := &poolSampler{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(ps.stopped)
		for {
			st := s.Stats().Pool
			ps.samples.Add(1)
			if int64(st.Open) > ps.maxOpen.Load() {
				ps.maxOpen.Store(int64(st.Open))
			}
			if int64(st.Dialing) > ps.maxDialing.Load() {
				ps.maxDialing.Store(int64(st.Dialing))
			}
			select {
			case <-ps.done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return ps
}

func (ps *poolSampler) stop() {
	close(ps.done)
	<-ps.stopped
}

// errorKinds counts errors by classifyErr, safely from many goroutines.
type errorKinds struct {
	mu      sync.Mutex
	kinds   map[string]int
	untyped []error
}

func (e *errorKinds) add(err error) {
	k := classifyErr(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds == nil {
		e.kinds = make(map[string]int)
	}
	if k == "" {
		k = "UNTYPED"
		if len(e.untyped) < 5 {
			e.untyped = append(e.untyped, err)
		}
	}
	e.kinds[k]++
}

func (e *errorKinds) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := make([]string, 0, len(e.kinds))
	for k := range e.kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := "{"
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s: %d", k, e.kinds[k])
	}
	return out + "}"
}

func (e *errorKinds) check(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := e.kinds["UNTYPED"]; n > 0 {
		t.Errorf("%d errors of no known type, e.g. %v", n, e.untyped)
	}
}

// guard runs f and counts a panic instead of crashing the test binary.
func guard(panics *atomic.Int64, f func()) {
	defer func() {
		if r := recover(); r != nil {
			panics.Add(1)
		}
	}()
	f()
}

// Scenario 3: redis-server killed with SIGKILL during 10,000 concurrent
// Saves and restarted 2 s later on the same port: no panic, every error
// typed, Saves succeed again within 1 s of the server accepting, and the
// pool never holds more than PoolSize connections.
func TestReliabilityKillDuringSaves(t *testing.T) {
	const (
		goroutines = 64
		total      = 10000
		poolSize   = 8
	)
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, PoolSize: poolSize, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second})
	ps := samplePool(s)

	var started, ok, failed, panics atomic.Int64
	var errs errorKinds
	var killedAt, acceptingAt atomic.Pointer[time.Time]
	var firstOKAfter atomic.Pointer[time.Time] // first Save that began after the server accepted again and succeeded
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if started.Add(1) > total {
					return
				}
				guard(&panics, func() {
					begin := time.Now()
					err := s.Save(testSession(fmt.Sprintf("kill-%d-%d", g, i%32)))
					if err == nil {
						ok.Add(1)
						if acc := acceptingAt.Load(); acc != nil && begin.After(*acc) {
							now := time.Now()
							firstOKAfter.CompareAndSwap(nil, &now)
						}
						return
					}
					failed.Add(1)
					errs.add(err)
					// A client that gets an error backs off 100ms rather
					// than spinning on a dead server (and spending all
					// the Saves before the restart).
					time.Sleep(100 * time.Millisecond)
				})
			}
		}()
	}
	// Kill once a quarter of the Saves are done, restart 2 s later.
	waitFor(60*time.Second, func() bool { return ok.Load() >= total/4 })
	srv.Kill(t)
	now := time.Now()
	killedAt.Store(&now)
	doneAtKill := started.Load()
	time.Sleep(2 * time.Second)
	// Find the moment the port accepts again, from a probe of the test's own.
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for {
			c, err := net.DialTimeout("tcp", srv.Addr, 50*time.Millisecond)
			if err == nil {
				c.Close()
				now := time.Now()
				acceptingAt.Store(&now)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	srv.Restart(t)
	<-probeDone
	wg.Wait()
	ps.stop()
	if firstOKAfter.Load() == nil {
		// Every Save was spent before the restart: one more tells.
		begin := time.Now()
		for time.Since(begin) < 5*time.Second {
			if err := s.Save(testSession("kill-after")); err == nil {
				now := time.Now()
				firstOKAfter.Store(&now)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	recovery := time.Duration(-1)
	if f := firstOKAfter.Load(); f != nil {
		recovery = f.Sub(*acceptingAt.Load())
	}
	t.Logf("figure: %d Saves from %d goroutines, kill -9 after %d started, restart 2s later: %d ok, %d failed %v, %d panics; first success %v after the port accepted; pool open max %d of PoolSize %d (%d samples)",
		min(started.Load(), total), goroutines, doneAtKill, ok.Load(), failed.Load(), errs.String(), panics.Load(),
		recovery.Round(time.Millisecond), ps.maxOpen.Load(), poolSize, ps.samples.Load())
	errs.check(t)
	if panics.Load() != 0 {
		t.Errorf("%d panics", panics.Load())
	}
	if recovery < 0 || recovery > time.Second {
		t.Errorf("no success within 1s of the server accepting (took %v)", recovery)
	}
	if ps.maxOpen.Load() > poolSize {
		t.Errorf("pool had %d connections open, PoolSize %d", ps.maxOpen.Load(), poolSize)
	}
	if failed.Load() == 0 {
		t.Error("no Save failed: the kill came too late to test anything")
	}
}

// blackhole is a listener that forwards connections to a real server until
// hang is called; from then on it accepts connections and never answers.
// It counts the connections open at once while hung.
type blackhole struct {
	ln      net.Listener
	backend string

	hung                 atomic.Bool
	accepted, open, peak atomic.Int64

	mu    sync.Mutex
	conns []net.Conn // every connection, closed by close
}

func newBlackhole(t *testing.T, backend string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, backend: backend}
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

func (b *blackhole) track(c net.Conn) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
}

func (b *blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.track(c)
		if !b.hung.Load() {
			up, err := net.Dial("tcp", b.backend)
			if err != nil {
				c.Close()
				continue
			}
			b.track(up)
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
			continue
		}
		b.accepted.Add(1)
		n := b.open.Add(1)
		for {
			p := b.peak.Load()
			if n <= p || b.peak.CompareAndSwap(p, n) {
				break
			}
		}
		go func() {
			// Read and drop until the client gives up and closes.
			io.Copy(io.Discard, c)
			b.open.Add(-1)
			c.Close()
		}()
	}
}

// hang makes new connections go unanswered and closes the forwarded ones,
// as a server that restarted into a hung state.
func (b *blackhole) hang() {
	b.hung.Store(true)
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
}

func (b *blackhole) close() {
	b.ln.Close()
	b.hang()
}

// Scenario 4: the server is down (its port closed) while 1,000 Saves
// arrive at once: each returns a typed error within DialTimeout +
// PoolTimeout, and no more than PoolSize connections are dialed at a time.
// The other half of the scenario, a listener that accepts and never
// answers, is in reliability_hung_test.go (build tag dialbug) until the
// store stops turning its own DialTimeout into context.DeadlineExceeded.
func TestReliabilityServerDownUnderConcurrentSaves(t *testing.T) {
	serverDownSaves(t, "port closed")
}

// serverDownSaves runs scenario 4 with the server down in the given mode:
// "port closed" or "accepts, never answers".
func serverDownSaves(t *testing.T, mode string) {
	const (
		calls       = 1000
		poolSize    = 4
		dialTimeout = 500 * time.Millisecond
		poolTimeout = 500 * time.Millisecond
	)
	bound := dialTimeout + poolTimeout + raceSlack()
	srv := redisserver.Start(t, redisserver.Config{})
	addr := srv.Addr
	var bh *blackhole
	if mode != "port closed" {
		bh = newBlackhole(t, srv.Addr)
		addr = bh.addr()
	}
	s := openStore(t, Options{Addr: addr, PoolSize: poolSize, DialTimeout: dialTimeout, PoolTimeout: poolTimeout, ReadTimeout: time.Second})
	roundTrip(t, s, "down-before")
	if bh != nil {
		bh.hang()
	} else {
		srv.Kill(t)
	}
	dialsBefore := s.Stats().Pool.Dials
	ps := samplePool(s)
	var errs errorKinds
	var succeeded, late, deadline atomic.Int64
	took := make([]time.Duration, calls)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			begin := time.Now()
			err := s.Save(testSession(fmt.Sprintf("down-%d", i)))
			took[i] = time.Since(begin)
			if took[i] > bound {
				late.Add(1)
			}
			if err == nil {
				succeeded.Add(1)
				return
			}
			// Save has no context: a context error would be a lie.
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				deadline.Add(1)
			}
			errs.add(err)
		}()
	}
	close(gate)
	wg.Wait()
	ps.stop()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	st := s.Stats().Pool
	peak := ps.maxDialing.Load()
	accepted := "-"
	if bh != nil {
		peak = max(peak, bh.peak.Load())
		accepted = fmt.Sprint(bh.accepted.Load())
	}
	t.Logf("figure: %s: %d concurrent Saves: %d succeeded, errors %v; p50 %v, max %v (bound DialTimeout+PoolTimeout = %v, +%v slack); %d dials (%s accepted), at most %d at once (PoolSize %d), pool open max %d",
		mode, calls, succeeded.Load(), errs.String(), took[calls/2].Round(time.Millisecond), took[calls-1].Round(time.Millisecond),
		dialTimeout+poolTimeout, raceSlack(), st.Dials-dialsBefore, accepted, peak, poolSize, ps.maxOpen.Load())
	errs.check(t)
	if succeeded.Load() != 0 {
		t.Errorf("%d Saves succeeded with the server down", succeeded.Load())
	}
	if deadline.Load() != 0 {
		t.Errorf("%d Saves without a context returned a context error", deadline.Load())
	}
	if late.Load() != 0 {
		t.Errorf("%d calls took longer than %v (max %v)", late.Load(), bound, took[calls-1])
	}
	if peak > poolSize || ps.maxOpen.Load() > poolSize {
		t.Errorf("%d dials at once, %d open; PoolSize %d", peak, ps.maxOpen.Load(), poolSize)
	}
}

// Scenario 5: redis-server stopped with SIGSTOP: calls end at their
// context deadline (or ReadTimeout without one) with a timeout error, and
// after SIGCONT the store works again without being reopened.
func TestReliabilityPausedServer(t *testing.T) {
	const (
		goroutines  = 64
		deadline    = 300 * time.Millisecond
		readTimeout = time.Second
	)
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, PoolSize: 4, ReadTimeout: readTimeout, DialTimeout: time.Second})
	for i := range goroutines {
		roundTrip(t, s, fmt.Sprintf("paused-%d", i))
	}
	srv.Pause(t)
	paused := true
	defer func() {
		if paused {
			srv.Resume(t)
		}
	}()
	type result struct {
		took time.Duration
		err  error
	}
	withDL := make([]result, goroutines)
	noDL := make([]result, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(2)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			begin := time.Now()
			_, err := s.LoadContext(ctx, fmt.Sprintf("paused-%d", i))
			withDL[i] = result{time.Since(begin), err}
		}()
		go func() {
			defer wg.Done()
			begin := time.Now()
			err := s.Save(testSession(fmt.Sprintf("paused-%d", i)))
			noDL[i] = result{time.Since(begin), err}
		}()
	}
	wg.Wait()
	srv.Resume(t)
	paused = false
	resumed := time.Now()
	var recovered time.Duration = -1
	for time.Since(resumed) < 10*time.Second {
		if _, err := s.Load("paused-0"); err == nil {
			recovered = time.Since(resumed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var errs errorKinds
	var maxDL, maxNoDL time.Duration
	for i := range goroutines {
		maxDL = max(maxDL, withDL[i].took)
		maxNoDL = max(maxNoDL, noDL[i].took)
		errs.add(withDL[i].err)
		errs.add(noDL[i].err)
		if !errors.Is(withDL[i].err, context.DeadlineExceeded) {
			t.Errorf("Load with a %v deadline: %v, want context.DeadlineExceeded", deadline, withDL[i].err)
		}
		if k := classifyErr(noDL[i].err); k != "timeout" && k != "deadline" {
			t.Errorf("Save without deadline: %v (%s), want a timeout", noDL[i].err, k)
		}
	}
	t.Logf("figure: server stopped: %d Loads with a %v deadline returned after at most %v, %d Saves without one after at most %v (ReadTimeout %v); errors %v; first success %v after SIGCONT",
		goroutines, deadline, maxDL.Round(time.Millisecond), goroutines, maxNoDL.Round(time.Millisecond), readTimeout, errs.String(), recovered.Round(time.Millisecond))
	errs.check(t)
	if maxDL > deadline+raceSlack()/2 {
		t.Errorf("a Load returned %v after its %v deadline", maxDL-deadline, deadline)
	}
	if maxNoDL > readTimeout+raceSlack() {
		t.Errorf("a Save returned after %v, ReadTimeout %v", maxNoDL, readTimeout)
	}
	if recovered < 0 || recovered > time.Second+raceSlack() {
		t.Errorf("no success after SIGCONT within %v", recovered)
	}
	roundTrip(t, s, "paused-after")
}
