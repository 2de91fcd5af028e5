package pool

import "time"

// Stats is a snapshot of a pool's counters and gauges. Counters count from
// New; gauges describe the moment of the snapshot.
type Stats struct {
	// MaxOpen is the configured bound on open resources.
	MaxOpen int

	// Hits counts Gets served by an idle resource without waiting.
	Hits uint64
	// Misses counts Gets that found no usable idle resource and dialed or waited.
	Misses uint64
	// Dials counts dial attempts, by Get and by MinIdle refills.
	Dials uint64
	// DialErrors counts dial attempts that failed.
	DialErrors uint64
	// Waits counts Gets that waited because MaxOpen resources were open.
	Waits uint64
	// WaitDuration is the total time Gets spent waiting.
	WaitDuration time.Duration
	// Timeouts counts waits that ended with ErrTimeout.
	Timeouts uint64
	// Canceled counts waits that ended because the caller's context ended.
	Canceled uint64

	// Open is the number of resources open, being dialed or being closed; never above MaxOpen.
	Open int
	// Idle is the number of open resources waiting in the pool.
	Idle int
	// InUse is the number of resources between Get and Put.
	InUse int
	// Dialing is the number of slots held by dials in progress (counted in Open).
	Dialing int
	// Closing is the number of resources being closed (counted in Open).
	Closing int

	// ClosedIdleTimeout counts resources closed after idling longer than IdleTimeout.
	ClosedIdleTimeout uint64
	// ClosedLifetime counts resources closed for outliving MaxLifetime.
	ClosedLifetime uint64
	// ClosedHealth counts idle resources closed because Check failed.
	ClosedHealth uint64
	// ClosedBroken counts resources Put back as not reusable.
	ClosedBroken uint64
	// ClosedMaxIdle counts resources closed on Put because MaxIdle were already idle.
	ClosedMaxIdle uint64
	// ClosedByCloseIdle counts idle resources closed by CloseIdle.
	ClosedByCloseIdle uint64
}

// Stats returns a snapshot of the pool's counters and gauges.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	s := p.stats
	s.MaxOpen = p.cfg.MaxOpen
	s.Open = p.numOpen
	s.Idle = len(p.idle)
	s.InUse = p.numInUse
	s.Closing = p.numClosing
	s.Dialing = p.numOpen - p.numInUse - len(p.idle) - p.numClosing
	p.mu.Unlock()
	return s
}
