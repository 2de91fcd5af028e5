package client

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Pacing of the dials of a server whose dials or handshakes fail.
const (
	minDialBackoff = 10 * time.Millisecond // after the first failure
	maxDialBackoff = time.Second           // the longest pause between two dials
)

// dialBackoff paces the dials of one server while they fail (it refuses
// connections, its handshake rejects the password, it does not answer):
// after the k-th failure in a row no dial is tried for a delay that starts
// at minDialBackoff and doubles up to maxDialBackoff, each drawn at random
// from its upper half so that many clients do not redial in step. Callers
// meanwhile fail at once with the last failure; once the delay has passed
// one dial (the turn) is tried, the others keep failing fast until it ends,
// and a dial that succeeds ends the backoff. A server that comes back after
// being down for t is dialed again within min(t, maxDialBackoff) of
// accepting. Dials are detached from their callers (node.pipe), so a
// failure here is the server's. The zero value admits every dial.
type dialBackoff struct {
	mu       sync.Mutex // protects following fields
	failures int        // dials failed in a row
	next     time.Time  // no dial before
	err      error      // the last failure
	trying   bool       // the turn's dial is under way
}

// admit reports whether a dial may be tried now and whether it is the
// turn after a pause (which must be ended by done or abandon), or returns
// the last failure.
func (b *dialBackoff) admit(now time.Time) (turn bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures == 0:
		return false, nil
	case b.trying:
		return false, &backoffError{err: b.err}
	case now.Before(b.next):
		return false, &backoffError{err: b.err, wait: b.next.Sub(now)}
	}
	b.trying = true
	return true, nil
}

// abandon ends a dial given up for Close, which says nothing of the server.
func (b *dialBackoff) abandon(turn bool) {
	b.mu.Lock()
	if turn {
		b.trying = false
	}
	b.mu.Unlock()
}

// done records how a dial ended and returns the pause before the next one
// (zero after a success). A dial that was not the turn (one under way when
// the failures began) counts only as the first failure.
func (b *dialBackoff) done(turn bool, err error, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if turn {
		b.trying = false
	}
	if err == nil {
		b.failures, b.err = 0, nil
		return 0
	}
	b.err = err
	if !turn && b.failures > 0 {
		return b.next.Sub(now)
	}
	b.failures++
	d := min(minDialBackoff<<min(b.failures-1, 20), maxDialBackoff)
	d -= rand.N(d / 2)
	b.next = now.Add(d)
	return d
}

// backoffError is the error of a call refused while its server's dials are
// paced: the last dial's failure, which it wraps.
type backoffError struct {
	err  error
	wait time.Duration // until the next dial; zero: one is under way
}

func (e *backoffError) Error() string {
	if e.wait <= 0 {
		return fmt.Sprintf("%v (a new connection is being tried)", e.err)
	}
	return fmt.Sprintf("%v (no new connection for another %v)", e.err, e.wait.Round(time.Millisecond))
}

func (e *backoffError) Unwrap() error { return e.err }
