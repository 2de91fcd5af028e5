package pool

import "errors"

// ErrClosed is returned by Get after Close, and to every waiter that Close
// wakes.
var ErrClosed = errors.New("pool: closed")

// ErrTimeout is returned, wrapped with how long Get waited and the pool's
// size, when no resource became free within Config.WaitTimeout.
var ErrTimeout = errors.New("pool: timed out")
