package redisstore

import (
	"errors"

	"github.com/sessionx-redis/redisstore/pool"
	"github.com/sessionx-redis/redisstore/session"
)

// ErrSessionNotFound is returned by Load when no session is stored under the
// ID (it never existed, expired, or was deleted). It also matches
// session.ErrNotFound, so the session manager starts a fresh session.
var ErrSessionNotFound error = notFoundError{}

// ErrInvalidSession is returned by Load when the value stored under the ID is
// not valid JSON for the session type; it wraps the JSON error. It also
// matches session.ErrInvalidSession, so the session manager starts a fresh
// session instead of failing every request of that user.
var ErrInvalidSession error = invalidSessionError{}

// ErrInvalidID is returned, before any network I/O, for an ID that is empty,
// longer than MaxIDLength bytes, or holds spaces or control characters.
var ErrInvalidID = errors.New("redisstore: invalid session ID")

// ErrClosed is returned by every call on a Store after Close.
var ErrClosed = errors.New("redisstore: store closed")

// ErrPoolTimeout is returned (wrapped, with the wait and the pool size) when
// no connection became free within PoolTimeout.
var ErrPoolTimeout = pool.ErrTimeout

// notFoundError is the type of ErrSessionNotFound; it matches
// session.ErrNotFound too.
type notFoundError struct{}

func (notFoundError) Error() string { return "redisstore: session not found" }

func (notFoundError) Is(target error) bool { return target == session.ErrNotFound }

// invalidSessionError is the type of ErrInvalidSession; it matches
// session.ErrInvalidSession too.
type invalidSessionError struct{}

func (invalidSessionError) Error() string { return "redisstore: invalid session value" }

func (invalidSessionError) Is(target error) bool { return target == session.ErrInvalidSession }
