package session

import (
	"context"
	"net/http"
)

// managerKey is the request-context key under which a Manager's middleware
// stores its own session, beside Key. Key holds the innermost middleware's
// session (what Get returns, as in sessionx); with managers nested, each
// finds its own under its managerKey, so that one's Load or Destroy never
// acts on the other's session.
type managerKey struct{ m *Manager }

// sessionContext is the request context inside a Manager's middleware: it
// answers Key and the manager's managerKey with the session, and every
// other key as its parent does. One value for both keys costs a request
// one allocation, not two.
type sessionContext struct {
	context.Context
	m    *Manager
	sess *Session
}

// Value returns the session for Key and c's managerKey.
func (c *sessionContext) Value(key any) any {
	switch k := key.(type) {
	case ContextKey:
		if k == Key {
			return c.sess
		}
	case managerKey:
		if k.m == c.m {
			return c.sess
		}
	}
	return c.Context.Value(key)
}

// requestSession returns m's session for r: the one m's middleware stored,
// else the one Get returns if m handed it out (a caller that put a session
// it loaded under Key itself); nil otherwise.
func (m *Manager) requestSession(r *http.Request) *Session {
	if sess, ok := r.Context().Value(managerKey{m}).(*Session); ok {
		return sess
	}
	if sess := Get(r); sess != nil && m.sessions.lookup(sess) != nil {
		return sess
	}
	return nil
}
