package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenResourcesNeverExceedMaxOpenUnderTenTimesMaxOpenGoroutines(t *testing.T) {
	const maxOpen = 8
	duration := 3 * time.Second
	if testing.Short() {
		duration = 300 * time.Millisecond
	}
	f := &fakeDialer{}
	f.delay.Store(int64(20 * time.Microsecond))
	f.failEvery.Store(17)
	p := newTestPool(t, f, Config[*fakeConn]{
		MaxOpen:     maxOpen,
		MaxIdle:     6,
		MinIdle:     2,
		MaxLifetime: 30 * time.Millisecond,
		WaitTimeout: 20 * time.Millisecond,
	})

	stop := make(chan struct{})
	var samples, violations atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { // samples the bound continuously, from both sides
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := p.Stats()
			if live := f.live.Load(); s.Open > maxOpen || live > maxOpen || s.Idle+s.InUse > s.Open || s.Dialing < 0 {
				if violations.Add(1) == 1 {
					t.Errorf("bound broken: stats %+v, live %d", s, live)
				}
			}
			samples.Add(1)
			runtime.Gosched()
		}
	}()

	var workers sync.WaitGroup
	var served, failed atomic.Int64
	for w := range 10 * maxOpen {
		workers.Add(1)
		go func() {
			defer workers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch n := rng.IntN(20); {
				case n == 0:
					ctx, cancel = context.WithCancel(ctx)
					cancel()
				case n < 4:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(300))*time.Microsecond)
				}
				r, err := p.Get(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, ErrTimeout) && !errors.Is(err, errDial) &&
						!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Get: unexpected error %v", err)
						return
					}
					failed.Add(1)
					continue
				}
				served.Add(1)
				if rng.IntN(4) == 0 {
					runtime.Gosched()
				}
				p.Put(r, rng.IntN(10) != 0)
			}
		}()
	}
	time.Sleep(duration)
	close(stop)
	workers.Wait()
	sampler.Wait()

	if m := f.maxLive.Load(); m > maxOpen {
		t.Errorf("%d resources open at once, MaxOpen %d", m, maxOpen)
	}
	// Background closes (sweep, refill) happen just after the lock is
	// released, so wait for the pool to settle before balancing the books.
	eventually(t, 5*time.Second, "books do not balance", func() bool {
		s := p.Stats()
		return s.Dialing == 0 && s.InUse == 0 && f.dialed.Load()-f.closed.Load() == int64(s.Idle+s.InUse)
	})
	s := p.Stats()
	t.Logf("%d Gets served, %d failed, %d samples; stats %+v", served.Load(), failed.Load(), samples.Load(), s)
	if served.Load() == 0 || samples.Load() == 0 {
		t.Fatal("the test did not exercise the pool")
	}
	held := make([]*Resource[*fakeConn], 0, maxOpen)
	f.failEvery.Store(0)
	for range maxOpen {
		held = append(held, mustGet(t, p))
	}
	for _, r := range held {
		p.Put(r, true)
	}
}

func TestTenThousandAbandonedGetsLeaveThePoolFullyUsable(t *testing.T) {
	const maxOpen = 4
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: maxOpen})

	// Busy workers keep every resource moving, so abandoned waiters race
	// with hand-offs.
	stop := make(chan struct{})
	var busy sync.WaitGroup
	for range 2 * maxOpen {
		busy.Add(1)
		go func() {
			defer busy.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := p.Get(context.Background())
				if err != nil {
					t.Errorf("busy Get: %v", err)
					return
				}
				runtime.Gosched()
				p.Put(r, true)
			}
		}()
	}

	const gets, abandoners = 10000, 16
	var next atomic.Int64
	var abandoned, served atomic.Int64
	var wg sync.WaitGroup
	for w := range abandoners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for next.Add(1) <= gets {
				var ctx context.Context
				var cancel context.CancelFunc
				switch rng.IntN(3) {
				case 0: // already expired
					ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
				case 1: // expires soon
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(200))*time.Microsecond)
				default: // cancelled soon
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(time.Duration(rng.IntN(200))*time.Microsecond, cancel)
				}
				r, err := p.Get(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Get: %v, want a context error", err)
					}
					abandoned.Add(1)
					continue
				}
				served.Add(1)
				p.Put(r, true)
			}
		}()
	}
	wg.Wait()
	close(stop)
	busy.Wait()

	p.mu.Lock()
	queued, gaveBack := p.waiters.n, p.gaveBack
	p.mu.Unlock()
	t.Logf("%d abandoned, %d served, %d hand-offs given back by waiters that gave up", abandoned.Load(), served.Load(), gaveBack)
	if queued != 0 {
		t.Errorf("%d waiters left in the queue", queued)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	held := make([]*Resource[*fakeConn], 0, maxOpen)
	for range maxOpen {
		r, err := p.Get(ctx)
		if err != nil {
			t.Fatalf("after the abandoned Gets, only %d of %d resources obtainable: %v", len(held), maxOpen, err)
		}
		held = append(held, r)
	}
	if s := p.Stats(); s.Open != maxOpen || s.InUse != maxOpen || f.dialed.Load()-f.closed.Load() != maxOpen {
		t.Errorf("stats %+v, dialed %d, closed %d", s, f.dialed.Load(), f.closed.Load())
	}
	for _, r := range held {
		p.Put(r, true)
	}
}

// The classic bug, made deterministic: a waiter is handed a resource, or a
// slot, just as it gives up.
func TestAWaiterThatGivesUpGivesBackWhatItWasHanded(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	for _, reusable := range []bool{true, false} {
		held := mustGet(t, p)
		w := &waiter[*fakeConn]{ch: make(chan grant[*fakeConn], 1)}
		p.mu.Lock()
		p.waiters.push(w)
		p.mu.Unlock()
		p.Put(held, reusable) // hands w the resource, or the slot of a closed one
		p.giveUp(w, nowFunc(), &p.stats.Canceled)
		s := p.Stats()
		if reusable && (s.Idle != 1 || s.Open != 1 || s.InUse != 0) {
			t.Errorf("a resource handed to a waiter that gave up was not made idle: stats %+v", s)
		}
		if !reusable && (s.Open != 0 || s.InUse != 0) {
			t.Errorf("a slot handed to a waiter that gave up leaked: stats %+v", s)
		}
		r := mustGet(t, p)
		p.Put(r, true)
	}
}

func TestGoroutinesReturnToBaselineAfterClose(t *testing.T) {
	baseline := runtime.NumGoroutine()
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{
		MaxOpen: 2, MinIdle: 1, IdleTimeout: time.Hour, MaxLifetime: time.Hour,
	})
	eventually(t, 5*time.Second, "MinIdle not filled", func() bool { return p.Stats().Idle == 1 })
	a, b := mustGet(t, p), mustGet(t, p)

	// The first waiter is handed a slot and dials; the dial hangs until its
	// context ends. The filler then dials into the other slot, and hangs
	// until Close cancels it. The second waiter is still queued at Close.
	ctx1, cancel1 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() {
		_, err := p.Get(ctx1)
		errs <- err
	}()
	waitForWaiters(t, p, 1)
	f.delay.Store(int64(time.Hour))
	p.Put(a, false)
	p.Put(b, false)
	eventually(t, 5*time.Second, "dials not in progress", func() bool { return p.Stats().Dialing == 2 })
	go func() {
		_, err := p.Get(context.Background())
		errs <- err
	}()
	waitForWaiters(t, p, 2)

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errs; err != ErrClosed {
		t.Errorf("queued waiter: %v, want ErrClosed", err)
	}
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("dialing waiter: %v, want context.Canceled", err)
	}
	eventually(t, 5*time.Second, "goroutines left running after Close", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
	if s := p.Stats(); s.Open != 0 || f.live.Load() != 0 {
		t.Errorf("after Close: stats %+v, live %d", s, f.live.Load())
	}
}
