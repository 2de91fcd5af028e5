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

// Scenarios of the concurrency review (issue 18) that held up on the code
// under review: they pass, and guard the guarantees they exercise.

// concHookStore is the app's store with a hook run before each Retire.
type concHookStore struct {
	*RedisStore
	beforeRetire atomic.Pointer[func(id string, m session.Marker)]
}

func (s *concHookStore) Retire(ctx context.Context, id string, version []byte, m session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	if f := s.beforeRetire.Load(); f != nil {
		(*f)(id, m)
	}
	return s.RedisStore.Retire(ctx, id, version, m, ttl)
}

func (s *concHookStore) hook(f func(id string, m session.Marker)) { s.beforeRetire.Store(&f) }

// concReads reports what a request with cookie id reads and the cookie it
// gets.
func (a *app) concReads(id string) (string, string) {
	a.t.Helper()
	w, set := a.do(context.Background(), id, "/read")
	return w.Body.String(), set
}

// An explicit Rotate (login) racing an automatic rotation, in both orders
// inside the rotation (the other one completes between this one's write of
// its new ID and its Retire): the old IDs never lead to the logged-in
// session, the logged-in session keeps the pre-login data, nothing is left
// behind but markers.
func TestAttackConcurrencyHeldLoginRacingAutoRotation(t *testing.T) {
	for _, loginFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("login pauses=%v", !loginFirst), func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{})
			var hs *concHookStore
			a := newConcApp(t, srv, func(s *RedisStore) session.Store { hs = &concHookStore{RedisStore: s}; return hs }, nil)
			_, pre := a.do(context.Background(), "", "/set?cart=1")
			backdate(t, a, pre, 20*time.Minute)

			// Both load the pre-login session before either saves; one
			// pauses just before its Retire, the other then runs to the
			// end, then the first resumes.
			second := "/login"
			if !loginFirst {
				second = "/set"
			}
			b := newBarrier(2)
			paused := make(chan struct{})
			resume := make(chan struct{})
			a.gate = func(r *http.Request) {
				b.wait()
				if r.URL.Path == second {
					<-paused
				}
			}
			var once sync.Once
			hs.hook(func(id string, m session.Marker) {
				explicit := m.MovedTo == ""
				if id == pre && explicit != loginFirst {
					once.Do(func() { close(paused); <-resume })
				}
			})
			var login, auto string
			var wg sync.WaitGroup
			wg.Go(func() {
				_, login = a.do(context.Background(), pre, "/login?user=alice")
				if second == "/login" {
					close(resume)
				}
			})
			wg.Go(func() {
				_, auto = a.do(context.Background(), pre, "/set?theme=dark")
				if second == "/set" {
					close(resume)
				}
			})
			b.open()
			wg.Wait()
			a.gate = nil
			hs.hook(func(string, session.Marker) {})
			t.Logf("pre %s login %s auto %s", pre, login, auto)
			if login == "" || login == pre || login == auto {
				t.Fatalf("login cookie %q, auto rotation cookie %q", login, auto)
			}
			if data := a.data(login); data["user"] != "alice" || data["cart"] != "1" {
				t.Errorf("logged-in session = %v", data)
			}
			for _, old := range []string{pre, auto} {
				if old == "" {
					continue
				}
				if body, set := a.concReads(old); strings.Contains(body, "alice") || set == login {
					t.Errorf("old ID %s reads %q, sets %q", old, body, set)
				}
			}
			if body, _ := a.concReads(login); !strings.Contains(body, "user=alice") {
				t.Errorf("logged-in cookie reads %q", body)
			}
		})
	}
}

// Two logins at once from the same pre-login session: one wins, the other
// ends (no cookie, ErrSessionEnded ignored), one logged-in session remains
// and the pre-login ID is retired.
func TestAttackConcurrencyHeldTwoLoginsAtOnce(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	set := a.parallel(2, pre, func(i int) string { return "/login?user=u" + strconv.Itoa(i) })
	var won []string
	for _, s := range set {
		if s != "" {
			won = append(won, s)
		}
	}
	if len(won) != 1 {
		t.Fatalf("cookies set by two logins: %q", set)
	}
	if n := dbsize(t, srv.Addr); n != 2 {
		t.Errorf("%d keys, want the logged-in session and the retired marker", n)
	}
	if got, _ := a.s.LoadVersion(context.Background(), pre); got.Marker == nil || got.Marker.MovedTo != "" {
		t.Errorf("pre-login ID holds %+v", got)
	}
	if body, set := a.concReads(pre); strings.Contains(body, "user=u") || set != "" {
		t.Errorf("pre-login cookie reads %q sets %q", body, set)
	}
}

// A request forwarded through a marker (old cookie X -> Y) changes data
// while a request with Y rotates Y again (-> W): the forwarded request's
// change lands on W, both responses send W, and X -> Y -> W still forwards
// within the grace.
func TestAttackConcurrencyHeldForwardedWriterWhileRotatedAgain(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	x := a.login("alice")
	backdate(t, a, x, 20*time.Minute)
	_, y := a.do(context.Background(), x, "/set?first=1")
	if y == "" || y == x {
		t.Fatalf("no rotation: %q", y)
	}
	backdate(t, a, y, 20*time.Minute) // due again
	b := newBarrier(2)
	a.gate = func(*http.Request) { b.wait() }
	var fromX, fromY string
	var wg sync.WaitGroup
	wg.Go(func() { _, fromX = a.do(context.Background(), x, "/set?fx=1") })
	wg.Go(func() { _, fromY = a.do(context.Background(), y, "/set?fy=1") })
	b.open()
	wg.Wait()
	a.gate = nil
	if fromX == "" || fromX != fromY || fromX == y || fromX == x {
		t.Fatalf("cookies: from X %q, from Y %q (x %s y %s)", fromX, fromY, x, y)
	}
	data := a.data(fromX)
	if data["fx"] != "1" || data["fy"] != "1" || data["first"] != "1" || data["user"] != "alice" {
		t.Errorf("W = %v", data)
	}
	if body, set := a.concReads(x); !strings.Contains(body, "alice") || set != fromX {
		t.Errorf("X reads %q sets %q, want W", body, set)
	}
}

// Hostile or broken values under the cookie's ID: markers that loop, point
// at invalid IDs or at another session, values that are not markers. Each
// request gets a fresh session (no loop, no 503), and a session that turns
// into one of them during a request is not written there.
func TestAttackConcurrencyHeldHostileMarkers(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var stale atomic.Int32
	a := newApp(t, Options{Addr: srv.Addr}, session.WithStaleIDHandler(func(*http.Request) { stale.Add(1) }))
	other := a.login("bob")
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	const x = "XXXXXXXXXXXXXXXXXXXXXX"
	const y = "YYYYYYYYYYYYYYYYYYYYYY"
	values := []string{
		"!moved:" + x + ":" + now, // itself
		"!moved:" + y + ":" + now, // a two-cycle with y below
		"!moved:short:" + now,
		"!moved:" + x + "x:" + now,
		"!moved::" + now,
		"!moved:" + x,
		"!moved:" + x + ":",
		"!moved:a:b:" + now,
		"!retired:",
		"!retired:x",
		"!retired:99999999999999999999",
		"!retired:-9223372036854775808",
		"!moved:" + x + ":9223372036854775807",
		"!",
		"!!",
		"!garbage",
		"",
		"null",
		`{"ID":"` + other + `","Data":{"user":"bob"}}`,
	}
	rawDo(t, srv.Addr, "SET", "sessionx:"+y, "!moved:"+x+":"+now, "EX", "60")
	for _, v := range values {
		rawDo(t, srv.Addr, "SET", "sessionx:"+x, v, "EX", "60")
		w, set := a.do(context.Background(), x, "/set?k=v")
		if strings.Contains(w.Body.String(), "bob") || set == x || set == other {
			t.Errorf("%q: read %q, cookie %q", v, w.Body, set)
		}
	}
	if data := a.data(other); data["k"] != nil {
		t.Errorf("bob's session = %v", data)
	}
}

// A handler that saves itself (sessionx style) and lets the middleware save
// again, with rotation due: one rotation, one new ID, the cookie once, the
// changes made after the handler's Save kept.
func TestAttackConcurrencyHeldSaveTwiceWithRotationDue(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var saveErr error
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/save-twice": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			sess.Data["a"] = "1"
			saveErr = a.m.Save(w, sess)
			sess.Data["b"] = "2"
			fmt.Fprint(w, "ok")
		},
	})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	before := dbsize(t, srv.Addr)
	w, next := a.do(context.Background(), id, "/save-twice")
	if saveErr != nil || next == "" || next == id {
		t.Fatalf("Save = %v, cookie %q", saveErr, next)
	}
	if n := len(w.Result().Header["Set-Cookie"]); n != 1 {
		t.Errorf("%d Set-Cookie lines", n)
	}
	if data := a.data(next); data["a"] != "1" || data["b"] != "2" || data["user"] != "alice" {
		t.Errorf("new session = %v", data)
	}
	if n := dbsize(t, srv.Addr); n != before+1 {
		t.Errorf("%d keys, want %d", n, before+1)
	}
}

// Changes after the response started (h == nil): saved under the client's
// ID, and when another request rotated the session meanwhile, on the new
// ID through the marker; never a rotation without a cookie.
func TestAttackConcurrencyHeldSaveAfterResponseStarted(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	started := make(chan struct{})
	release := make(chan struct{})
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/late": func(a *app, w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "streaming")
			close(started)
			<-release
			sess := session.Get(r)
			sess.Data["late"] = "1"
			if err := a.m.Save(w, sess); err != nil {
				t.Errorf("late Save: %v", err)
			}
			sess.Data["later"] = "1" // the middleware's finish saves this
		},
	})
	x := a.login("alice")
	done := make(chan string)
	go func() {
		_, set := a.do(context.Background(), x, "/late")
		done <- set
	}()
	<-started
	backdate(t, a, x, 20*time.Minute)
	_, y := a.do(context.Background(), x, "/set?mid=1")
	if y == "" || y == x {
		t.Fatalf("no rotation: %q", y)
	}
	close(release)
	if set := <-done; set != "" {
		t.Errorf("late request set cookie %q", set)
	}
	if data := a.data(y); data["late"] != "1" || data["later"] != "1" || data["mid"] != "1" {
		t.Errorf("Y = %v", data)
	}
}

// AbsoluteTimeout with conditional saves: a rotation and a forwarded
// request keep CreatedAt, the TTL never outlives the cap, and a session
// past it is refused even when reached through a marker.
func TestAttackConcurrencyHeldAbsoluteTimeout(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithAbsoluteTimeout(30*time.Minute), session.WithMaxAge(time.Hour))
	x := a.login("alice")
	backdate(t, a, x, 20*time.Minute) // 10 minutes left; rotation due
	b := newBarrier(3)
	a.gate = func(*http.Request) { b.wait() }
	var set [3]string
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { _, set[i] = a.do(context.Background(), x, "/set?k"+strconv.Itoa(i)+"=v") })
	}
	b.open()
	wg.Wait()
	a.gate = nil
	y := set[0]
	if y == "" || y != set[1] || y != set[2] {
		t.Fatalf("cookies %q", set)
	}
	ttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+y).Int
	if ttl > int64(10*time.Minute/time.Millisecond) || ttl < int64(9*time.Minute/time.Millisecond) {
		t.Errorf("rotated session TTL %d ms, want about the 10 minutes left", ttl)
	}
	// Past the cap: both the old and the new cookie load nothing.
	backdate(t, a, y, 31*time.Minute)
	for _, id := range []string{x, y} {
		if body, _ := a.concReads(id); strings.Contains(body, "alice") {
			t.Errorf("%s past the absolute timeout reads %q", id, body)
		}
	}
}

// The stale-ID handler is never called in the normal flows: parallel
// rotations, forwarded requests, a login with parallel requests, a logout,
// requests with the pre-login cookie within the grace.
func TestAttackConcurrencyHeldNoStaleReportsInNormalFlows(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var stale atomic.Int32
	a := newApp(t, Options{Addr: srv.Addr}, session.WithStaleIDHandler(func(*http.Request) { stale.Add(1) }))
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	set := a.parallel(3, pre, func(i int) string {
		if i == 0 {
			return "/login?user=alice"
		}
		return "/set?k" + strconv.Itoa(i) + "=v"
	})
	post := set[0]
	a.do(context.Background(), pre, "/read")
	backdate(t, a, post, 20*time.Minute)
	set = a.parallel(4, post, func(i int) string { return "/incr" })
	next := set[0]
	a.do(context.Background(), post, "/incr")
	a.do(context.Background(), next, "/incr")
	a.do(context.Background(), next, "/logout")
	a.do(context.Background(), next, "/read")
	if n := stale.Load(); n != 0 {
		t.Errorf("%d stale-ID reports in normal flows", n)
	}
	if n := a.data(next)["n"]; n != nil {
		t.Errorf("after logout: %v", n)
	}
}

// A WebSocket-style Hijack while another request rotates: the hijacked
// request does not rotate, its change follows the other rotation.
func TestAttackConcurrencyHeldHijackJoinsOtherRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	x := a.login("alice")
	backdate(t, a, x, 20*time.Minute)
	b := newBarrier(2)
	rotated := make(chan struct{})
	h := a.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.wait()
		<-rotated
		session.Get(r).Data["ws"] = "1"
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close()
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()
	a.gate = func(*http.Request) { b.wait() }
	var y string
	var wg sync.WaitGroup
	wg.Go(func() {
		req, _ := http.NewRequest("GET", ts.URL, nil)
		req.AddCookie(&http.Cookie{Name: "sessionx", Value: x})
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	wg.Go(func() {
		_, y = a.do(context.Background(), x, "/set?page=1")
		close(rotated)
	})
	b.open()
	wg.Wait()
	a.gate = nil
	if data := a.data(y); data["ws"] != "1" || data["page"] != "1" {
		t.Errorf("Y = %v", data)
	}
	if n := dbsize(t, srv.Addr); n != 2 {
		t.Errorf("%d keys, want Y and X's marker", n)
	}
}

// The handler's Save of a session whose pre-login ID was retired within
// the grace reports ErrSessionEnded; the middleware sets no cookie and
// answers 200.
func TestAttackConcurrencyHeldSaveOnRetiredIDWithinGrace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var saveErr error
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/save": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			sess.Data["x"] = "1"
			saveErr = a.m.Save(w, sess)
		},
	})
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	a.do(context.Background(), pre, "/login?user=alice")
	w, set := a.do(context.Background(), pre, "/save")
	if !errors.Is(saveErr, session.ErrSessionEnded) || set != "" || w.Code != 200 {
		t.Errorf("Save = %v, cookie %q, status %d", saveErr, set, w.Code)
	}
}

// A logout that lands in the middle of an automatic rotation (the new ID is
// written, the old one not yet retired): the rotation finds the old ID gone,
// ends and deletes its new ID; nothing of the session is left.
func TestAttackConcurrencyHeldLogoutInsideRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var hs *concHookStore
	a := newConcApp(t, srv, func(s *RedisStore) session.Store { hs = &concHookStore{RedisStore: s}; return hs }, nil)
	x := a.login("alice")
	backdate(t, a, x, 20*time.Minute)
	paused := make(chan struct{})
	resume := make(chan struct{})
	var once sync.Once
	hs.hook(func(id string, m session.Marker) {
		if id == x && m.MovedTo != "" {
			once.Do(func() { close(paused); <-resume })
		}
	})
	done := make(chan string)
	go func() {
		_, set := a.do(context.Background(), x, "/set?k=v")
		done <- set
	}()
	<-paused
	if _, set := a.do(context.Background(), x, "/logout"); set != "-" {
		t.Errorf("logout set %q", set)
	}
	close(resume)
	if set := <-done; set != "" {
		t.Errorf("the rotation after the logout set cookie %q", set)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("sessions left after the logout: %v", live)
	}
}

// Many parallel requests of one session, some rotating (due), one of them
// hijacked, one logging in: one logged-in session, every change made before
// the login's Retire carried into it or dropped, never a second live copy.
func TestAttackConcurrencyHeldStormAroundLogin(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	backdate(t, a, pre, 20*time.Minute)
	const n = 12
	set := a.parallel(n, pre, func(i int) string {
		if i == 0 {
			return "/login?user=alice"
		}
		return "/set?k" + strconv.Itoa(i) + "=v"
	})
	login := set[0]
	if login == "" || login == pre {
		t.Fatalf("login cookie %q", login)
	}
	live := 0
	keys := rawDo(t, srv.Addr, "KEYS", "sessionx:*")
	for _, k := range keys.Elems {
		if v := rawDo(t, srv.Addr, "GET", k.Str).Str; strings.HasPrefix(v, "{") {
			live++
			if k.Str != "sessionx:"+login {
				t.Errorf("a second live session %s: %s", k.Str, v)
			}
		}
	}
	if live != 1 || a.data(login)["user"] != "alice" {
		t.Errorf("%d live sessions; logged-in = %v", live, a.data(login))
	}
	for i, s := range set[1:] {
		if s == login {
			continue
		}
		if body, _ := a.concReads(s); s != "" && strings.Contains(body, "alice") {
			t.Errorf("request %d's cookie %s reads %q", i+1, s, body)
		}
	}
}

// On a Cluster, where the old and the new ID live on different nodes: a
// logout racing an automatic rotation ends both IDs (Destroy follows the
// marker across slots), and two logins at once leave one logged-in session.
func TestAttackConcurrencyHeldOnCluster(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	a := newApp(t, Options{ClusterAddrs: c.Addrs()[:1]})

	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	logout := a.hold(id, "/logout")
	_, next := a.do(context.Background(), id, "/read")
	logout.finish()
	if next == "" || next == id || a.data(next) != nil || a.data(id) != nil {
		t.Errorf("after a logout racing a rotation to %q: new %v, old %v", next, a.data(next), a.data(id))
	}

	_, pre := a.do(context.Background(), "", "/set?cart=1")
	set := a.parallel(2, pre, func(i int) string { return "/login?user=u" + strconv.Itoa(i) })
	won := 0
	for _, s := range set {
		if s != "" {
			won++
			if d := a.data(s); d["cart"] != "1" {
				t.Errorf("logged-in session %v", d)
			}
		}
	}
	if won != 1 {
		t.Errorf("two logins set %q", set)
	}
}
