package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each test here fails on sessionx's behaviour (named in its comment).

// sessionx's Rotate never deletes the old ID: the old cookie keeps working.
func TestFlaw1RotateDeletesOldIDOnceNewIsSaved(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	h := appMux(m)

	first := sessionCookie(serve(h, "/set?k=cart&v=1"))
	if first == nil || !store.has(first.Value) {
		t.Fatalf("first session not stored: %v", first)
	}
	rec := serve(h, "/login", first)
	second := sessionCookie(rec)
	if second == nil || second.Value == first.Value {
		t.Fatalf("login cookie = %v, want a new ID", second)
	}
	if !store.has(second.Value) {
		t.Error("rotated session not stored under the new ID")
	}
	if store.has(first.Value) {
		t.Error("old ID still in the store after rotation")
	}
	if got := serve(h, "/get?k=user", first).Body.String(); got != "<nil>" {
		t.Errorf("old cookie still loads the session: user = %q", got)
	}
	if got := serve(h, "/get?k=user", second).Body.String(); got != "alice" {
		t.Errorf("new cookie: user = %q, want alice", got)
	}
}

// sessionx's automatic rotation has the same stale-ID problem.
func TestFlaw1AutomaticRotationDeletesOldID(t *testing.T) {
	clock := useFakeClock(t)
	store := newMemStore()
	m := newTestManager(t, WithStore(store), WithRotationInterval(15*time.Minute))
	h := appMux(m)

	first := sessionCookie(serve(h, "/set?k=a&v=1"))
	clock.Advance(16 * time.Minute)
	rec := serve(h, "/get?k=a", first)
	if rec.Body.String() != "1" {
		t.Fatalf("body = %q, want the session's data", rec.Body.String())
	}
	second := sessionCookie(rec)
	if second == nil || second.Value == first.Value {
		t.Fatalf("cookie after the interval = %v, want a rotated ID", second)
	}
	if store.has(first.Value) || !store.has(second.Value) {
		t.Errorf("store has old=%v new=%v, want false true", store.has(first.Value), store.has(second.Value))
	}
	if got := serve(h, "/get?k=a", first).Body.String(); got != "<nil>" {
		t.Errorf("old cookie still loads: %q", got)
	}
}

// sessionx turns a store error on Load into a fresh session and overwrites
// the cookie; it also ignores Save errors.
func TestFlaw2StoreErrorIsNotAFreshSession(t *testing.T) {
	outage := errors.New("connection refused")
	t.Run("Load error answers 503 and leaves the cookie", func(t *testing.T) {
		store := newMemStore()
		m := newTestManager(t, WithStore(store))
		called := false
		h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
		c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
		store.loadErr = outage
		rec := serve(h, "/", c)
		if rec.Code != http.StatusServiceUnavailable || called || rec.Body.String() != "Service Unavailable\n" {
			t.Errorf("code %d, handler called %v; want 503 and not called", rec.Code, called)
		}
		if len(rec.Result().Cookies()) != 0 {
			t.Errorf("cookie overwritten: %v", rec.Result().Cookies())
		}
		if _, saves, _ := store.counts(); saves != 1 {
			t.Errorf("saves = %d, want only the first", saves)
		}
	})
	t.Run("Load returns the error", func(t *testing.T) {
		store := newMemStore()
		m := newTestManager(t, WithStore(store))
		store.loadErr = outage
		req := httpRequestWithCookie("sessionx", strings.Repeat("A", 22))
		sess, err := m.Load(req)
		if sess != nil || !errors.Is(err, outage) {
			t.Errorf("Load = %v, %v; want nil and the store error", sess, err)
		}
		var se *SessionError
		if !errors.As(err, &se) || se.Op != "Load" {
			t.Errorf("error %v is not a *SessionError for Load", err)
		}
	})
	t.Run("not found is a fresh session", func(t *testing.T) {
		m := newTestManager(t, WithStore(newMemStore()))
		sess, err := m.Load(httpRequestWithCookie("sessionx", strings.Repeat("B", 22)))
		if err != nil || sess == nil || len(sess.Data) != 0 {
			t.Errorf("Load = %v, %v; want a fresh session", sess, err)
		}
	})
	t.Run("custom error handler gets Save errors before the response", func(t *testing.T) {
		store := newMemStore()
		var got error
		m := newTestManager(t, WithStore(store), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "try later", http.StatusTeapot)
		}))
		store.saveErr = outage
		rec := serve(appMux(m), "/set?k=a&v=1")
		if !errors.Is(got, outage) || rec.Code != http.StatusTeapot || rec.Body.String() != "try later\n" {
			t.Errorf("handler err %v, code %d, body %q", got, rec.Code, rec.Body.String())
		}
		if sessionCookie(rec) != nil {
			t.Error("a cookie was set for a session that was not saved")
		}
	})
	t.Run("delete error of a rotation reaches the handler", func(t *testing.T) {
		store := newMemStore()
		var got error
		m := newTestManager(t, WithStore(store), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		h := appMux(m)
		c := sessionCookie(serve(h, "/set?k=a&v=1"))
		store.delErr = outage
		rec := serve(h, "/login", c)
		if !errors.Is(got, outage) || rec.Code != http.StatusServiceUnavailable {
			t.Errorf("handler err %v, code %d", got, rec.Code)
		}
	})
}

// sessionx sends the cookie value to the store unchecked.
func TestFlaw3MalformedIDNeverReachesStore(t *testing.T) {
	values := []string{
		strings.Repeat("A", 21),
		strings.Repeat("A", 23),
		strings.Repeat("A", 4096),
		strings.Repeat("A", 21) + "=",
		strings.Repeat("A", 21) + ".",
		strings.Repeat("A", 20) + "*x",
		"../../etc/passwd",
		"sessionx:*",
	}
	for _, v := range values {
		t.Run(fmt.Sprintf("%.30q", v), func(t *testing.T) {
			store := newMemStore()
			m := newTestManager(t, WithStore(store))
			sess, err := m.Load(httpRequestWithCookie("sessionx", v))
			if err != nil || sess == nil {
				t.Fatalf("Load = %v, %v", sess, err)
			}
			if loads, _, _ := store.counts(); loads != 0 {
				t.Errorf("store saw %d loads for a malformed ID", loads)
			}
			if sess.ID == v || !validID(sess.ID) {
				t.Errorf("fresh session ID %q", sess.ID)
			}
		})
	}
}

// An attacker-chosen ID (well-formed, unknown to the store) is not adopted.
func TestFlaw4AttackerChosenIDNotAdopted(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	planted := "attackerchosenID012345"
	rec := serve(appMux(m), "/set?k=user&v=victim", &http.Cookie{Name: "sessionx", Value: planted})
	c := sessionCookie(rec)
	if c == nil || c.Value == planted || !validID(c.Value) {
		t.Fatalf("cookie = %v, want a new random ID", c)
	}
	if store.has(planted) {
		t.Error("session saved under the planted ID")
	}
	if store.loadedIDs[0] != planted {
		t.Errorf("loaded %v", store.loadedIDs)
	}
}

// sessionx saves (and sets a cookie for) every session on every request.
func TestFlaw5UntouchedSessionsAreNotWritten(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	h := appMux(m)
	for i := range 10000 {
		rec := serve(h, "/none")
		if len(rec.Result().Cookies()) != 0 {
			t.Fatalf("request %d set a cookie", i)
		}
	}
	if loads, saves, deletes := store.counts(); loads+saves+deletes != 0 {
		t.Fatalf("store calls for 10000 cookieless requests: %d loads, %d saves, %d deletes", loads, saves, deletes)
	}
	if n := m.sessions.len(); n != 0 {
		t.Errorf("%d sessions still tracked", n)
	}

	c := sessionCookie(serve(h, "/set?k=a&v=1"))
	for range 100 {
		if rec := serve(h, "/get?k=a", c); sessionCookie(rec) != nil {
			t.Fatal("a read-only request set the cookie")
		}
	}
	if _, saves, _ := store.counts(); saves != 1 {
		t.Errorf("saves = %d after one change and 100 reads, want 1", saves)
	}
}

// Changes are saved before the first byte, found without the handler
// saying so, including changes deep inside Data.
func TestFlaw5ChangesSavedBeforeFirstByte(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	var savesAtWrite int
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := Get(r)
		cart, _ := sess.Data["cart"].(map[string]interface{})
		if cart == nil {
			cart = map[string]interface{}{}
			sess.Data["cart"] = cart
		}
		cart["apples"] = 3.0 // in place: the handler never reassigns Data
		w.Write([]byte("x"))
		_, savesAtWrite, _ = store.counts()
	}))
	rec := serve(h, "/", c)
	if savesAtWrite != 2 {
		t.Errorf("saves when the first byte was written = %d, want 2", savesAtWrite)
	}
	if sessionCookie(rec) == nil {
		t.Error("no cookie on the response that saved")
	}
	// Same change again: nothing to write.
	serve(h, "/", c)
	if _, saves, _ := store.counts(); saves != 2 {
		t.Errorf("saves = %d after an idempotent change, want 2", saves)
	}
}

// sessionx's Destroy neither deletes from the store nor keeps the cookie's
// Domain, Secure and SameSite.
func TestFlaw6DestroyDeletesAndClearsTheSameCookie(t *testing.T) {
	store := newMemStore()
	m, err := NewManager(DefaultConfig(testKey, WithStore(store), WithDomain("example.com"),
		WithPath("/app"), WithSameSite("Strict")))
	if err != nil {
		t.Fatal(err)
	}
	h := appMux(m)
	set := sessionCookie(serve(h, "/set?k=a&v=1"))
	rec := serve(h, "/logout", set)
	if rec.Body.String() != "bye" {
		t.Fatalf("logout: %d %q", rec.Code, rec.Body.String())
	}
	if store.has(set.Value) {
		t.Error("session still in the store after Destroy")
	}
	gone := sessionCookie(rec)
	if gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
		t.Fatalf("expiring cookie = %v", gone)
	}
	if gone.Domain != set.Domain || gone.Path != set.Path || gone.Secure != set.Secure || gone.SameSite != set.SameSite || gone.HttpOnly != set.HttpOnly {
		t.Errorf("expiring cookie %v does not match %v", gone, set)
	}

	set = sessionCookie(serve(h, "/set?k=a&v=1"))
	store.delErr = errors.New("redis down")
	if rec := serve(h, "/logout", set); rec.Code != http.StatusInternalServerError {
		t.Errorf("Destroy with a failing store: code %d, want the handler to see the error", rec.Code)
	}
}

// sessionx has no absolute timeout: an active session lives forever.
func TestFlaw7AbsoluteTimeout(t *testing.T) {
	clock := useFakeClock(t)
	store := newMemStore()
	ts := ttlStore{&ctxStore{memStore: store}}
	m := newTestManager(t, WithStore(ts), WithMaxAge(time.Hour), WithAbsoluteTimeout(90*time.Minute),
		WithRotationInterval(0))
	h := appMux(m)

	c := sessionCookie(serve(h, "/set?k=n&v=1"))
	if got := store.ttls[c.Value]; got != time.Hour {
		t.Errorf("first TTL = %v, want MaxAge 1h", got)
	}
	if c.MaxAge != 3600 {
		t.Errorf("cookie Max-Age = %d, want 3600", c.MaxAge)
	}
	clock.Advance(50 * time.Minute)
	rec := serve(h, "/set?k=n&v=2", c)
	if got := store.ttls[c.Value]; got != 40*time.Minute {
		t.Errorf("TTL 50m in = %v, want the 40m left of the absolute timeout", got)
	}
	if got := sessionCookie(rec); got == nil || got.MaxAge != 2400 {
		t.Errorf("cookie 50m in = %v, want Max-Age 2400", got)
	}
	clock.Advance(45 * time.Minute) // 95m after creation, 45m idle
	if got := serve(h, "/get?k=n", c).Body.String(); got != "<nil>" {
		t.Errorf("session past its absolute timeout still loads: %q", got)
	}
	if store.has(c.Value) {
		t.Error("expired session not deleted")
	}

	// Zero keeps sessionx's behaviour: the store's own TTL (plain Save).
	m0 := newTestManager(t, WithStore(ts))
	c0 := sessionCookie(serve(appMux(m0), "/set?k=n&v=1"))
	if got := store.ttls[c0.Value]; got != 0 {
		t.Errorf("TTL without absolute timeout = %v, want the store's own", got)
	}
}

// sessionx sets the cookie on responses a shared cache may store.
func TestFlaw8CacheHeadersWhenSettingCookie(t *testing.T) {
	m := newTestManager(t, WithStore(newMemStore()))
	h := appMux(m)
	rec := serve(h, "/set?k=a&v=1")
	if sessionCookie(rec) == nil {
		t.Fatal("no cookie")
	}
	if !headerHas(rec.Header(), "Vary", "Cookie") {
		t.Errorf("Vary = %q", rec.Header().Values("Vary"))
	}
	if !headerHas(rec.Header(), "Cache-Control", `no-cache="Set-Cookie"`) {
		t.Errorf("Cache-Control = %q", rec.Header().Values("Cache-Control"))
	}
	rec = serve(h, "/none")
	if rec.Header().Get("Cache-Control") != "" {
		t.Errorf("Cache-Control on a response without a cookie: %q", rec.Header().Get("Cache-Control"))
	}
}

// sessionx ignores crypto/rand failures and hands out a zero ID.
func TestFlaw9RandomFailureIsAnError(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	failRandom(t)

	if _, err := m.Load(httpRequestWithCookie("x", "y")); !errors.Is(err, ErrRandomFailed) {
		t.Errorf("Load without cookie: %v, want ErrRandomFailed", err)
	}
	sess := m.New()
	sess.Data["a"] = 1
	if err := m.Save(discardWriter{}, sess); !errors.Is(err, ErrRandomFailed) {
		t.Errorf("Save of New: %v", err)
	}
	rec := serve(appMux(m), "/login", c)
	if rec.Code != http.StatusServiceUnavailable || sessionCookie(rec) != nil {
		t.Errorf("login with a failing source: code %d cookie %v", rec.Code, sessionCookie(rec))
	}
	if _, saves, _ := store.counts(); saves != 1 {
		t.Errorf("saves = %d, want none after the failure", saves)
	}
	if !store.has(c.Value) {
		t.Error("session lost")
	}
	sealed := newTestManager(t)
	if err := sealed.Save(discardWriter{}, &Session{ID: c.Value, Data: map[string]interface{}{"a": 1}}); !errors.Is(err, ErrEncryptionFailed) || !errors.Is(err, ErrRandomFailed) {
		t.Errorf("sealing without randomness: %v", err)
	}
}

// The request's context reaches a ContextStore on Load, Save and Delete.
func TestContextPassedToStore(t *testing.T) {
	type key struct{}
	store := &ctxStore{memStore: newMemStore()}
	m := newTestManager(t, WithStore(store))
	h := appMux(m)
	do := func(path string, c *http.Cookie) *http.Cookie {
		req := httpRequestWithCookie("", "")
		req.URL.Path, req.URL.RawQuery, _ = strings.Cut(path, "?")
		req = req.WithContext(context.WithValue(req.Context(), key{}, path))
		if c != nil {
			req.AddCookie(c)
		}
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		return sessionCookie(rec)
	}
	c := do("/set?k=a&v=1", nil)
	do("/login", c)
	if len(store.ctxs) != 4 { // save; load, save, delete
		t.Fatalf("%d context calls, want 4", len(store.ctxs))
	}
	for i, ctx := range store.ctxs {
		if ctx.Value(key{}) == nil {
			t.Errorf("call %d got a context without the request's values", i)
		}
	}
}
