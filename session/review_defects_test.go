package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
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

// Browsers drop these cookies without a word: every request would then get
// a fresh session. NewManager refuses them.
func TestNewManagerRejectsCookieSettingsBrowsersDrop(t *testing.T) {
	bad := []struct {
		name string
		cfg  Config
	}{
		{"__Host- without Secure", DevConfig(testKey, WithCookieName("__Host-sid"))},
		{"__host- without Secure (prefixes match in any case)", DevConfig(testKey, WithCookieName("__host-sid"))},
		{"__Host- with a Domain", DefaultConfig(testKey, WithCookieName("__Host-sid"), WithDomain("example.com"))},
		{"__Host- with Path /app", DefaultConfig(testKey, WithCookieName("__Host-sid"), WithPath("/app"))},
		{"__Host- without Path", DefaultConfig(testKey, WithCookieName("__Host-sid"), WithPath(""))},
		{"__Secure- without Secure", DevConfig(testKey, WithCookieName("__Secure-sid"))},
		{"SameSite None without Secure", DevConfig(testKey, WithSameSite("None"))},
		{"SameSite NONE without Secure", DevConfig(testKey, WithSameSite("NONE"))},
		{"Domain with a space", DefaultConfig(testKey, WithDomain("exa mple.com"))},
		{"Domain with a semicolon", DefaultConfig(testKey, WithDomain("example.com;secure"))},
		{"Domain with an underscore", DefaultConfig(testKey, WithDomain("ex_ample.com"))},
		{"Domain with two dots", DefaultConfig(testKey, WithDomain("example..com"))},
		{"Domain with a port", DefaultConfig(testKey, WithDomain("example.com:8080"))},
		{"Domain an IPv6 address", DefaultConfig(testKey, WithDomain("::1"))},
		{"Path with a semicolon", DefaultConfig(testKey, WithPath("/app;Domain=evil.example"))},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewManager(tt.cfg)
			var se *SessionError
			if !errors.As(err, &se) || se.Op != "NewManager" {
				t.Fatalf("NewManager error = %v; want a *SessionError from NewManager", err)
			}
			if !strings.HasPrefix(err.Error(), "session: NewManager: ") {
				t.Errorf("error %q does not start with the package and op", err)
			}
			t.Log(err)
		})
	}
	good := []struct {
		name string
		cfg  Config
	}{
		{"DevConfig", DevConfig(testKey)},
		{"DefaultConfig", DefaultConfig(testKey)},
		{"__Host- done right", DefaultConfig(testKey, WithCookieName("__Host-sid"))},
		{"__Secure- with Secure and a Domain", DefaultConfig(testKey, WithCookieName("__Secure-sid"), WithDomain("example.com"))},
		{"SameSite None with Secure", DefaultConfig(testKey, WithSameSite("none"))},
		{"Domain with a leading dot", DefaultConfig(testKey, WithDomain(".example.com"))},
		{"Domain an IPv4 address", DefaultConfig(testKey, WithDomain("192.0.2.1"))},
		{"Domain localhost", DevConfig(testKey, WithDomain("localhost"))},
		{"no Path", DevConfig(testKey, WithPath(""))},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewManager(tt.cfg); err != nil {
				t.Errorf("NewManager: %v", err)
			}
		})
	}
}

// nestedManagers returns two managers with their own stores and cookies
// ("a" outside, "b" inside) and a cookie for a session of each, holding
// user=alice in a and user=bob in b.
func nestedManagers(t *testing.T) (a, b *Manager, storeA, storeB *memStore, cookieA, cookieB *http.Cookie) {
	t.Helper()
	storeA, storeB = newMemStore(), newMemStore()
	a = newTestManager(t, WithStore(storeA), WithCookieName("a"))
	b = newTestManager(t, WithStore(storeB), WithCookieName("b"))
	cookieA = cookieNamed(serve(appMux(a), "/set?k=user&v=alice"), "a")
	cookieB = cookieNamed(serve(appMux(b), "/set?k=user&v=bob"), "b")
	if cookieA == nil || cookieB == nil {
		t.Fatal("sessions not created")
	}
	return a, b, storeA, storeB, cookieA, cookieB
}

// With two managers nested, each one's Destroy ends its own session only.
func TestNestedManagersEachDestroyOnlyTheirOwnSession(t *testing.T) {
	for _, outer := range []bool{true, false} {
		name := map[bool]string{true: "outer destroys", false: "inner destroys"}[outer]
		t.Run(name, func(t *testing.T) {
			a, b, storeA, storeB, cookieA, cookieB := nestedManagers(t)
			gone, kept := a, b
			goneStore, keptStore := storeA, storeB
			goneCookie, keptCookie := cookieA, cookieB
			if !outer {
				gone, kept = b, a
				goneStore, keptStore = storeB, storeA
				goneCookie, keptCookie = cookieB, cookieA
			}
			h := a.Middleware(b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := gone.Destroy(w, r); err != nil {
					t.Error(err)
				}
			})))
			rec := serve(h, "/", cookieA, cookieB)
			if goneStore.has(goneCookie.Value) {
				t.Errorf("session %q still in its store", goneCookie.Name)
			}
			if c := cookieNamed(rec, goneCookie.Name); c == nil || c.MaxAge >= 0 {
				t.Errorf("cookie %q not expired: %v", goneCookie.Name, c)
			}
			if !keptStore.has(keptCookie.Value) {
				t.Errorf("session %q deleted from its store", keptCookie.Name)
			}
			if c := cookieNamed(rec, keptCookie.Name); c != nil {
				t.Errorf("cookie %q touched: %v", keptCookie.Name, c)
			}
			want := map[*Manager]string{a: "alice", b: "bob"}[kept]
			if got := serve(appMux(kept), "/get?k=user", keptCookie).Body.String(); got != want {
				t.Errorf("session %q afterwards: user = %q, want %q", keptCookie.Name, got, want)
			}
		})
	}
}

// With two managers nested, the outer one's Load in the handler returns the
// session its middleware loaded (and saves), not a second copy.
func TestNestedManagersLoadTheirOwnMiddlewareSession(t *testing.T) {
	a, b, storeA, _, cookieA, cookieB := nestedManagers(t)
	h := a.Middleware(b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := a.Load(r)
		if err != nil {
			t.Error(err)
			return
		}
		sess.Data["user"] = "carol" // saved by a's middleware, without a.Save
	})))
	serve(h, "/", cookieA, cookieB)
	if got := serve(appMux(a), "/get?k=user", cookieA).Body.String(); got != "carol" {
		t.Errorf("a's session: user = %q, want carol (stored %d sessions)", got, len(storeA.data))
	}
}

// A newline in the path (%0a) must not start a forged log line.
func TestDefaultErrorHandlerQuotesThePathInItsLogLine(t *testing.T) {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(io.Discard) })
	store := newMemStore()
	store.loadErr = errors.New("connection refused")
	m := newTestManager(t, WithStore(store))
	rec := serve(appMux(m), "/get%0a2025/03/01%2012:00:00%20admin%20logged%20in", &http.Cookie{Name: "sessionx", Value: mustID(t)})
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d log lines, want 1:\n%s", n, out)
	}
	if want := `"/get\n2025/03/01 12:00:00 admin logged in"`; !strings.Contains(out, want) {
		t.Errorf("log %q does not hold the quoted path %s", out, want)
	}
}

// A huge MaxAge used to overflow into Max-Age=1: a cookie gone in a second.
func TestHugeMaxAgeIsCappedNotWrapped(t *testing.T) {
	const cap400Days = 400 * 24 * 60 * 60
	tests := []struct {
		maxAge time.Duration
		want   int
	}{
		{math.MaxInt64, cap400Days},
		{math.MaxInt64 - time.Second/2, cap400Days},
		{100 * 365 * 24 * time.Hour, cap400Days},
		{401 * 24 * time.Hour, cap400Days},
		{400 * 24 * time.Hour, cap400Days},
		{30 * time.Minute, 1800},
		{1500 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxAge), func(t *testing.T) {
			m := newTestManager(t, WithStore(newMemStore()), WithMaxAge(tt.maxAge))
			c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
			if c == nil || c.MaxAge != tt.want {
				t.Errorf("cookie %v, want Max-Age=%d", c, tt.want)
			}
		})
	}
}

// A session dated in the future (a clock that went back, a forged sealed
// cookie) must not live longer than MaxAge or the absolute timeout allow.
func TestSessionFromTheFutureIsExpired(t *testing.T) {
	modes(t, func(t *testing.T, store *memStore, opts ...ConfigOption) {
		clock := useFakeClock(t)
		m := newTestManager(t, append(opts, WithAbsoluteTimeout(time.Hour))...)
		h := appMux(m)
		now := clock.Now()
		tests := []struct {
			name             string
			created, updated time.Duration // after now
			wantKept         bool
		}{
			{"created 2m ahead", 2 * time.Minute, 0, false},
			{"updated 2m ahead", 0, 2 * time.Minute, false},
			{"both a year ahead", 365 * 24 * time.Hour, 365 * 24 * time.Hour, false},
			{"both 30s ahead (clock skew)", 30 * time.Second, 30 * time.Second, true},
			{"both a minute ahead", time.Minute, time.Minute, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sess := &Session{
					ID:        mustID(t),
					Data:      map[string]interface{}{"user": "alice"},
					CreatedAt: now.Add(tt.created),
					UpdatedAt: now.Add(tt.updated),
				}
				got := serve(h, "/get?k=user", cookieFor(t, m, store, sess)).Body.String()
				if kept := got == "alice"; kept != tt.wantKept {
					t.Errorf("user = %q; kept %v, want %v", got, kept, tt.wantKept)
				}
				if store != nil && !tt.wantKept && store.has(sess.ID) {
					t.Error("the expired session is still in the store")
				}
			})
		}
	})
}
