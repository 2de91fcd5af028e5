package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errDial = errors.New("fake: connection refused")

// fakeConn is the resource the tests pool.
type fakeConn struct {
	id     int64
	closed atomic.Bool
	bad    atomic.Bool // fails the health check
}

// fakeDialer dials fakeConns and counts everything that happens to them.
type fakeDialer struct {
	dialed      atomic.Int64 // successful dials
	dialErrs    atomic.Int64 // failed dials
	closed      atomic.Int64 // Close calls
	doubleClose atomic.Int64 // Close calls on an already closed conn
	checks      atomic.Int64 // Check calls
	live        atomic.Int64 // dials in progress plus open conns
	maxLive     atomic.Int64 // highest live ever seen
	fail        atomic.Bool  // make dials fail
	failEvery   atomic.Int64 // when n > 0, fail every nth dial attempt
	attempts    atomic.Int64 // dial attempts
	delay       atomic.Int64 // dial delay in nanoseconds, cut short by ctx
}

func (f *fakeDialer) dial(ctx context.Context) (*fakeConn, error) {
	n := f.live.Add(1)
	for m := f.maxLive.Load(); n > m && !f.maxLive.CompareAndSwap(m, n); m = f.maxLive.Load() {
	}
	if d := time.Duration(f.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			f.live.Add(-1)
			f.dialErrs.Add(1)
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	a := f.attempts.Add(1)
	if n := f.failEvery.Load(); f.fail.Load() || n > 0 && a%n == 0 {
		f.live.Add(-1)
		f.dialErrs.Add(1)
		return nil, errDial
	}
	return &fakeConn{id: f.dialed.Add(1)}, nil
}

func (f *fakeDialer) close(c *fakeConn) error {
	if c.closed.Swap(true) {
		f.doubleClose.Add(1)
	}
	f.closed.Add(1)
	f.live.Add(-1)
	return nil
}

func (f *fakeDialer) check(ctx context.Context, c *fakeConn) error {
	f.checks.Add(1)
	if c.bad.Load() {
		return errors.New("fake: ping failed")
	}
	return nil
}

// newTestPool returns a pool of fakeConns configured by cfg with Dial,
// Close and Check supplied by f, closed when the test ends and then checked
// for double closes.
func newTestPool(t testing.TB, f *fakeDialer, cfg Config[*fakeConn]) *Pool[*fakeConn] {
	t.Helper()
	cfg.Dial, cfg.Close = f.dial, f.close
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		if n := f.doubleClose.Load(); n != 0 {
			t.Errorf("%d resources closed twice", n)
		}
	})
	return p
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// useFakeClock installs a fake clock as nowFunc until the test ends. Call it
// before creating the pool, so the pool is closed before the clock goes.
func useFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	nowFunc = c.Now
	t.Cleanup(func() { nowFunc = time.Now })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustGet gets a resource or fails the test.
func mustGet(t testing.TB, p *Pool[*fakeConn]) *Resource[*fakeConn] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := p.Get(ctx)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r
}

// waitForWaiters waits until n Gets have started waiting in total.
func waitForWaiters(t *testing.T, p *Pool[*fakeConn], n uint64) {
	t.Helper()
	eventually(t, 5*time.Second, "waiters did not queue", func() bool { return p.Stats().Waits >= n })
}
