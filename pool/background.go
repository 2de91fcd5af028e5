package pool

import "time"

// Refill backoff: the first retry after a failed MinIdle dial waits
// minRefillBackoff, each further failure doubles the wait up to
// maxRefillBackoff, and a successful dial resets it.
const (
	minRefillBackoff = 100 * time.Millisecond
	maxRefillBackoff = 10 * time.Second
)

// Sweep interval bounds: the sweep runs at half the shorter of IdleTimeout
// and MaxLifetime, clamped to this range so it stays light.
const (
	minSweepInterval = 100 * time.Millisecond
	maxSweepInterval = time.Minute
)

// maybeFillLocked wakes the MinIdle filler if the pool is short of idle
// resources and has room to dial. It never blocks or allocates.
func (p *Pool[T]) maybeFillLocked() {
	if len(p.idle) < p.cfg.MinIdle && p.numOpen < p.cfg.MaxOpen && !p.closed {
		select {
		case p.fillCh <- struct{}{}:
		default: // already woken
		}
	}
}

// fill keeps MinIdle resources idle, one dial at a time, until Close. After
// a failed dial it sleeps with exponential backoff rather than retrying at
// once, so a server that is down is not hammered.
func (p *Pool[T]) fill() {
	defer p.wg.Done()
	var backoff time.Duration
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if backoff == 0 {
			select {
			case <-p.done:
				return
			case <-p.fillCh:
			}
		} else {
			timer.Reset(backoff)
			select {
			case <-p.done:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		for {
			dialed, err := p.refillOne()
			if err != nil {
				backoff = min(max(2*backoff, minRefillBackoff), maxRefillBackoff)
				break
			}
			backoff = 0
			if !dialed {
				break
			}
		}
	}
}

// refillOne dials one resource into the idle list if the pool is short of
// MinIdle and under MaxOpen. It reports whether it dialed, and the dial
// error.
func (p *Pool[T]) refillOne() (dialed bool, err error) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.cfg.MinIdle || p.numOpen >= p.cfg.MaxOpen {
		p.mu.Unlock()
		return false, nil
	}
	p.numOpen++
	p.stats.Dials++
	p.mu.Unlock()

	v, err := p.cfg.Dial(p.ctx)

	p.mu.Lock()
	if err != nil {
		p.stats.DialErrors++
		p.releaseSlotLocked()
		p.mu.Unlock()
		return false, err
	}
	r := &Resource[T]{value: v, createdAt: nowFunc(), pool: p}
	toClose := p.putLocked(r) // to a waiter if any; closed if the pool is
	p.mu.Unlock()
	if toClose != nil {
		p.discard(toClose)
		return false, nil
	}
	return true, nil
}

// sweepInterval returns how often the sweep runs for the given timeouts,
// at least one of which is positive.
func sweepInterval(idleTimeout, maxLifetime time.Duration) time.Duration {
	d := max(idleTimeout, maxLifetime)
	if idleTimeout > 0 {
		d = min(d, idleTimeout)
	}
	if maxLifetime > 0 {
		d = min(d, maxLifetime)
	}
	return min(max(d/2, minSweepInterval), maxSweepInterval)
}

// sweep closes idle resources past IdleTimeout or MaxLifetime every
// interval until Close.
func (p *Pool[T]) sweep(interval time.Duration) {
	defer p.wg.Done()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-ticker.C:
			p.sweepOnce()
		}
	}
}

// sweepOnce closes the idle resources that have expired, oldest first.
func (p *Pool[T]) sweepOnce() {
	now := nowFunc()
	var expired []*Resource[T]
	p.mu.Lock()
	kept := p.idle[:0]
	for i, r := range p.idle {
		// Idle resources still to judge plus those kept, r included.
		n := len(p.idle) - i + len(kept)
		if reason := p.expiredLocked(r, now, n); reason != nil {
			*reason++
			expired = append(expired, r)
			continue
		}
		kept = append(kept, r)
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.numClosing += len(expired)
	p.mu.Unlock()
	for _, r := range expired {
		p.discard(r)
	}
}
