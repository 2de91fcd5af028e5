package pool

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRejectsInvalidConfigs(t *testing.T) {
	f := &fakeDialer{}
	ok := Config[*fakeConn]{Dial: f.dial, Close: f.close, MaxOpen: 4}
	tests := []struct {
		name string
		edit func(*Config[*fakeConn])
		want string
	}{
		{"nil Dial", func(c *Config[*fakeConn]) { c.Dial = nil }, "pool: Config.Dial is nil"},
		{"nil Close", func(c *Config[*fakeConn]) { c.Close = nil }, "pool: Config.Close is nil"},
		{"zero MaxOpen", func(c *Config[*fakeConn]) { c.MaxOpen = 0 }, "pool: Config.MaxOpen is 0, must be positive"},
		{"negative MaxIdle", func(c *Config[*fakeConn]) { c.MaxIdle = -1 }, "pool: Config.MaxIdle is negative (-1)"},
		{"negative MinIdle", func(c *Config[*fakeConn]) { c.MinIdle = -1 }, "pool: Config.MinIdle is negative (-1)"},
		{"MaxIdle over MaxOpen", func(c *Config[*fakeConn]) { c.MaxIdle = 5 }, "pool: Config.MaxIdle 5 exceeds MaxOpen 4"},
		{"MinIdle over MaxOpen", func(c *Config[*fakeConn]) { c.MinIdle = 5 }, "pool: Config.MinIdle 5 exceeds MaxOpen 4"},
		{"MinIdle over MaxIdle", func(c *Config[*fakeConn]) { c.MaxIdle, c.MinIdle = 2, 3 }, "pool: Config.MinIdle 3 exceeds MaxIdle 2"},
		{"negative IdleTimeout", func(c *Config[*fakeConn]) { c.IdleTimeout = -time.Second }, "pool: Config.IdleTimeout is negative (-1s)"},
		{"negative MaxLifetime", func(c *Config[*fakeConn]) { c.MaxLifetime = -time.Second }, "pool: Config.MaxLifetime is negative (-1s)"},
		{"negative WaitTimeout", func(c *Config[*fakeConn]) { c.WaitTimeout = -time.Second }, "pool: Config.WaitTimeout is negative (-1s)"},
		{"negative CheckAfter", func(c *Config[*fakeConn]) { c.CheckAfter = -time.Second }, "pool: Config.CheckAfter is negative (-1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			p, err := New(cfg)
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
	p, err := New(ok)
	if err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	p.Close()
}

func TestGetReusesTheNewestIdleResourceFirst(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 3})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
	if r := mustGet(t, p); r != b {
		t.Errorf("got conn %d, want the newest idle one, %d", r.Value().id, b.Value().id)
	}
	s := p.Stats()
	if s.Hits != 1 || s.Misses != 2 || s.Dials != 2 || s.Open != 2 || s.Idle != 1 || s.InUse != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestResourceReportsWhenItWasDialed(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	r := mustGet(t, p)
	if !r.CreatedAt().Equal(clock.Now()) {
		t.Errorf("CreatedAt %v, want %v", r.CreatedAt(), clock.Now())
	}
	p.Put(r, true)
}

func TestWaitersAreServedInFIFOOrder(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	held := mustGet(t, p)
	const n = 10
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mustGet(t, p)
			order <- i
			p.Put(r, true)
		}()
		waitForWaiters(t, p, uint64(i+1)) // queue them one by one
	}
	p.Put(held, true)
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("waiter %d served when waiter %d was next", got, want)
		}
		want++
	}
}

func TestWaitTimeoutIsHonouredWithinFiftyMilliseconds(t *testing.T) {
	f := &fakeDialer{}
	const timeout, slack, attempts = 100 * time.Millisecond, 50 * time.Millisecond, 3
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2, WaitTimeout: timeout})
	a, b := mustGet(t, p), mustGet(t, p)
	defer p.Put(a, true)
	defer p.Put(b, true)

	// A loaded machine can wake any timer late, so an overshoot is retried;
	// a pool that does not honour the timeout overshoots every time.
	var tooks []time.Duration
	for len(tooks) < attempts {
		start := time.Now()
		_, err := p.Get(context.Background())
		took := time.Since(start)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("error %v, want ErrTimeout", err)
		}
		if took < timeout {
			t.Fatalf("timed out after %v, before WaitTimeout %v", took, timeout)
		}
		if !waitTimeoutMessage.MatchString(err.Error()) {
			t.Errorf("message %q does not say how long it waited and the pool size", err)
		}
		tooks = append(tooks, took)
		if took <= timeout+slack {
			break
		}
	}
	if took := tooks[len(tooks)-1]; took > timeout+slack {
		t.Errorf("timed out after %v, want %v (+%v)", tooks, timeout, slack)
	}
	if s := p.Stats(); s.Timeouts != uint64(len(tooks)) || s.Waits != uint64(len(tooks)) || s.WaitDuration < timeout {
		t.Errorf("stats %+v", s)
	}
}

var waitTimeoutMessage = regexp.MustCompile(`^pool: timed out after [0-9.]+m?s waiting for one of 2 connections$`)

func TestContextErrorsAreReturnedWrapped(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	held := mustGet(t, p)
	defer p.Put(held, true)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Get(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v, want context.Canceled", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Get(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "pool: ") {
		t.Errorf("Get past its deadline: %v, want a pool error wrapping context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		waitForWaiters(t, p, 2)
		cancel()
	}()
	if _, err := p.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Get cancelled while waiting: %v, want context.Canceled", err)
	}
	if s := p.Stats(); s.Canceled != 2 || s.Timeouts != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestIdleTimeoutClosesAStaleResourceOnGet(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2, IdleTimeout: time.Minute})
	r := mustGet(t, p)
	p.Put(r, true)
	clock.Advance(59 * time.Second)
	if r2 := mustGet(t, p); r2 != r {
		t.Fatal("a resource idle for less than IdleTimeout was not reused")
	}
	p.Put(r, true)
	clock.Advance(time.Minute)
	r3 := mustGet(t, p)
	if r3 == r {
		t.Fatal("a resource idle for IdleTimeout was reused")
	}
	p.Put(r3, true)
	if s := p.Stats(); s.ClosedIdleTimeout != 1 || f.closed.Load() != 1 || s.Open != 1 {
		t.Errorf("stats %+v, closed %d", s, f.closed.Load())
	}
}

func TestIdleTimeoutSparesMinIdleResources(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 3, MinIdle: 1, IdleTimeout: time.Minute})
	eventually(t, 5*time.Second, "MinIdle not filled", func() bool { return p.Stats().Idle == 1 })
	a, b := mustGet(t, p), mustGet(t, p)
	eventually(t, 5*time.Second, "MinIdle not refilled", func() bool { s := p.Stats(); return s.Idle == 1 && s.Open == 3 })
	p.Put(a, true)
	p.Put(b, true)
	clock.Advance(time.Hour)
	p.sweepOnce()
	if s := p.Stats(); s.Idle != 1 || s.ClosedIdleTimeout != 2 {
		t.Errorf("after a sweep: stats %+v, want one idle resource kept", s)
	}
}

func TestBackgroundSweepClosesIdleResources(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2, IdleTimeout: 150 * time.Millisecond})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
	eventually(t, 5*time.Second, "idle resources not swept", func() bool {
		s := p.Stats()
		return s.Idle == 0 && s.Open == 0 && s.ClosedIdleTimeout == 2 && f.closed.Load() == 2
	})
}

func TestMaxLifetimeClosesOldResources(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2, MaxLifetime: time.Hour})

	// An idle one past its lifetime is closed on Get.
	a := mustGet(t, p)
	p.Put(a, true)
	clock.Advance(time.Hour)
	b := mustGet(t, p)
	if b == a {
		t.Fatal("an idle resource past MaxLifetime was reused")
	}
	// One in use past its lifetime is closed on Put.
	clock.Advance(time.Hour)
	p.Put(b, true)
	s := p.Stats()
	if s.ClosedLifetime != 2 || s.Open != 0 || f.closed.Load() != 2 {
		t.Errorf("stats %+v, closed %d", s, f.closed.Load())
	}
	// And the sweep closes idle ones.
	c := mustGet(t, p)
	p.Put(c, true)
	clock.Advance(2 * time.Hour)
	p.sweepOnce()
	if s := p.Stats(); s.ClosedLifetime != 3 || s.Open != 0 {
		t.Errorf("after a sweep: stats %+v", s)
	}
}

func TestHealthCheckRunsOnlyAfterCheckAfterAndFailureRedials(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	cfg := Config[*fakeConn]{MaxOpen: 2, Check: f.check} // CheckAfter defaults to a minute
	p := newTestPool(t, f, cfg)
	a := mustGet(t, p)
	p.Put(a, true)
	clock.Advance(30 * time.Second)
	if r := mustGet(t, p); r != a || f.checks.Load() != 0 {
		t.Fatalf("resource idle 30s: reused %v, checks %d; want reused unchecked", r == a, f.checks.Load())
	}
	p.Put(a, true)
	clock.Advance(2 * time.Minute)
	if r := mustGet(t, p); r != a || f.checks.Load() != 1 {
		t.Fatalf("healthy resource idle 2m: reused %v, checks %d; want reused after one check", r == a, f.checks.Load())
	}
	p.Put(a, true)
	clock.Advance(2 * time.Minute)
	a.Value().bad.Store(true)
	b := mustGet(t, p)
	if b == a {
		t.Fatal("a resource that failed its health check was reused")
	}
	p.Put(b, true)
	if s := p.Stats(); s.ClosedHealth != 1 || s.Open != 1 || !a.Value().closed.Load() {
		t.Errorf("stats %+v", s)
	}
}

func TestFailedDialsAreReturnedCountedAndLeakNoSlot(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2})
	f.fail.Store(true)
	for range 10 {
		if _, err := p.Get(context.Background()); !errors.Is(err, errDial) || !strings.HasPrefix(err.Error(), "pool: dial: ") {
			t.Fatalf("Get: %v, want the dial error wrapped", err)
		}
	}
	if s := p.Stats(); s.DialErrors != 10 || s.Dials != 10 || s.Open != 0 {
		t.Errorf("stats %+v", s)
	}
	f.fail.Store(false)
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
}

func TestADialErrorWakesTheNextWaiter(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	held := mustGet(t, p)
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := p.Get(context.Background())
			errs <- err
		}()
		waitForWaiters(t, p, uint64(i+1))
	}
	f.fail.Store(true)
	p.Put(held, false) // the first waiter is handed the slot, dials and fails
	for range 2 {
		if err := <-errs; !errors.Is(err, errDial) {
			t.Errorf("waiter: %v, want the dial error", err)
		}
	}
	if s := p.Stats(); s.Open != 0 || s.DialErrors != 2 || s.ClosedBroken != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestABrokenResourceIsClosedAndItsWaiterDialsAfresh(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	held := mustGet(t, p)
	got := make(chan *Resource[*fakeConn])
	go func() { got <- mustGet(t, p) }()
	waitForWaiters(t, p, 1)
	p.Put(held, false)
	r := <-got
	if r == held || !held.Value().closed.Load() {
		t.Fatal("the broken resource was handed on instead of closed")
	}
	p.Put(r, true)
	if s := p.Stats(); s.Dials != 2 || s.ClosedBroken != 1 || s.Open != 1 || s.Idle != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxIdleClosesResourcesReturnedBeyondIt(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 3, MaxIdle: 1})
	a, b, c := mustGet(t, p), mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
	p.Put(c, true)
	if s := p.Stats(); s.Idle != 1 || s.Open != 1 || s.ClosedMaxIdle != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestMinIdleIsKeptWarmButNeverBeyondMaxOpen(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 3, MinIdle: 2})
	eventually(t, 5*time.Second, "MinIdle not filled", func() bool { return p.Stats().Idle == 2 })
	a := mustGet(t, p)
	eventually(t, 5*time.Second, "MinIdle not refilled", func() bool { s := p.Stats(); return s.Idle == 2 && s.Open == 3 })
	b, c := mustGet(t, p), mustGet(t, p)
	time.Sleep(50 * time.Millisecond) // give the filler a chance to misbehave
	if s := p.Stats(); s.Open != 3 || f.maxLive.Load() > 3 {
		t.Errorf("stats %+v, max live %d", s, f.maxLive.Load())
	}
	p.Put(a, true)
	p.Put(b, true)
	p.Put(c, true)
}

func TestMinIdleRefillBacksOffWhileDialsFail(t *testing.T) {
	f := &fakeDialer{}
	f.fail.Store(true)
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 4, MinIdle: 2})
	time.Sleep(time.Second)
	// Tries at about 0, 0.1, 0.3 and 0.7s; a tight loop would make thousands.
	if n := f.dialErrs.Load(); n < 1 || n > 6 {
		t.Errorf("%d failed refill dials in a second, want about 4", n)
	}
	f.fail.Store(false)
	eventually(t, 10*time.Second, "MinIdle not filled once dials succeed", func() bool { return p.Stats().Idle == 2 })
}

func TestCloseFailsWaitersAndClosesIdleAtOnceAndInUseOnPut(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 2})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	b2 := mustGet(t, p) // a again
	if b2 != a {
		t.Fatal("idle resource not reused")
	}
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := p.Get(context.Background())
			errs <- err
		}()
		waitForWaiters(t, p, uint64(i+1))
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		if err := <-errs; err != ErrClosed {
			t.Errorf("waiter: %v, want ErrClosed", err)
		}
	}
	if f.closed.Load() != 0 {
		t.Errorf("%d resources closed while in use", f.closed.Load())
	}
	p.Put(a, true)
	p.Put(b, false)
	if n := f.closed.Load(); n != 2 {
		t.Errorf("%d resources closed after Put, want 2", n)
	}
	if _, err := p.Get(context.Background()); err != ErrClosed {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s := p.Stats(); s.Open != 0 || s.InUse != 0 || s.Idle != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCloseClosesIdleResourcesAndReportsTheirErrors(t *testing.T) {
	f := &fakeDialer{}
	cfg := Config[*fakeConn]{MaxOpen: 2, Dial: f.dial, Close: func(c *fakeConn) error {
		f.close(c)
		return errors.New("fake: close failed")
	}}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
	err = p.Close()
	if err == nil || !strings.HasPrefix(err.Error(), "pool: closing idle resources: fake: close failed") {
		t.Errorf("Close: %v", err)
	}
	if f.closed.Load() != 2 {
		t.Errorf("%d closed, want 2", f.closed.Load())
	}
}

func TestCloseIdleClosesOnlyIdleResources(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 3})
	a, b, c := mustGet(t, p), mustGet(t, p), mustGet(t, p)
	p.Put(a, true)
	p.Put(b, true)
	p.CloseIdle()
	if s := p.Stats(); s.Idle != 0 || s.Open != 1 || s.ClosedByCloseIdle != 2 || f.closed.Load() != 2 {
		t.Errorf("stats %+v", s)
	}
	p.Put(c, true)
}

func TestPutPanicsOnAResourceNotInUse(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	other := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 1})
	r := mustGet(t, p)
	p.Put(r, true)
	mustPanic(t, "double Put", func() { p.Put(r, true) })
	r = mustGet(t, p)
	mustPanic(t, "Put to another pool", func() { other.Put(r, true) })
	p.Put(r, true)
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestGetAndPutAllocateNothing(t *testing.T) {
	f := &fakeDialer{}
	p := newTestPool(t, f, Config[*fakeConn]{MaxOpen: 4, MinIdle: 1, IdleTimeout: time.Hour, MaxLifetime: time.Hour})
	// Let the filler top up (it allocates) before measuring: while r is out
	// no resource is idle, so the filler must dial a spare; with r back two
	// are idle, and taking one leaves MinIdle and wakes nobody. (Putting r
	// back at once raced the filler: it found r idle again and dialed
	// nothing, in about 1 run of 13.)
	r := mustGet(t, p)
	eventually(t, 10*time.Second, "the filler did not dial a spare", func() bool {
		s := p.Stats()
		return s.Idle == 1 && s.Dialing == 0
	})
	p.Put(r, true)
	if s := p.Stats(); s.Idle != 2 || s.Open != 2 {
		t.Fatalf("stats %+v, want 2 idle of 2 open", s)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Put(r, true)
	})
	if allocs != 0 {
		t.Errorf("Get+Put allocates %v times, want 0", allocs)
	}
}

// A Dial or Check that panics loses no slot: the panic goes on to the
// caller, the slot (and the resource under Check, closed) is freed, and
// MaxOpen resources are still obtainable.
func TestPanickingDialAndCheckLeakNoSlot(t *testing.T) {
	clock := useFakeClock(t)
	f := &fakeDialer{}
	var panicNext atomic.Bool
	cfg := Config[*fakeConn]{MaxOpen: 2, Check: func(ctx context.Context, c *fakeConn) error {
		if panicNext.Load() {
			panic("check")
		}
		return f.check(ctx, c)
	}}
	p := newTestPool(t, f, cfg)
	dial := p.cfg.Dial
	p.cfg.Dial = func(context.Context) (*fakeConn, error) { panic("dial") }
	mustPanic(t, "Get with a panicking Dial", func() { p.Get(context.Background()) })
	p.cfg.Dial = dial
	if s := p.Stats(); s.Open != 0 {
		t.Fatalf("after a panicking Dial: stats %+v", s)
	}

	a := mustGet(t, p)
	p.Put(a, true)
	clock.Advance(2 * time.Minute)
	panicNext.Store(true)
	mustPanic(t, "Get with a panicking Check", func() { p.Get(context.Background()) })
	panicNext.Store(false)
	if s := p.Stats(); s.Open != 0 || s.InUse != 0 || s.ClosedHealth != 1 || !a.Value().closed.Load() {
		t.Fatalf("after a panicking Check: stats %+v, resource closed %v", s, a.Value().closed.Load())
	}
	b, c := mustGet(t, p), mustGet(t, p)
	p.Put(b, true)
	p.Put(c, true)
}
