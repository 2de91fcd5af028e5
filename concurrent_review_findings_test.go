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
// test here failed on the code under review (7763bba, and 3340b9c for the
// ones it introduced); those that 8a77dcb fixed pass since and stay as
// regression tests. See attack_concurrency_held_test.go for the scenarios
// that held up, attack_concurrency_migration_test.go for the migration
// findings on the derived IDs of 8a77dcb.

// newConcApp is newApp with the manager saving to store (a wrapper of the
// app's RedisStore, or the RedisStore itself when nil) and with h serving
// the app's routes plus the extra ones given.
func newConcApp(t *testing.T, srv *redisserver.Server, wrap func(*RedisStore) session.Store, extra map[string]func(a *app, w http.ResponseWriter, r *http.Request), cfg ...session.ConfigOption) *app {
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

// Finding 1: a logout loaded before an automatic rotation of the same
// session, and ending after it, deletes the old ID only: the rotation's new
// ID, which the parallel request's response sent to the browser, keeps the
// logged-in session alive.
func TestAttackConcurrencyDestroyRacingAutoRotationLeavesNewIDAlive(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due (15m)

	logout := a.hold(id, "/logout")
	// Another request of the page (an XHR, an image) finds the rotation due.
	_, next := a.do(context.Background(), id, "/read")
	if next == "" || next == id {
		t.Fatalf("the parallel request did not rotate: cookie %q", next)
	}
	if set := logout.finish(); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
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
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})

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

// concFlashRoutes: /flash?k=v adds a flash; /flashes consumes them all and
// prints them; /pref?k=v sets a key of the nested map "prefs" in place.
var concFlashRoutes = map[string]func(a *app, w http.ResponseWriter, r *http.Request){
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
// one again.
func TestAttackConcurrencyParallelFlashesAreLost(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newConcApp(t, srv, nil, concFlashRoutes)
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
}

// concFlakyRetire is the app's store with Retire failing (a timeout) while
// fail > 0.
type concFlakyRetire struct {
	*RedisStore
	fail atomic.Int32
}

func (s *concFlakyRetire) Retire(ctx context.Context, id string, version []byte, m session.Marker, ttl time.Duration) (session.Stored, bool, error) {
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
	var store *concFlakyRetire
	var saveErr error
	a := newConcApp(t, srv, func(s *RedisStore) session.Store {
		store = &concFlakyRetire{RedisStore: s}
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
	w, post := a.request(context.Background(), pre, "/login-save")
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

// Finding 7: a response can carry the cookie of a session that ended. The
// handler's own Save (sessionx style) sets the cookie (the idle refresh
// was due, or the request came through a forwarding marker); the session then
// ends (another request logs in and retires the ID); the middleware's save
// reports ErrSessionEnded and drops the changes, but the earlier
// Set-Cookie stays in the response. Arriving after the login's response,
// it replaces the logged-in cookie with the retired ID: the user is logged
// out again (and, after the grace, reported as a stale ID).
func TestAttackConcurrencyEndedSessionKeepsEarlierSetCookie(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	saved := make(chan struct{})
	release := make(chan struct{})
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/save-twice": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			sess.Data["a"] = "1"
			if err := a.m.Save(w, sess); err != nil {
				t.Errorf("first Save: %v", err)
			}
			close(saved)
			<-release
			sess.Data["b"] = "2"
			err := a.m.Save(w, sess)
			if !errors.Is(err, session.ErrSessionEnded) {
				t.Errorf("second Save = %v, want ErrSessionEnded", err)
			}
			fmt.Fprint(w, "ok")
		},
	}, session.WithMaxAge(time.Hour))
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	// The idle refresh is due (a tenth of MaxAge has run out), so the
	// first save sends the cookie.
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+pre, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
	done := make(chan string)
	go func() {
		_, set := a.do(context.Background(), pre, "/save-twice")
		done <- set
	}()
	<-saved
	_, post := a.do(context.Background(), pre, "/login?user=alice")
	if post == "" || post == pre {
		t.Fatalf("login set %q", post)
	}
	close(release)
	if set := <-done; set != "" {
		t.Errorf("the response of a session that ended sets cookie %q (the retired ID; login's is %q)", set, post)
	}
}

// Finding 8: a conflicting save replaces sess.Data with a new map (rebase:
// sess.Data = base.Data). A handler holding the map it got (data :=
// sess.Data), which was the only map of the session until now, keeps
// writing into the old one after a Save or after the response started:
// those writes are silently lost, since the session the manager compares
// no longer holds them.
func TestAttackConcurrencyRebaseDetachesHandlersDataMap(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	pDone := make(chan struct{})
	for _, tc := range []struct {
		name string
		save func(a *app, w http.ResponseWriter, r *http.Request)
	}{
		{"handler Save", func(a *app, w http.ResponseWriter, r *http.Request) {
			if err := a.m.Save(w, session.Get(r)); err != nil {
				t.Errorf("Save: %v", err)
			}
		}},
		{"response started", func(a *app, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK) // the middleware saves here
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pDone = make(chan struct{})
			a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
				"/captured": func(a *app, w http.ResponseWriter, r *http.Request) {
					data := session.Get(r).Data
					data["first"] = "1"
					<-pDone // another request of the session saved meanwhile
					tc.save(a, w, r)
					data["second"] = "2"
				},
			})
			id := a.login("alice")
			a.pair(id, "/captured", "/set?other=1", pDone)
			data := a.data(id)
			if data["first"] != "1" || data["second"] != "2" || data["other"] != "1" {
				t.Errorf("stored %v, want first, second and other", data)
			}
		})
	}
}

// Finding 9: with MaxAge 0 (no idle timeout, a browser-session cookie) and
// no automatic rotation, nothing ever extends a session's TTL in Redis:
// it gets the store's TTL (Options.TTL, 24h) when created, every later
// write keeps what remains of it (KeepTTL) and the idle refresh needs
// MaxAge > 0. An active user is logged out 24h after the session was
// created, however much it is used; before conditional saves every write
// set the store's TTL again.
func TestAttackConcurrencyMaxAgeZeroActiveSessionExpiresAtStoreTTL(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(0), session.WithRotationInterval(0))
	_, id := a.do(context.Background(), "", "/set?x=1")
	if id == "" {
		t.Fatal("no session")
	}
	// A day of use later: one second of the store's TTL is left.
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, "1000")
	a.do(context.Background(), id, "/set?y=2")
	a.do(context.Background(), id, "/incr")
	a.do(context.Background(), id, "/read")
	if ttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+id).Int; ttl < int64(time.Minute/time.Millisecond) {
		t.Errorf("a session written and read just now expires in %d ms (MaxAge 0: no idle timeout)", ttl)
	}
}

// Finding 8b: with sess.Data kept as the same map on a conflict, a nested
// map the handler holds (cart := sess.Data["cart"]) is still detached: the
// rebase puts the stored copy of every key the request did not change in
// its place, so the handler's later writes into its map go nowhere, even
// when no other request touched that key.
func TestAttackConcurrencyRebaseDetachesHandlersNestedMap(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	pDone := make(chan struct{})
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/cart": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			cart := sess.Data["prefs"].(map[string]interface{})
			sess.Data["seen"] = "1"
			<-pDone                                   // another request of the session saved another key meanwhile
			if err := a.m.Save(w, sess); err != nil { // conflict: rebased
				t.Errorf("Save: %v", err)
			}
			cart["late"] = "1"
		},
		"/pref": concFlashRoutes["/pref"],
	})
	id := a.login("alice")
	a.do(context.Background(), id, "/pref?a=1")
	a.pair(id, "/cart", "/set?other=1", pDone)
	prefs, _ := a.data(id)["prefs"].(map[string]interface{})
	if prefs["late"] != "1" || a.data(id)["other"] != "1" {
		t.Errorf("stored %v, want prefs.late and other", a.data(id))
	}
}

// Documented behaviour (guarantee 1, "same key: later save wins"): two
// requests changing different entries of one nested map in place are two
// changes of one top-level key, and the later save wins; only flashes are
// merged one level deeper. Each request's own entry survives whole, never
// a mix of the two, and the other top-level keys are kept.
func TestAttackConcurrencyNestedMapInPlaceLaterSaveWins(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newConcApp(t, srv, nil, concFlashRoutes)
	id := a.login("alice")
	a.parallel(2, id, func(i int) string { return "/pref?p" + strconv.Itoa(i) + "=x" })
	prefs, _ := a.data(id)["prefs"].(map[string]interface{})
	if len(prefs) != 1 || prefs["p0"] != "x" && prefs["p1"] != "x" {
		t.Errorf("prefs = %v, want one request's entry", prefs)
	}
	if a.data(id)["user"] != "alice" {
		t.Errorf("session = %v", a.data(id))
	}
}

// Finding 12: a value under the session's key that is neither a session nor
// a marker, written while a request holds the session (a foreign writer, a
// marker of a newer version during a rolling deploy), fails the request's
// save with ErrInvalidSession: 503, where the session has simply ended.
func TestAttackConcurrencyForeignValueMidRequestIs503(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for _, v := range []string{"!moved:ZZZZZZZZZZZZZZZZZZZZZZ:" + now, "!garbage", "!moved:ZZZZZZZZZZZZZZZZZZZZZZ", "!ended:" + now} {
		id := a.login("carol")
		a.gate = func(r *http.Request) {
			rawDo(t, srv.Addr, "SET", "sessionx:"+id, strings.ReplaceAll(v, "ZZZZZZZZZZZZZZZZZZZZZZ", id), "EX", "60")
		}
		w, set := a.request(context.Background(), id, "/set?k=v")
		a.gate = nil
		if w.Code != http.StatusOK || set != "" {
			t.Errorf("%q written during the request: %d %q, cookie %q", v, w.Code, strings.TrimSpace(w.Body.String()), set)
		}
		if got := rawDo(t, srv.Addr, "GET", "sessionx:"+id).Str; strings.HasPrefix(got, "{") {
			t.Errorf("%q: the request wrote the session back: %s", v, got)
		}
	}
}

// concFailTouch is the app's store with TouchVersion failing while fail > 0
// (a client that hung up right after the rotation's Retire: the request's
// context is cancelled).
type concFailTouch struct {
	*RedisStore
	fail atomic.Int32
}

func (s *concFailTouch) TouchVersion(ctx context.Context, id string, version []byte, ttl time.Duration) (session.Stored, bool, error) {
	if s.fail.Add(-1) >= 0 {
		return session.Stored{}, false, context.Canceled
	}
	return s.RedisStore.TouchVersion(ctx, id, version, ttl)
}

// Finding 13: a rotation writes the new ID with a one-minute TTL (pending)
// and gives it the session's lifetime with a TouchVersion after the
// Retire, on the request's context. When that touch fails (the client hung
// up just then), the comment counts on the next request's idle refresh;
// with MaxAge 0 there is none (touchDue needs MaxAge > 0), so the
// logged-in session dies a minute after the login however much it is read.
func TestAttackConcurrencyRotationTouchLostWithMaxAgeZeroLeavesOneMinute(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var store *concFailTouch
	a := newConcApp(t, srv, func(s *RedisStore) session.Store {
		store = &concFailTouch{RedisStore: s}
		return store
	}, nil, session.WithMaxAge(0), session.WithRotationInterval(0))
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	store.fail.Store(1)
	_, post := a.do(context.Background(), pre, "/login?user=alice")
	if post == "" || post == pre {
		t.Fatalf("login set %q", post)
	}
	for range 3 {
		a.do(context.Background(), post, "/read")
	}
	if ttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+post).Int; ttl <= int64(time.Minute/time.Millisecond) {
		t.Errorf("the logged-in session, read just now, expires in %d ms", ttl)
	}
}
