package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Findings of the concurrency review of conditional saves (issue 18): each
// test here fails on the code under review. See attack_concurrency_held_test.go
// for the scenarios that held up.

// newAttackApp is newApp with the manager saving to store (a wrapper of the
// app's RedisStore, or the RedisStore itself when nil) and with h serving
// the app's routes plus the extra ones given.
func newAttackApp(t *testing.T, srv *redisserver.Server, wrap func(*RedisStore) session.Store, extra map[string]func(a *app, w http.ResponseWriter, r *http.Request), cfg ...session.ConfigOption) *app {
	t.Helper()
	a := &app{t: t, s: openStore(t, Options{Addr: srv.Addr})}
	var store session.Store = a.s
	if wrap != nil {
		store = wrap(a.s)
	}
	cfg = append([]session.ConfigOption{session.WithStore(store)}, cfg...)
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"), cfg...))
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.h = m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := extra[r.URL.Path]; ok {
			if a.gate != nil {
				a.gate(r)
			}
			f(a, w, r)
			return
		}
		a.serve(w, r)
	}))
	return a
}

// rawServe sends one request with cookie id and returns the recorder and
// the session cookie it sets ("" none, "-" cleared), whatever the status.
func (a *app) rawServe(ctx context.Context, id, target string) (*httptest.ResponseRecorder, string) {
	r := httptest.NewRequestWithContext(ctx, "GET", target, nil)
	if id != "" {
		r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	set := ""
	for _, c := range w.Result().Cookies() {
		if c.Name == "sessionx" {
			set = c.Value
			if c.MaxAge < 0 {
				set = "-"
			}
		}
	}
	return w, set
}

// Finding 1: a logout loaded before an automatic rotation of the same
// session, and ending after it, deletes the old ID only: the rotation's new
// ID, which the parallel request's response sent to the browser, keeps the
// logged-in session alive.
func TestAttackConcurrencyDestroyRacingAutoRotationLeavesNewIDAlive(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due (15m)

	loaded := make(chan struct{})
	release := make(chan struct{})
	a.gate = func(r *http.Request) {
		if r.URL.Path == "/logout" {
			close(loaded)
			<-release
		}
	}
	defer func() { a.gate = nil }()
	done := make(chan string)
	go func() {
		_, set := a.do(context.Background(), id, "/logout")
		done <- set
	}()
	<-loaded
	// Another request of the page (an XHR, an image) finds the rotation due.
	_, next := a.do(context.Background(), id, "/read")
	if next == "" || next == id {
		t.Fatalf("the parallel request did not rotate: cookie %q", next)
	}
	close(release)
	if set := <-done; set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	a.gate = nil
	if data := a.data(next); data != nil {
		t.Errorf("after the logout the rotated ID %s still holds the session %v", next, data)
	}
	if w, _ := a.do(context.Background(), next, "/read"); strings.Contains(w.Body.String(), "alice") {
		t.Errorf("after the logout the rotated cookie reads %q", w.Body)
	}
}

// The same root cause without a race: Destroy outside the middleware (or
// with a request the manager has not loaded) deletes only the cookie's ID,
// which is a marker after an automatic rotation; the session it forwards
// to survives the logout.
func TestAttackConcurrencyDestroyOfForwardingIDOutsideMiddlewareLeavesTarget(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	_, next := a.do(context.Background(), id, "/read")
	if next == "" || next == id {
		t.Fatalf("no rotation: cookie %q", next)
	}
	// The browser never got the new cookie (the response was lost) and
	// logs out with the old one, on a route without the middleware.
	r := httptest.NewRequest("GET", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	if err := a.m.Destroy(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	if data := a.data(next); data != nil {
		t.Errorf("Destroy with the old cookie left the session it forwards to: %v", data)
	}
}

// Finding 2: two parallel requests carrying the same sealed cookie under
// WithCookieMigration each migrate it to a different new ID: the session
// forks, one request's change is lost (the browser keeps one cookie), and
// the other copy stays in Redis for its whole TTL.
func TestAttackConcurrencyCookieMigrationParallelRequestsFork(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	key := []byte("0123456789abcdef")
	sealed, err := session.NewManager(session.DevConfig(key))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	sealed.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.Get(r).Data["user"] = "alice"
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookie := rec.Result().Cookies()[0].Value

	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	set := a.parallel(2, cookie, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	if set[0] != set[1] {
		t.Errorf("one sealed session migrated to two IDs: %q", set)
	}
	for _, id := range set {
		if data := a.data(id); data["k0"] != "v" || data["k1"] != "v" {
			t.Errorf("session %s = %v, want both requests' keys", id, data)
		}
	}
	if n := dbsize(t, srv.Addr); n != 1 {
		t.Errorf("%d sessions in Redis after migrating one", n)
	}
}

// flashRoutes: /flash?k=v adds a flash; /flashes consumes them all and
// prints them; /pref?k=v sets a key of the nested map "prefs" in place.
var flashRoutes = map[string]func(a *app, w http.ResponseWriter, r *http.Request){
	"/flash": func(a *app, w http.ResponseWriter, r *http.Request) {
		for k, v := range r.URL.Query() {
			session.Get(r).AddFlash(k, v[0])
		}
	},
	"/flashes": func(a *app, w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.Get(r).GetFlashes())
	},
	"/pref": func(a *app, w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		prefs, _ := sess.Data["prefs"].(map[string]interface{})
		if prefs == nil {
			prefs = map[string]interface{}{}
			sess.Data["prefs"] = prefs
		}
		for k, v := range r.URL.Query() {
			prefs[k] = v[0]
		}
	},
}

// Finding 3: flashes live in one Data key, so two parallel requests that
// each add a flash (a form POST and an XHR, say) conflict on "_flashes" and
// the later save drops the other's flash; a request consuming the flashes
// while another adds one either drops the new one or shows the consumed
// one again. The same holds for any nested map changed in place.
func TestAttackConcurrencyParallelFlashesAreLost(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newAttackApp(t, srv, nil, flashRoutes)
	id := a.login("alice")

	t.Run("two adds", func(t *testing.T) {
		a.t = t
		a.parallel(2, id, func(i int) string { return "/flash?f" + strconv.Itoa(i) + "=hello" })
		flashes, _ := a.data(id)["_flashes"].(map[string]interface{})
		if flashes["f0"] != "hello" || flashes["f1"] != "hello" {
			t.Errorf("flashes stored: %v, want f0 and f1", flashes)
		}
		a.do(context.Background(), id, "/flashes") // consume
	})
	t.Run("add while consuming", func(t *testing.T) {
		a.t = t
		a.do(context.Background(), id, "/flash?old=1")
		// The consumer saves first, then the adder: "old" is shown by the
		// consumer and must not come back.
		consumed := make(chan struct{})
		b := newBarrier(2)
		a.gate = func(r *http.Request) {
			b.wait()
			if r.URL.Path == "/flash" {
				<-consumed
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			a.do(context.Background(), id, "/flashes")
			close(consumed)
		})
		wg.Go(func() { a.do(context.Background(), id, "/flash?new=1") })
		b.open()
		wg.Wait()
		a.gate = nil
		flashes, _ := a.data(id)["_flashes"].(map[string]interface{})
		if _, again := flashes["old"]; again || flashes["new"] != "1" {
			t.Errorf("flashes after consume || add: %v, want only new", flashes)
		}
	})
	t.Run("nested map in place", func(t *testing.T) {
		a.t = t
		a.parallel(2, id, func(i int) string { return "/pref?p" + strconv.Itoa(i) + "=x" })
		prefs, _ := a.data(id)["prefs"].(map[string]interface{})
		if prefs["p0"] != "x" || prefs["p1"] != "x" {
			t.Errorf("prefs = %v, want p0 and p1", prefs)
		}
	})
}

// Finding 4: "logout always happens" holds only once the middleware has
// loaded the session. A client that hangs up right after sending the
// logout (closes the tab) cancels the request's context; when that happens
// before the middleware's Load, Load fails with the context's error, the
// error handler answers and the handler, hence Destroy, never runs.
func TestAttackConcurrencyLogoutWhoseClientHungUpBeforeLoadKeepsSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone by the time the server reads the request
	w, _ := a.rawServe(ctx, id, "/logout")
	if a.data(id) != nil {
		t.Errorf("the session outlived a logout whose client hung up early (status %d %q)", w.Code, strings.TrimSpace(w.Body.String()))
	}
}

// flakyRetire is the app's store with Retire failing (a timeout) while
// fail > 0.
type flakyRetire struct {
	*RedisStore
	fail atomic.Int32
}

func (s *flakyRetire) Retire(ctx context.Context, id string, version []byte, m session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	if s.fail.Add(-1) >= 0 {
		return session.Stored{}, false, errors.New("i/o timeout")
	}
	return s.RedisStore.Retire(ctx, id, version, m, ttl)
}

// Finding 5: an explicit rotation whose Retire fails (a transient error)
// has already created the new ID; the next save of the same session (the
// middleware's, after the handler's own Save reported the error) tries to
// create it again and fails for good with "new session ID already in use",
// a 503, and the logged-in copy stays orphaned in Redis.
func TestAttackConcurrencyExplicitRotateRetryAfterFailedRetire(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var store *flakyRetire
	var saveErr error
	a := newAttackApp(t, srv, func(s *RedisStore) session.Store {
		store = &flakyRetire{RedisStore: s}
		return store
	}, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/login-save": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			a.m.Rotate(sess)
			sess.Data["user"] = "alice"
			saveErr = a.m.Save(w, sess) // sessionx style; the error is logged, the middleware saves again
			fmt.Fprint(w, "welcome")
		},
	})
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	store.fail.Store(1)
	w, post := a.rawServe(context.Background(), pre, "/login-save")
	if saveErr == nil {
		t.Fatal("the handler's Save did not see the failing Retire")
	}
	if w.Code != http.StatusOK || post == "" || post == pre {
		t.Errorf("the middleware's retry of the login: %d %q, cookie %q (handler's Save: %v)", w.Code, strings.TrimSpace(w.Body.String()), post, saveErr)
	}
}

// Finding 6: the grace is judged by comparing this server's clock with the
// marker's time, written by the server that rotated. The package tolerates
// a minute of skew between servers (maxClockSkew), the grace is 30s: a
// server whose clock is 31s ahead of the rotating one treats a marker
// written a moment ago as stale, reports a stolen cookie to the stale
// handler and hands a parallel request of the page a fresh session. The
// marker's PTTL, which LoadVersion reads anyway, says its age without any
// clock.
func TestAttackConcurrencyFreshMarkerFromSkewedServerIsStale(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var stale atomic.Int32
	a := newApp(t, Options{Addr: srv.Addr}, session.WithStaleIDHandler(func(*http.Request) { stale.Add(1) }))
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	_, next := a.do(context.Background(), id, "/read")
	if next == "" || next == id {
		t.Fatalf("no rotation: %q", next)
	}
	// The rotation above, as written by a server whose clock is 31s behind
	// this one (the marker was just written: its TTL is whole).
	got, _ := a.s.LoadVersion(context.Background(), id)
	skewed := time.Now().Add(-31 * time.Second).UnixMilli()
	rawDo(t, srv.Addr, "SET", "sessionx:"+id, "!moved:"+next+":"+strconv.FormatInt(skewed, 10),
		"PX", strconv.FormatInt(got.TTL.Milliseconds(), 10))
	w, set := a.do(context.Background(), id, "/read")
	if !strings.Contains(w.Body.String(), "alice") || set != next || stale.Load() != 0 {
		t.Errorf("a request sent with the old cookie a moment after the rotation read %q, cookie %q, stale reports %d", w.Body, set, stale.Load())
	}
}
