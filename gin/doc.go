// Package sessiongin adapts the session manager of
// github.com/sessionx-redis/redisstore/session to the Gin web framework,
// with the API of sessionx's Gin adapter: SessionMiddleware loads the
// request's session and saves it before the first byte of the response,
// and Get returns it in a handler.
//
// The adapter runs the Gin handler chain inside the manager's own
// Middleware, so it behaves exactly as the net/http middleware does:
//
//   - A store failure on Load answers through the manager's error handler
//     (WithErrorHandler; 503 by default), leaves the cookie alone and
//     aborts the chain: no later handler runs.
//   - The session is saved, when it needs saving, at the first
//     WriteHeader, WriteHeaderNow, Write, WriteString, Flush or Hijack, or
//     after the chain when it wrote nothing. A save failure (or the failed
//     delete of a rotated ID) before the response started is answered by
//     the error handler instead of the handler's response, whose later
//     writes fail.
//   - Gin's WriteHeader only records the status; the adapter still saves
//     there, as sessionx does, so c.Status(code) commits the session: change
//     it before setting the status.
//   - Hijack (a WebSocket upgrade) never rotates the session: the 101
//     carries no cookie.
//   - Concurrent requests of one session keep each other's changes and
//     never bring back a logged-out session, with a VersionedStore such as
//     redisstore's (see "Concurrent requests" in package session).
//   - The session is also put into the request's context, so session.Get
//     and Manager.Destroy work with c.Request.
//
// The module is separate from redisstore so that only programs using Gin
// depend on it.
package sessiongin
