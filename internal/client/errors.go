package client

import (
	"context"
	"errors"
	"net"

	"github.com/sessionx-redis/redisstore/pool"
	"github.com/sessionx-redis/redisstore/resp"
)

// Errors a caller branches on. Their text names the store, whose users see
// them.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("redisstore: store closed")
	// ErrPoolTimeout is returned (wrapped, with the wait and the pool size)
	// when no connection became free within PoolTimeout.
	ErrPoolTimeout = pool.ErrTimeout
	// ErrTooManyRedirects is returned (wrapped, with the last MOVED or ASK
	// reply) when a Redis Cluster redirected a batch more than MaxRedirects
	// times.
	ErrTooManyRedirects = errors.New("redisstore: too many cluster redirections")
)

// errNoSlotOwner is the failure of a command whose slot no known node
// serves; the slot map is refreshed and the command retried.
var errNoSlotOwner = errors.New("redisstore: no cluster node serves the slot")

// errPipeClosing refuses new calls on a pipe that closes with the client.
var errPipeClosing = errors.New("redisstore: connection closing")

// errPipeRetired ends a pipe that idled for IdleTimeout or lived for
// MaxLifetime; no call ever sees it.
var errPipeRetired = errors.New("redisstore: connection retired")

// uncertainError is the failure of a batch that is not Idempotent on a
// connection that failed after the batch was written: it may have run, so
// it is not sent again.
type uncertainError struct{ err error }

func (e *uncertainError) Error() string { return e.err.Error() }
func (e *uncertainError) Unwrap() error { return e.err }

// ErrorKind names the class of err, as Stats.Errors counts it: a Redis
// error kind ("OOM", "READONLY", "NOAUTH", ...), "pool timeout",
// "canceled", "timeout", "protocol", "closed" or "network".
func ErrorKind(err error) string {
	if se, ok := errors.AsType[resp.Error](err); ok {
		return se.Kind
	}
	switch {
	case errors.Is(err, pool.ErrTimeout):
		return "pool timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout"
	case isType[*resp.ProtocolError](err):
		return "protocol"
	case errors.Is(err, ErrClosed):
		return "closed"
	default:
		return "network"
	}
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// isType reports whether an error in err's tree is an E. Unlike errors.As,
// errors.AsType needs no reflection, so the client links none.
func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}
