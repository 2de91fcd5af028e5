package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// nowFunc returns the current time; tests replace it to move the clock.
var nowFunc = time.Now

// Pool is a bounded pool of resources of type T. It is safe for concurrent
// use. Make one with New.
type Pool[T any] struct {
	cfg Config[T] // validated, defaults applied; read-only after New

	ctx    context.Context    // passed to MinIdle refill dials; cancelled by Close
	cancel context.CancelFunc // cancels ctx
	done   chan struct{}      // closed by Close to stop background goroutines
	fillCh chan struct{}      // one slot; wakes the MinIdle filler
	wg     sync.WaitGroup     // background goroutines

	mu         sync.Mutex     // protects following fields
	idle       []*Resource[T] // oldest first; Get takes from the end
	numOpen    int            // open resources plus slots held for dials; <= cfg.MaxOpen
	numInUse   int            // resources between Get and Put (and under Check)
	numClosing int            // resources being closed; their slots are freed after
	waiters    waitQueue[T]   // non-empty only while idle is empty and numOpen == MaxOpen
	closed     bool
	stats      Stats        // counters only; gauges are filled in by Stats
	gaveBack   uint64       // grants given back by waiters that gave up; for tests
	spare      []*waiter[T] // finished waiters kept for reuse, so waiting allocates nothing
}

// New validates cfg and returns a pool. It dials nothing itself; when
// cfg.MinIdle is set a background goroutine starts filling the pool.
func New[T any](cfg Config[T]) (*Pool[T], error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	p := &Pool[T]{
		cfg:    cfg,
		done:   make(chan struct{}),
		fillCh: make(chan struct{}, 1),
		idle:   make([]*Resource[T], 0, cfg.MaxIdle),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if cfg.MinIdle > 0 {
		p.wg.Add(1)
		go p.fill()
		p.fillCh <- struct{}{}
	}
	if cfg.IdleTimeout > 0 || cfg.MaxLifetime > 0 {
		p.wg.Add(1)
		go p.sweep(sweepInterval(cfg.IdleTimeout, cfg.MaxLifetime))
	}
	return p, nil
}

// Get returns an idle resource (the most recently returned), dials a new one
// while fewer than MaxOpen are open, or waits in FIFO order for one to be
// returned. It fails with the context's error (wrapped) when ctx ends, with
// ErrTimeout (wrapped) after Config.WaitTimeout, with the dial error
// (wrapped), or with ErrClosed. Every resource Get returns must be given
// back with Put.
func (p *Pool[T]) Get(ctx context.Context) (*Resource[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pool: get: %w", err)
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			break
		}
		r := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		now := nowFunc()
		if reason := p.expiredLocked(r, now, n); reason != nil {
			*reason++
			p.numClosing++
			p.mu.Unlock()
			p.discard(r)
			p.mu.Lock()
			continue
		}
		r.inUse = true
		p.numInUse++
		p.maybeFillLocked()
		if p.cfg.Check == nil || now.Sub(r.returnedAt) <= p.cfg.CheckAfter {
			p.stats.Hits++
			p.mu.Unlock()
			return r, nil
		}
		p.mu.Unlock()
		if p.check(ctx, r) {
			p.mu.Lock()
			p.stats.Hits++
			p.mu.Unlock()
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("pool: get: %w", err)
		}
		p.mu.Lock()
	}
	p.stats.Misses++
	if p.numOpen < p.cfg.MaxOpen {
		p.numOpen++
		p.mu.Unlock()
		return p.dial(ctx)
	}
	return p.wait(ctx) // unlocks p.mu
}

// wait queues the caller until it is handed a resource, a slot or an error,
// or gives up. p.mu must be held; wait releases it.
func (p *Pool[T]) wait(ctx context.Context) (*Resource[T], error) {
	w := p.newWaiterLocked()
	p.waiters.push(w)
	p.stats.Waits++
	p.mu.Unlock()

	start := nowFunc()
	var timeout <-chan time.Time
	if w.timer != nil {
		w.timer.Reset(p.cfg.WaitTimeout)
		timeout = w.timer.C
	}
	select {
	case g := <-w.ch:
		if w.timer != nil {
			w.timer.Stop()
		}
		p.mu.Lock()
		p.stats.WaitDuration += nowFunc().Sub(start)
		p.freeWaiterLocked(w)
		p.mu.Unlock()
		switch {
		case g.err != nil:
			return nil, g.err
		case g.r != nil:
			return g.r, nil
		}
		return p.dial(ctx) // handed a slot: a broken resource was closed
	case <-ctx.Done():
		waited := p.giveUp(w, start, &p.stats.Canceled)
		return nil, fmt.Errorf("pool: gave up after %v waiting for one of %d connections: %w",
			waited, p.cfg.MaxOpen, ctx.Err())
	case <-timeout:
		waited := p.giveUp(w, start, &p.stats.Timeouts)
		return nil, fmt.Errorf("%w after %v waiting for one of %d connections",
			ErrTimeout, waited, p.cfg.MaxOpen)
	}
}

// newWaiterLocked returns a spare waiter or a new one, with a stopped timer
// if the pool has a WaitTimeout.
func (p *Pool[T]) newWaiterLocked() *waiter[T] {
	if n := len(p.spare); n > 0 {
		w := p.spare[n-1]
		p.spare[n-1] = nil
		p.spare = p.spare[:n-1]
		return w
	}
	w := &waiter[T]{ch: make(chan grant[T], 1)}
	if p.cfg.WaitTimeout > 0 {
		w.timer = time.NewTimer(p.cfg.WaitTimeout)
		w.timer.Stop()
	}
	return w
}

// freeWaiterLocked keeps w, which is out of the queue with its channel
// drained and its timer stopped, for reuse.
func (p *Pool[T]) freeWaiterLocked(w *waiter[T]) {
	if len(p.spare) < max(p.cfg.MaxOpen, 64) {
		p.spare = append(p.spare, w)
	}
}

// giveUp takes a waiter that stopped waiting out of the queue, counting the
// reason in *counter. If the waiter was handed something in the meantime it
// gives it back, so neither a resource nor a slot leaks. It returns how long
// the waiter waited.
func (p *Pool[T]) giveUp(w *waiter[T], start time.Time, counter *uint64) time.Duration {
	if w.timer != nil {
		w.timer.Stop()
	}
	var toClose *Resource[T]
	p.mu.Lock()
	waited := nowFunc().Sub(start)
	p.stats.WaitDuration += waited
	*counter++
	if w.queued {
		p.waiters.remove(w)
	} else {
		g := <-w.ch // sent under p.mu before w left the queue, so it is there
		p.gaveBack++
		switch {
		case g.r != nil:
			g.r.inUse = false
			p.numInUse--
			toClose = p.putLocked(g.r)
		case g.err == nil:
			p.releaseSlotLocked()
		}
	}
	p.freeWaiterLocked(w)
	p.mu.Unlock()
	if toClose != nil {
		p.discard(toClose)
	}
	return waited.Round(time.Millisecond)
}

// check runs Config.Check on r, which Get holds as in use, and reports
// whether r passed. A resource that fails, or whose Check panics, is closed
// and its slot freed (before the panic goes on).
func (p *Pool[T]) check(ctx context.Context, r *Resource[T]) (passed bool) {
	defer func() {
		if !passed {
			p.mu.Lock()
			p.stats.ClosedHealth++
			r.inUse = false
			p.numInUse--
			p.numClosing++
			p.mu.Unlock()
			p.discard(r)
		}
	}()
	return p.cfg.Check(ctx, r.value) == nil
}

// dial opens a resource into a slot the caller already holds (counted in
// numOpen). On failure the slot goes to the next waiter.
func (p *Pool[T]) dial(ctx context.Context) (r *Resource[T], err error) {
	p.mu.Lock()
	p.stats.Dials++
	p.mu.Unlock()
	ok := false
	defer func() {
		if !ok { // Dial panicked: free the slot before the panic goes on
			p.mu.Lock()
			p.releaseSlotLocked()
			p.mu.Unlock()
		}
	}()
	v, err := p.cfg.Dial(ctx)
	ok = true
	p.mu.Lock()
	if err != nil {
		p.stats.DialErrors++
		p.releaseSlotLocked()
		p.mu.Unlock()
		return nil, fmt.Errorf("pool: dial: %w", err)
	}
	if p.closed {
		p.mu.Unlock()
		_ = p.cfg.Close(v)
		p.mu.Lock()
		p.releaseSlotLocked()
		p.mu.Unlock()
		return nil, ErrClosed
	}
	r = &Resource[T]{value: v, createdAt: nowFunc(), pool: p, inUse: true}
	p.numInUse++
	p.mu.Unlock()
	return r, nil
}

// Put gives back a resource that Get returned. A reusable one goes to the
// longest waiter or to the idle list (unless it outlived MaxLifetime or
// MaxIdle are idle already). One that is not reusable, because it saw an
// I/O error, a timeout, a cancellation or a protocol error, is closed and
// its slot goes to the longest waiter. After Close every resource Put is
// closed. Put panics on a resource that is not in use or from another pool.
func (p *Pool[T]) Put(r *Resource[T], reusable bool) {
	if r.pool != p {
		panic("pool: Put of a resource from another pool")
	}
	p.mu.Lock()
	if !r.inUse {
		p.mu.Unlock()
		panic("pool: Put of a resource that is not in use")
	}
	r.inUse = false
	p.numInUse--
	var toClose *Resource[T]
	switch {
	case p.closed:
		p.numClosing++
		toClose = r
	case !reusable:
		p.stats.ClosedBroken++
		p.numClosing++
		toClose = r
	default:
		toClose = p.putLocked(r)
	}
	p.mu.Unlock()
	if toClose != nil {
		p.discard(toClose)
	}
}

// putLocked hands r, which is open and not in use, to the longest waiter or
// makes it idle. It returns r if r must be discarded instead, once p.mu is
// released.
func (p *Pool[T]) putLocked(r *Resource[T]) (toClose *Resource[T]) {
	if p.closed {
		p.numClosing++
		return r
	}
	now := nowFunc()
	if p.cfg.MaxLifetime > 0 && now.Sub(r.createdAt) >= p.cfg.MaxLifetime {
		p.stats.ClosedLifetime++
		p.numClosing++
		return r
	}
	if w := p.waiters.pop(); w != nil {
		r.inUse = true
		p.numInUse++
		w.ch <- grant[T]{r: r}
		return nil
	}
	if len(p.idle) >= p.cfg.MaxIdle {
		p.stats.ClosedMaxIdle++
		p.numClosing++
		return r
	}
	r.returnedAt = now
	p.idle = append(p.idle, r)
	return nil
}

// releaseSlotLocked frees the slot of a resource that was closed or never
// dialed: the longest waiter gets it (and dials), or the open count drops.
// A slot is freed only once its resource is closed, so MaxOpen bounds the
// resources still being closed too.
func (p *Pool[T]) releaseSlotLocked() {
	if w := p.waiters.pop(); w != nil {
		w.ch <- grant[T]{}
		return
	}
	p.numOpen--
	p.maybeFillLocked()
}

// expiredLocked reports whether idle resource r must be closed at now,
// returning the counter for the reason, or nil. nIdle is the number of idle
// resources counting r: the idle timeout spares the last MinIdle.
func (p *Pool[T]) expiredLocked(r *Resource[T], now time.Time, nIdle int) *uint64 {
	if p.cfg.MaxLifetime > 0 && now.Sub(r.createdAt) >= p.cfg.MaxLifetime {
		return &p.stats.ClosedLifetime
	}
	if p.cfg.IdleTimeout > 0 && nIdle > p.cfg.MinIdle && now.Sub(r.returnedAt) >= p.cfg.IdleTimeout {
		return &p.stats.ClosedIdleTimeout
	}
	return nil
}

// discard closes r, counted in numClosing, and then frees its slot. p.mu
// must not be held. Callers other than Close drop the error: nobody is left
// to act on it.
func (p *Pool[T]) discard(r *Resource[T]) error {
	err := p.cfg.Close(r.value)
	p.mu.Lock()
	p.numClosing--
	p.releaseSlotLocked()
	p.mu.Unlock()
	return err
}

// CloseIdle closes every idle resource now, for instance after one of them
// turned out dead and its siblings likely are too. Resources in use are not
// touched; MinIdle refills start over.
func (p *Pool[T]) CloseIdle() {
	p.mu.Lock()
	idle := p.takeIdleLocked()
	p.stats.ClosedByCloseIdle += uint64(len(idle))
	p.mu.Unlock()
	for _, r := range idle {
		p.discard(r)
	}
}

// takeIdleLocked empties the idle list and returns what was in it for the
// caller to discard after releasing p.mu.
func (p *Pool[T]) takeIdleLocked() []*Resource[T] {
	idle := make([]*Resource[T], len(p.idle))
	copy(idle, p.idle)
	clear(p.idle)
	p.idle = p.idle[:0]
	p.numClosing += len(idle)
	return idle
}

// Close closes the idle resources at once, fails every waiter with
// ErrClosed and stops the background goroutines (cancelling a MinIdle dial
// in progress and waiting for it). Resources in use are closed when they
// are Put. Get after Close returns ErrClosed. Close is idempotent: calls
// after the first return nil. It returns the errors of closing the idle
// resources, joined.
func (p *Pool[T]) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.takeIdleLocked()
	for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
		w.ch <- grant[T]{err: ErrClosed}
	}
	p.mu.Unlock()

	p.cancel()
	close(p.done)
	p.wg.Wait()

	var errs []error
	for _, r := range idle {
		if err := p.discard(r); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pool: closing idle resources: %w", errors.Join(errs...))
	}
	return nil
}
