package session

import (
	"net/http"
	"slices"
)

// maxCookieValues bounds the values of the session cookie Load tries. A
// browser sends one cookie of a name per domain and path that match the
// request (the host's own, one a sibling subdomain planted for the parent
// domain, ...): a few at most. More is a stuffed header, which must not
// cost a store lookup each.
const maxCookieValues = 8

// cookieValues appends to values (a caller's array, so that nothing is
// allocated) the distinct non-empty values of the cookies named like the
// session cookie in r, in the order the browser sent them (longest path
// first, then oldest), at most maxCookieValues of them.
func (m *Manager) cookieValues(r *http.Request, values []string) []string {
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
