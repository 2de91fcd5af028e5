package redisstore

import (
	"errors"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/session"
)

// ErrSessionNotFound is returned by Load when no session is stored under the
// ID (it never existed, expired, or was deleted). It also matches
// session.ErrNotFound, so the session manager starts a fresh session.
var ErrSessionNotFound error = notFoundError{}

// ErrInvalidSession is returned by Load when the value stored under the ID is
// not valid JSON for the session type, wrapping the JSON error, when the
// key holds another Redis type, wrapping the WRONGTYPE reply, or, with
// Options.EncryptionKeys, when the value does not open, wrapping
// ErrNotSealed, ErrUnknownKey, ErrTampered or ErrSealFormat. It also
// matches session.ErrInvalidSession, so the session manager starts a fresh
// session instead of failing every request of that user.
var ErrInvalidSession error = invalidSessionError{}

// Errors wrapped by ErrInvalidSession when a value does not open with
// Options.EncryptionKeys. Stats.UnopenedValues counts them and Logger
// hears of them.
var (
	// ErrNotSealed reports a value that is not sealed (plain JSON, a plain
	// rotation marker, or something foreign) while Options.ReadPlaintext
	// is off.
	ErrNotSealed = errors.New("redisstore: value not sealed (plaintext refused)")
	// ErrUnknownKey reports a value sealed by a key not in
	// Options.EncryptionKeys.
	ErrUnknownKey = errors.New("redisstore: value sealed by a key not in EncryptionKeys")
	// ErrTampered reports a value whose key is known but which does not
	// open: it was edited, cut short, or copied from another Redis key.
	ErrTampered = errors.New("redisstore: sealed value does not open (edited, truncated or moved)")
	// ErrSealFormat reports a value that starts with the format byte
	// (0x01) but is shorter than an envelope (49 bytes) or, in a user
	// index, than a sealed entry.
	ErrSealFormat = errors.New("redisstore: sealed value of an unknown format")
)

// ErrHashKeysMismatch is returned by New with EncryptionKeys when a
// sealing store of the other key format (Options.HashKeys on in one and
// off in the other) recorded it on the same Redis and Prefix: each would
// miss the other's sessions.
var ErrHashKeysMismatch = errors.New("redisstore: another store on this prefix hashes its keys differently (Options.HashKeys)")

// ErrInvalidID is returned, before any network I/O, for an ID that is empty,
// longer than MaxIDLength bytes, or holds spaces or control characters.
var ErrInvalidID = errors.New("redisstore: invalid session ID")

// ErrClosed is returned by every call on a Store after Close.
var ErrClosed = client.ErrClosed

// ErrPoolTimeout is returned (wrapped, with the wait and the pool size) when
// no connection became free within PoolTimeout.
var ErrPoolTimeout = client.ErrPoolTimeout

// ErrTooManyRedirects is returned (wrapped, with the last MOVED or ASK
// reply) when a Redis Cluster redirected a command more than three times:
// the cluster is resharding faster than the store can follow, or a node is
// misconfigured.
var ErrTooManyRedirects = client.ErrTooManyRedirects

// Stats describes a Store's activity since New: Pool holds the connection
// pool's counters summed over every server; Commands counts the commands
// run (each retry once); Retries the commands sent again on a new
// connection after a pooled one turned out dead; HealthChecks the PINGs
// of idle connections; DialsRefused the calls failed at once during a
// server's dial backoff; UnopenedValues the reads of sealed values that
// did not open; Errors the failed commands by kind (a Redis error kind
// such as "OOM" or "READONLY", "timeout", "canceled", "pool timeout",
// "protocol", "network" or "closed"); Cache the client-side cache's
// counters (CacheStats).
type Stats = client.Stats

// CacheStats describes the client-side cache (Options.CacheSize), in
// Stats.Cache: hits and misses of Load and LoadVersion, entries dropped on
// Redis's word or with their connection (Invalidations) and to stay within
// CacheSize (Evictions), and what it holds. All zero without a cache.
type CacheStats = client.CacheStats

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
