package session

import (
	"context"
	"errors"
	"time"
)

// ErrSessionEnded is what Save returns (wrapped in a *SessionError) for a
// session that ended after it was loaded: destroyed (logout), rotated away
// by an explicit Rotate elsewhere, or expired. Its changes are dropped and
// no cookie is set for it, so a slow request never brings a session back.
// The middleware treats it as the end of the session, not as a failure.
var ErrSessionEnded = errors.New("session: session ended")

// ErrConflict is what Save returns when the session was changed by other
// requests on every one of maxSaveAttempts tries: the changes are not
// saved. It takes as many requests changing one session at the same
// moment.
var ErrConflict = errors.New("session: too many concurrent changes to one session")

// VersionedStore is a Store that writes on a condition: only if the value
// under an ID is still the one a request loaded. With it the manager keeps
// every change of parallel requests of one session and never recreates a
// session that ended (see "Concurrent requests" in the package doc).
// redisstore's RedisStore implements it, on a single server, Sentinel and
// Cluster alike.
//
// Values are the session's JSON, which the manager encodes and decodes;
// versions are opaque to the manager, which hands back what the store gave.
// Each method's Stored result on failure to write (written false) is what
// the ID holds now: a session, a marker or nothing.
type VersionedStore interface {
	Store
	// LoadVersion returns what id holds: a session (Value, Version and
	// what remains of its TTL), a rotation marker, or the zero Stored.
	LoadVersion(ctx context.Context, id string) (Stored, error)
	// SaveVersion writes value under id for ttl (zero: the store's own)
	// if id still holds version; a nil version writes only if id holds
	// nothing. With keepTTL the value keeps what remains of the key's TTL
	// (asked only of a key seen with one): the manager changes a
	// session's TTL only when
	// it also sends the cookie (a new ID, an idle refresh), so that the two
	// expire together and a write needs no Set-Cookie. On success the
	// returned Stored has the new Version.
	SaveVersion(ctx context.Context, id string, value, version []byte, ttl time.Duration, keepTTL bool) (Stored, bool, error)
	// TouchVersion sets id's TTL to ttl (zero: the store's own) if id
	// still holds version, without writing the value; or, if the store
	// must write it again (the same content, sealed anew), it does, and
	// the returned Stored has the new Version.
	TouchVersion(ctx context.Context, id string, version []byte, ttl time.Duration) (Stored, bool, error)
	// Retire replaces the session under id, if id still holds version,
	// with marker, kept for ttl; with a nil version, only if id holds
	// nothing (a session whose value is yet to be written).
	Retire(ctx context.Context, id string, version []byte, marker Marker, ttl time.Duration) (Stored, bool, error)
	// Revoke replaces whatever id holds with marker, kept for ttl, and
	// returns what it held, in one step: a rotation marker there names an
	// ID that ends too. A request that loaded the session before finds
	// the marker and cannot save it back. Where id holds nothing, the
	// marker is written only when always is set: for an ID a request
	// under way may still create (a migration's).
	Revoke(ctx context.Context, id string, marker Marker, ttl time.Duration, always bool) (Stored, error)
}

// Stored is what a VersionedStore found under an ID.
type Stored struct {
	// Value is the session's JSON; nil when the ID holds none.
	Value []byte
	// Version identifies the stored value, for the next conditional write.
	Version []byte
	// TTL is what remains of the value's time to live (LoadVersion only;
	// zero when unknown or unlimited).
	TTL time.Duration
	// Marker is set when the ID holds a rotation marker instead of a
	// session.
	Marker *Marker
}

// Marker is what a rotation leaves under the old ID for a while.
type Marker struct {
	// MovedTo is the session's new ID after an automatic rotation; empty
	// after an explicit one (Rotate), whose old ID never leads to the new
	// session.
	MovedTo string
	// At is when the session was rotated.
	At time.Time
}
