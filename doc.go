// Package redisstore is a Redis session store for sessionx-style session
// managers with no dependency beyond the standard library.
//
// A Store persists sessions as JSON (sealed when Options.EncryptionKeys
// asks) under Prefix+ID with a TTL that Redis enforces, so many
// application servers share sessions, sessions outlive a restart and
// Redis expires them on its own. It uses only HELLO/AUTH, SELECT, SET
// with EX/PX (and SET ... GET, SET ... NX), GET, PTTL, DEL, PING, two
// scripts (EVALSHA/EVAL: conditional saves and the user index) with
// ZRANGE and ZREM, CLIENT TRACKING with Options.CacheSize, plus what
// Sentinel and Cluster routing need.
//
// Data flows down through small packages, each with one job:
//
//	session            the session manager: cookies, IDs, rotation, middleware
//	   |               (it sees only the Store interfaces)
//	redisstore         Store: sessions as JSON (sealed when asked) under Prefix+ID, Options, errors
//	   |
//	internal/client    the Redis client: dial, handshake, pipelining, batches,
//	   |               scripts, single / Sentinel / Cluster routing, retries
//	   +-- pool        connection lifetimes, waiting, health checks
//	   +-- resp        the RESP2/RESP3 wire format
//
// Commands are pipelined: the callers of a Store share a few connections per
// server (one per CPU, within Options.PoolSize). Each caller appends its
// command to the connection's write buffer; the one that finds no write
// under way writes it, and what others append meanwhile leaves together in
// the next write (a value over 64 KiB is written from its own buffer, on a
// connection of its own); one goroutine per connection reads the replies in
// order and hands each to its caller. A caller whose context ends returns at
// once; its reply is still read and dropped, so a slow or cancelled caller
// never stalls others or puts the stream out of sync. A reply overdue by
// ReadTimeout, or any protocol error, closes the connection and fails the
// commands in flight on it. A call whose context has no deadline ends
// within DialTimeout + ReadTimeout whatever the fault; an idle connection
// is PINGed after HealthCheckInterval, so one that died silently is closed
// before a caller waits on it; a server whose dials fail is redialed at a
// paced rate while calls to it fail at once.
//
// Options.CacheSize keeps session values in the process, so that a Load of
// a session nothing changed costs no round trip: Redis pushes an
// invalidation on the connection that read a key when another process
// changes it (CLIENT TRACKING, RESP3), and the store's own writes update
// or drop what it keeps before they return. The design is in package
// internal/cache and in internal/client's track.go.
//
// Build tags for constrained builds: redisstore_nosentinel and
// redisstore_nocluster leave out Sentinel or Cluster routing,
// redisstore_noseal sealed values, redisstore_nocache the client-side
// cache (New then refuses those options with an error naming the tag).
//
// Values are byte-compatible with sessionx's go-redis store: the same key,
// the same JSON, SET key value EX seconds. Options.EncryptionKeys seals
// them instead (AES-256-GCM, bound to their key) and Options.HashKeys
// hashes the keys, so Redis shows no session's data nor ID; see "Sealed
// values" in seal.go for the design.
//
// Errors are package variables usable with errors.Is (ErrSessionNotFound,
// ErrInvalidSession, ErrInvalidID, ErrClosed, ErrPoolTimeout,
// ErrTooManyRedirects; with sealed values ErrNotSealed, ErrUnknownKey,
// ErrTampered, ErrSealFormat and ErrHashKeysMismatch). A Redis error
// reply is a resp.Error (errors.As) with its kind (OOM, READONLY, NOAUTH,
// ...), and network errors wrap the net error. No error or log text ever
// contains a password.
package redisstore
