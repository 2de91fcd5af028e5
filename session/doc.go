// Package session is a cookie session manager with the API of sessionx
// (github.com/abmcmanu/sessionx/pkg/session): code written for sessionx works
// after changing its import paths. Sessions live in a Store (such as
// redisstore's RedisStore) and the cookie holds only the session ID, or, with
// no store, the whole session sealed with AES-GCM in the cookie.
package session
