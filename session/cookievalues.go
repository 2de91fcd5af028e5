package session

import (
	"context"
	"net/http"
	"slices"
)

// maxCookieValues bounds the values of the session cookie Load tries. A
// browser sends one cookie of a name per domain and path that match the
// request (the host's own, one a sibling subdomain planted for the parent
// domain, ...): a few at most. More is a stuffed header, which must not
// cost a store lookup each.
const maxCookieValues = 8

// cookieValues returns the distinct non-empty values of the cookies named
// like the session cookie in r, in the order the browser sent them (longest
// path first, then oldest), at most maxCookieValues of them.
func (m *Manager) cookieValues(r *http.Request) []string {
	var values []string
	for _, c := range r.CookiesNamed(m.cfg.CookieName) {
		if c.Value == "" || slices.Contains(values, c.Value) {
			continue
		}
		values = append(values, c.Value)
		if len(values) == maxCookieValues {
			break
		}
	}
	return values
}

// loadCookie returns the session named by the first of the request's
// session cookies that yields one (an ID the store knows, a sealed cookie
// that opens), or nil when none does; an error only for a store failure.
// Every cookie is tried, not only the first: a cookie planted for the
// parent domain by a sibling subdomain comes first and would otherwise lock
// the user out of their session.
func (m *Manager) loadCookie(ctx context.Context, r *http.Request) (*Session, error) {
	for _, value := range m.cookieValues(r) {
		if sess, err := m.loadCookieValue(ctx, value); sess != nil || err != nil {
			return sess, err
		}
	}
	return nil, nil
}
