// Package pool is a bounded, context-aware pool of reusable resources, such
// as network connections. It is generic over the resource and knows nothing
// of what the resource speaks.
//
// A Pool never has more than Config.MaxOpen resources open at once, counting
// dials in progress and closes in progress (a slot is freed only once its
// resource is closed). Get returns the most recently returned idle resource,
// dials a new one while under the bound, or else waits in first-in,
// first-out order until a resource or a free slot is handed to it, its
// context ends, or Config.WaitTimeout passes (ErrTimeout). Put returns a
// resource: a reusable one goes to the longest waiter or back to the idle
// list; one that is not reusable (it saw an I/O error, a timeout, a
// cancellation or a protocol error) is closed, and its slot goes to the
// longest waiter, which dials afresh.
//
// Idle resources are kept up to Config.MaxIdle, closed after
// Config.IdleTimeout idle or Config.MaxLifetime since they were dialed
// (checked on Get and by a light background sweep), and optionally checked
// with Config.Check before reuse once they have been idle for
// Config.CheckAfter. Config.MinIdle resources are kept warm by a background
// goroutine that backs off exponentially while dials fail.
//
// Locking follows database/sql: one mutex guards the pool's state; waiters
// queue in order, each with a one-slot channel on which it is handed either
// a resource, a slot to dial into, or ErrClosed. A waiter that gives up
// after being handed something gives it back, so nothing leaks. Get and Put
// allocate nothing on the fast path (an idle resource is available).
//
// Close closes idle resources at once and in-use ones as they are Put,
// fails waiters with ErrClosed and stops the background goroutines.
package pool
