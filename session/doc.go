// Package session is a cookie session manager with the API of sessionx
// (github.com/abmcmanu/sessionx/pkg/session): code written for sessionx works
// after changing its import paths. Sessions live in a Store (such as
// redisstore's RedisStore) and the cookie holds only the session ID, or, with
// no store, the whole session sealed with AES-GCM in the cookie.
//
// # Differences from sessionx
//
// The API is sessionx's; the behaviour differs where sessionx is unsafe:
//
//   - Parallel requests of one session keep each other's changes, and a
//     request that loaded a session before a logout or login never brings
//     it back (with a VersionedStore such as redisstore's; see "Concurrent
//     requests" below).
//   - A user's sessions can be listed and ended (UserSessions, RevokeUser,
//     RevokeSession) with WithUserKey and a UserStore: see "Log out
//     everywhere" below.
//   - Rotation, explicit (Rotate) or automatic (RotationInterval), retires
//     the old ID once the new one is saved, so a stolen or fixated old
//     cookie never leads to the session; with a VersionedStore the old ID
//     keeps a marker for RotationGrace so that requests already under way
//     are not logged out, and with other stores it is deleted.
//   - A store failure on Load is an error, not a fresh session: the
//     middleware answers through the error handler (503 by default) without
//     touching the cookie. Save and delete failures reach the handler too.
//   - A cookie value that is not a well-formed ID (22 base64url characters)
//     is never sent to the store, and an ID the client chose is never
//     adopted: a fresh session always gets a new random ID.
//   - Every cookie with the session's name is tried (up to eight, in the
//     order the browser sent them), not only the first: a cookie planted
//     for the parent domain by a sibling subdomain, sent first, does not
//     lock the user out of their session.
//   - A session is written back only when it needs it (see below), so
//     requests that do not use the session cost no store write and set no
//     cookie.
//   - Destroy ends the session in the store, even when the client has gone
//     away (its own deadline, not the request's cancellation), and returns
//     the error: with a VersionedStore a retired marker replaces it, so
//     requests still under way cannot save it back, and the cookie,
//     replayed, is an ended session for the grace, then a stale ID; with
//     other stores it is deleted. The expiring cookie has the same Path,
//     Domain, Secure and SameSite as the one it clears.
//   - Hijack (a WebSocket upgrade) never rotates: its 101 carries no cookie.
//   - An optional absolute timeout (WithAbsoluteTimeout) beside the idle one
//     (MaxAge); the TTL given to a TTLStore is the smaller of the two.
//   - A session whose CreatedAt or UpdatedAt is more than a minute in the
//     future (a clock that went back, a tampered value) is expired: it
//     cannot stretch the idle or absolute timeout. Servers sharing a store
//     need clocks within a minute of each other.
//   - Responses vary on Cookie, and those setting the cookie carry
//     Cache-Control: no-cache="Set-Cookie", so shared caches do not hand one
//     user's cookie to another.
//   - NewManager rejects cookie settings browsers drop silently (a
//     "__Host-" or "__Secure-" name, or SameSite None, without Secure; a
//     "__Host-" name with a Domain or a Path other than "/"; a Domain that
//     is not a host name or IPv4 address) instead of handing every request
//     a fresh session.
//   - A failing random source is an error (ErrRandomFailed), never a weak ID.
//   - The sealed cookie binds the cookie name as associated data; cookies
//     sealed by sessionx do not open here (users start a fresh session).
//   - Load, Save and Destroy pass the request's context to a ContextStore.
//
// # Concurrent requests
//
// A browser sends requests of one session in parallel (tabs, images,
// fetches), and a handler changes the copy its request loaded. Saving
// that copy whole, as sessionx and every Go session library do, lets the
// last writer win: a change of a parallel request is lost, a slow request
// writes back a session that was logged out meanwhile, and a login's new
// cookie is replaced by a parallel request's fresh session. With a
// VersionedStore the manager guarantees instead:
//
//   - No lost updates. Requests that change different top-level Data keys
//     all keep their changes; when two change the same key, the later save
//     wins. A save that changed nothing writes nothing.
//   - No resurrection. A session that ended after a request loaded it
//     (Destroy, an explicit Rotate, expiry) is not written by that request:
//     its changes are dropped, its response sets no cookie, and Save
//     returns an error matching ErrSessionEnded (the middleware treats it
//     as the end of the session, not as a failure).
//   - Rotation without logouts. After an automatic rotation the old ID
//     forwards to the new session for RotationGrace: a request sent with
//     the old cookie gets the new session and the new cookie again.
//     Parallel requests that all find rotation due make one new ID. After
//     an explicit Rotate (login) the old ID never leads to the new session:
//     within the grace a request with it gets an empty session that is
//     neither saved nor sent, so it cannot replace the logged-in cookie.
//     Later, a request with an old ID is told to StaleIDHandler.
//   - The idle timeout is the store's TTL, set to MaxAge (capped by the
//     absolute timeout) at every write and pushed forward, once a tenth of
//     it has run out, by a touch that rewrites nothing.
//
// How: Load keeps what the store returned (the version: for redisstore,
// the stored bytes) beside the snapshot of Data. A save writes only if the
// store still holds that version (one server-side script, one round
// trip). When it does not, the store answers with what it holds instead,
// at no extra cost: another version of the session (the manager re-applies
// the top-level keys this request set or deleted, found by comparing each
// key's JSON with the snapshot, and tries again, at most maxSaveAttempts
// times before ErrConflict), a rotation marker (it follows an automatic
// one to the new ID; an explicit one ended the session), or nothing (the
// session ended). A new session is created only if its ID is free.
// Rotating creates the new ID, then replaces the old session, if still at
// the loaded version, with a marker kept for the grace and as long again
// as RotationInterval: "moved to <new ID>" or "retired". A request that
// finds "moved" where it wanted to rotate joins that rotation instead of
// making its own.
//
// A rotation cut short (a dead network, a client gone between its two
// writes) leaves no second copy of the session for long: the new ID lives
// pendingTTL (a minute) until the old one is retired, and is deleted when
// the rotation fails; a Retire whose reply was lost is read back before
// the request fails.
//
// Limits: nested maps are one key (two requests changing entries of one
// map: the later save wins), except flashes, merged by their own keys. A
// logout whose client is gone before the session is even loaded does not
// run (its handler is not called). A session migrated from a sealed cookie
// (CookieMigration) comes back if that cookie is replayed once the
// logout's marker has expired (RotationGrace, then RotationInterval),
// since a sealed cookie cannot be revoked: turn migration off once users
// have moved. A session whose TTL is longer than MaxAge (written by a
// store's own Save, or MaxAge lowered since) has its idle timeout judged
// by UpdatedAt, its last change: lowering MaxAge ends sessions that were
// only read since.
//
// Stores without versions (custom stores, the sealed cookie) keep the
// last-writer-wins behaviour of sessionx.
//
// # Log out everywhere
//
// With WithUserKey and a UserStore (redisstore's RedisStore), the manager
// keeps an index of each user's sessions: after a password change
// RevokeUser ends every session of the user but the current one,
// UserSessions lists them ("your devices": created, last saved, this
// one) and RevokeSession ends one by the Handle the list shows. A handle
// is an HMAC of the user and the session's CreatedAt under the manager's
// key: it survives rotations and gives away nothing of the session's ID.
//
// The index holds, per user, the IDs of the user's sessions, each with the
// time it expires at the latest (redisstore: a sorted set scored by expiry,
// pruned of expired entries at each write and expiring with its last
// entry, so it needs no keyspace events and leaves nothing behind). The
// manager writes an entry before the session's value, so no session
// escapes the index: at login (a session created or rotated with a user),
// when the user under the user key changes, and when the session's expiry
// moves forward (its idle refresh; without MaxAge, or for a key without a
// TTL, every save that changes Data); any other save adds no command. A
// rotation's old ID and a session destroyed in the middleware leave the
// index. Entries may name sessions that ended or passed to another user:
// whoever reads the index loads each session and acts only on the user's
// live ones.
//
// RevokeUser replaces each of the user's sessions with a retired marker,
// as Destroy does, on a condition: only if it still holds what was read
// (a session that passed to another user meanwhile is left alone). So
// the concurrent-request guarantees hold: a request that loaded a session
// before it was revoked cannot save it back, and its next request is
// logged out. A session of the index saved with the user before the call
// began ends; one whose entry was written but not yet its value (a login
// under way) gets the marker first and its save fails with
// ErrSessionEnded; one that an automatic rotation moved meanwhile ends at
// its new ID. A session whose entry was written after the call read the
// index survives: it was saved after the call began. (On a server that
// refuses scripts there is no index, and no condition.)
//
// Bounds: users are at most MaxUserLength (256) bytes of UTF-8 without
// ASCII control characters, checked before any I/O (ErrInvalidUser); a
// user keeps at most 1,000 sessions, and a save that adds an entry beyond
// revokes those that expire first (the least recently active, or the
// nearest their absolute timeout); UserSessions reads at most 1,000 and
// RevokeUser 2,000 (more than the index keeps but while the revocations of
// trimmed sessions fail). Sessions saved before the index was turned on
// join it at their next login, change of user or idle refresh (a tenth of
// MaxAge after their last write at most). A session that passes from one
// user to another without a rotation keeps a stale entry in the first
// user's index until the entry expires; readers skip it.
//
// # When a session is saved
//
// Save, and the middleware before the first byte of the response, write a
// session when its ID changed (Rotate), when it is new and Data holds
// something, or when Data changed since Load. Changes are found without the
// handler saying so: Load keeps the JSON encoding of Data and the save
// compares it with the current one. What a store keeps is that encoding
// beside the ID and times, so equal encodings mean nothing to write. The
// cost is an encoding of Data at Load and one or two per request at save
// time; a fresh session left empty costs none.
//
// An unchanged session is still written once a tenth of MaxAge has passed
// since its last write, so MaxAge stays an idle timeout (between 90% and
// 100% of MaxAge after the last request) at the price of at most ten writes
// per MaxAge for a session that is only read; with a VersionedStore that
// write is a touch of its TTL, not of its value. The TTL in a
// VersionedStore is MaxAge, capped by what remains of the absolute timeout;
// in other stores it is the store's own (redisstore's Options.TTL) unless
// WithAbsoluteTimeout is set: then it is the smaller of MaxAge and what
// remains of the absolute timeout.
//
// The manager remembers, per session it handed out, the ID it is stored
// under and the snapshot, keyed by a weak pointer: a session dropped without
// Save does not leak.
//
// # Stores and TTLs
//
// A Store signals "no such session" with an error matching ErrNotFound (or a
// nil session and nil error); an error matching ErrInvalidSession means a
// stored value it cannot decode. Both give a fresh session; anything else is
// a store failure. With AbsoluteTimeout set, a store that implements
// TTLStore is saved through SaveTTL with the smaller of MaxAge and what
// remains of the absolute timeout; other stores keep their own TTL, and Load
// still refuses a session past its absolute timeout.
//
// Without a store, a rotated or destroyed session's old sealed cookie cannot
// be revoked: it stays valid until its MaxAge or absolute timeout passes.
package session
