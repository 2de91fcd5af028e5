package session

import "errors"

// ErrNotFound is what a Store's Load error matches (with errors.Is) when no
// session exists under the ID. redisstore.ErrSessionNotFound matches it.
var ErrNotFound = errors.New("session: not found")
