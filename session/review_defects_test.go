package session

import (
	"net/http"
	"testing"
)

// Tests for the defects of review issue 18, item 7. Each failed before its fix.

// modes runs body once with a store and once with sealed cookies; store is
// nil in the sealed run.
func modes(t *testing.T, body func(t *testing.T, store *memStore, opts ...ConfigOption)) {
	t.Run("store", func(t *testing.T) {
		store := newMemStore()
		body(t, store, WithStore(store))
	})
	t.Run("sealed", func(t *testing.T) { body(t, nil) })
}

// cookieFor stores sess (store mode) or seals it (sealed mode) and returns
// the cookie a browser would send for it.
func cookieFor(t *testing.T, m *Manager, store *memStore, sess *Session) *http.Cookie {
	t.Helper()
	if store != nil {
		if err := store.Save(sess); err != nil {
			t.Fatal(err)
		}
		return &http.Cookie{Name: m.cfg.CookieName, Value: sess.ID}
	}
	plain, err := sess.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	value, err := m.seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: m.cfg.CookieName, Value: value}
}

// mustID returns a new random session ID.
func mustID(t *testing.T) string {
	t.Helper()
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A cookie planted from a sibling subdomain (Domain=example.com) is sent
// before the host's own; if only the first were tried, the user could never
// load their session again.
func TestEveryCookieWithTheSessionNameIsTried(t *testing.T) {
	modes(t, func(t *testing.T, store *memStore, opts ...ConfigOption) {
		m := newTestManager(t, opts...)
		h := appMux(m)
		real := sessionCookie(serve(h, "/set?k=user&v=alice"))
		if real == nil {
			t.Fatal("no session cookie")
		}
		planted := []*http.Cookie{
			{Name: "sessionx", Value: mustID(t)}, // well-formed, unknown to the store, does not open
			{Name: "sessionx", Value: "junk"},
			{Name: "sessionx", Value: ""},
		}
		rec := serve(h, "/get?k=user", append(planted, real)...)
		if got := rec.Body.String(); got != "alice" {
			t.Errorf("with planted cookies first: user = %q, want alice", got)
		}
		if c := sessionCookie(rec); c != nil {
			t.Errorf("the session was replaced: Set-Cookie %s", c)
		}
	})
}

// The first cookie that yields a session wins, and a value sent twice is
// tried once.
func TestCookieValuesAreTriedInOrderOnce(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	h := appMux(m)
	first := sessionCookie(serve(h, "/set?k=user&v=alice"))
	second := sessionCookie(serve(h, "/set?k=user&v=bob"))
	unknown := &http.Cookie{Name: "sessionx", Value: mustID(t)}
	loads, _, _ := store.counts()
	if got := serve(h, "/get?k=user", unknown, unknown, first, second).Body.String(); got != "alice" {
		t.Errorf("user = %q, want alice (the first cookie that loads)", got)
	}
	if after, _, _ := store.counts(); after-loads != 2 {
		t.Errorf("store loads = %d, want 2 (the unknown ID once, then the first session)", after-loads)
	}
}
