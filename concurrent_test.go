package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Concurrent requests of one session, through the middleware on a real
// redis-server (and a Cluster). Each race is forced with barriers: every
// handler has loaded the session before any of them returns, so every save
// starts from a stale version.

// app is a manager on a real store and a handler whose routes change the
// session: /set?k=v, /incr, /login (Rotate and set "user"), /logout
// (Destroy), /read. gate, when set, runs in the handler after the
// middleware loaded the session and before the route acts.
type app struct {
	t    *testing.T
	s    *RedisStore
	m    *session.Manager
	h    http.Handler
	gate func(r *http.Request)
}

func newApp(t *testing.T, opts Options, cfg ...session.ConfigOption) *app {
	t.Helper()
	a := &app{t: t, s: openStore(t, opts)}
	cfg = append([]session.ConfigOption{session.WithStore(a.s)}, cfg...)
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"), cfg...))
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.h = m.Middleware(http.HandlerFunc(a.serve))
	return a
}

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	if a.gate != nil {
		a.gate(r)
	}
	sess := session.Get(r)
	q := r.URL.Query()
	switch r.URL.Path {
	case "/set":
		for k, v := range q {
			sess.Data[k] = v[0]
		}
	case "/incr":
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1
	case "/login":
		a.m.Rotate(sess)
		sess.Data["user"] = q.Get("user")
	case "/logout":
		if err := a.m.Destroy(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintf(w, "user=%v n=%v", sess.Data["user"], sess.Data["n"])
}

// request sends a request with the session cookie id ("" for none) and
// returns the response and the session ID it sets ("" for none, "-" for a
// cleared cookie), whatever the status.
func (a *app) request(ctx context.Context, id, target string) (*httptest.ResponseRecorder, string) {
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

// do is request, failing the test unless the status is 200.
func (a *app) do(ctx context.Context, id, target string) (*httptest.ResponseRecorder, string) {
	w, set := a.request(ctx, id, target)
	if w.Code != http.StatusOK {
		a.t.Errorf("%s: %d %s", target, w.Code, w.Body)
	}
	return w, set
}

// sealedCookie returns the cookie a store-less manager (the test key) seals
// for a session holding data.
func sealedCookie(t *testing.T, data map[string]interface{}) string {
	t.Helper()
	sealed, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	sealed.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range data {
			session.Get(r).Data[k] = v
		}
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("the store-less manager set cookies %v", cookies)
	}
	return cookies[0].Value
}

// login makes a session holding user and returns its ID.
func (a *app) login(user string) string {
	a.t.Helper()
	_, id := a.do(context.Background(), "", "/login?user="+user)
	if id == "" || id == "-" {
		a.t.Fatalf("login set cookie %q", id)
	}
	return id
}

// data loads the stored session id's Data, nil when it holds none.
func (a *app) data(id string) map[string]interface{} {
	a.t.Helper()
	got, err := a.s.LoadVersion(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	if got.Value == nil {
		return nil
	}
	var sess session.Session
	if err := json.Unmarshal(got.Value, &sess); err != nil {
		a.t.Fatal(err)
	}
	return sess.Data
}

// held is a request stopped in its handler, its session loaded.
type held struct {
	a       *app
	release chan struct{}
	done    chan string
}

// hold starts a request of session id for target and returns once its
// handler has the session loaded; it waits there until finish. Only that
// request waits: others go through the gate.
func (a *app) hold(id, target string) *held {
	path, _, _ := strings.Cut(target, "?")
	h := &held{a: a, release: make(chan struct{}), done: make(chan string, 1)}
	loaded := make(chan struct{})
	var once sync.Once
	a.gate = func(r *http.Request) {
		if r.URL.Path == path {
			once.Do(func() {
				close(loaded)
				<-h.release
			})
		}
	}
	go func() {
		_, set := a.do(context.Background(), id, target)
		h.done <- set
	}()
	<-loaded
	return h
}

// finish lets the held request go on, waits for its end and returns the
// session cookie it set.
func (h *held) finish() string {
	close(h.release)
	set := <-h.done
	h.a.gate = nil
	return set
}

// pair runs first and second of session id together, both loaded before
// either goes on, and closes secondDone when second has ended (first
// may wait for it).
func (a *app) pair(id, first, second string, secondDone chan struct{}) {
	b := newBarrier(2)
	a.gate = func(*http.Request) { b.wait() }
	var wg sync.WaitGroup
	wg.Go(func() { a.do(context.Background(), id, first) })
	wg.Go(func() {
		a.do(context.Background(), id, second)
		close(secondDone)
	})
	b.open()
	wg.Wait()
	a.gate = nil
}

// barrier lets n handlers through only once all n have arrived.
type barrier struct {
	arrived sync.WaitGroup
	release chan struct{}
}

func newBarrier(n int) *barrier {
	b := &barrier{release: make(chan struct{})}
	b.arrived.Add(n)
	return b
}

func (b *barrier) wait() {
	b.arrived.Done()
	<-b.release
}

// open waits until all have arrived, then lets them go.
func (b *barrier) open() {
	b.arrived.Wait()
	close(b.release)
}

// parallel runs n requests, all loaded before any goes on.
func (a *app) parallel(n int, id string, target func(i int) string) []string {
	b := newBarrier(n)
	a.gate = func(*http.Request) { b.wait() }
	defer func() { a.gate = nil }()
	set := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, set[i] = a.do(context.Background(), id, target(i)) })
	}
	b.open()
	wg.Wait()
	return set
}

func testEveryChangeKept(t *testing.T, a *app) {
	id := a.login("alice")
	const n = 50
	a.parallel(n, id, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	data := a.data(id)
	for i := range n {
		if data["k"+strconv.Itoa(i)] != "v" {
			t.Errorf("key k%d lost", i)
		}
	}
	if data["user"] != "alice" || len(data) != n+1 {
		t.Errorf("stored %d keys, want %d and the user", len(data), n)
	}
}

func TestConcurrentRequestsKeepEveryChange(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	testEveryChangeKept(t, newApp(t, Options{Addr: srv.Addr}))
}

func TestConcurrentRequestsKeepEveryChangeOnCluster(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	a := newApp(t, Options{ClusterAddrs: c.Addrs()[:1]})
	testEveryChangeKept(t, a)
	testOldCookieFollowsRotation(t, a)
}

func TestConcurrentRequestsKeepEveryChangeOnSentinel(t *testing.T) {
	g := redisserver.StartSentinel(t, redisserver.SentinelConfig{})
	a := newApp(t, Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName})
	testEveryChangeKept(t, a)
	testOldCookieFollowsRotation(t, a)
}

// Two requests change the same key: the later save wins.
func TestConcurrentRequestsSameKeyLaterWins(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	a.parallel(2, id, func(i int) string { return "/set?color=c" + strconv.Itoa(i) })
	if c := a.data(id)["color"]; c != "c0" && c != "c1" {
		t.Errorf("color = %v", c)
	}
}

// logoutRacedBy runs a logout while a request of the same session, loaded
// before it, waits; that request then does target and ends after the
// logout. The session must stay ended.
func logoutRacedBy(t *testing.T, a *app, id, target string) {
	t.Helper()
	slow := a.hold(id, target)
	if _, set := a.do(context.Background(), id, "/logout"); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	if set := slow.finish(); set != "" {
		t.Errorf("%s after the logout set cookie %q", target, set)
	}
	if got, _ := a.s.LoadVersion(context.Background(), id); got.Value != nil || got.Marker != nil && got.Marker.MovedTo != "" {
		t.Errorf("%s after the logout brought the session back: %s %+v", target, got.Value, got.Marker)
	}
	if w, set := a.do(context.Background(), id, "/read"); strings.Contains(w.Body.String(), "alice") || set != "" {
		t.Errorf("after logout the old cookie reads %q and sets %q", w.Body, set)
	}
}

func TestLogoutRacedBySlowWriterStaysLoggedOut(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	logoutRacedBy(t, a, a.login("alice"), "/set?cart=1")
}

// A reader whose idle refresh is due (a tenth of MaxAge gone from its TTL)
// touches the session after the logout: the touch must not revive it.
func TestLogoutRacedBySlowReaderWithRefreshDueStaysLoggedOut(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := a.login("alice")
	backdate(t, a, id, 10*time.Minute) // not yet due for rotation (15m)
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
	logoutRacedBy(t, a, id, "/read")
}

// A reader whose automatic rotation is due saves after the logout: the
// rotation must not revive the session under a new ID.
func TestLogoutRacedBySlowReaderWithRotationDueStaysLoggedOut(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithRotationInterval(time.Minute))
	id := a.login("alice")
	backdate(t, a, id, 2*time.Minute)
	logoutRacedBy(t, a, id, "/read")
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("sessions of alice after logout: %v: the rotation left one behind", live)
	}
}

// backdate rewrites session id as created and rotated d ago, keeping its
// TTL, so that rotation is due.
func backdate(t *testing.T, a *app, id string, d time.Duration) {
	t.Helper()
	got, err := a.s.LoadVersion(context.Background(), id)
	if err != nil || got.Value == nil {
		t.Fatalf("LoadVersion(%s) = %v", id, err)
	}
	var sess session.Session
	if err := json.Unmarshal(got.Value, &sess); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-d)
	sess.CreatedAt, sess.UpdatedAt, sess.RotatedAt = past, past, past
	if err := a.s.Save(&sess); err != nil {
		t.Fatal(err)
	}
}

func dbsize(t *testing.T, addr string) int64 {
	t.Helper()
	return rawDo(t, addr, "DBSIZE").Int
}

// A user who clicks "log out" and closes the tab: the request's context is
// cancelled before Destroy runs, and the session is deleted all the same.
func TestLogoutWhoseClientHungUpDeletesSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	ctx, cancel := context.WithCancel(context.Background())
	a.gate = func(r *http.Request) { cancel() } // the client hangs up once the session is loaded
	a.do(ctx, id, "/logout")
	if a.data(id) != nil {
		t.Error("the session outlived a logout whose client hung up")
	}
}

// During a login, requests of the pre-login session (loaded before it, or
// sent with the old cookie after it) never replace the logged-in cookie.
func TestLoginRacedByParallelRequestsKeepsLoggedInCookie(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	_, pre := a.do(context.Background(), "", "/set?cart=1")

	slow := a.hold(pre, "/set?theme=dark")
	_, post := a.do(context.Background(), pre, "/login?user=alice")
	if post == "" || post == pre {
		t.Fatalf("login set cookie %q", post)
	}
	if set := slow.finish(); set != "" {
		t.Errorf("a request loaded before the login set cookie %q", set)
	}
	w, set := a.do(context.Background(), pre, "/set?theme=light")
	if set != "" {
		t.Errorf("a request with the pre-login cookie after the login set cookie %q (%s)", set, w.Body)
	}
	if got, _ := a.s.LoadVersion(context.Background(), pre); got.Marker == nil || got.Marker.MovedTo != "" {
		t.Errorf("pre-login ID holds %+v %s, want a retired marker", got.Marker, got.Value)
	}
	data := a.data(post)
	if data["user"] != "alice" || data["cart"] != "1" {
		t.Errorf("logged-in session = %v", data)
	}
	if w, _ := a.do(context.Background(), post, "/read"); !strings.Contains(w.Body.String(), "user=alice") {
		t.Errorf("logged-in cookie reads %q", w.Body)
	}
}

func testOldCookieFollowsRotation(t *testing.T, a *app) {
	t.Helper()
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	_, next := a.do(context.Background(), id, "/incr")
	if next == "" || next == id {
		t.Fatalf("due rotation set cookie %q", next)
	}
	// A request sent with the old cookie (before the browser got the new
	// one) lands on the new session and sends the new cookie again.
	w, set := a.do(context.Background(), id, "/incr")
	if set != next {
		t.Errorf("old-cookie request set cookie %q, want %q (%s)", set, next, w.Body)
	}
	if n := a.data(next)["n"]; n != 2.0 {
		t.Errorf("counter = %v after two increments", n)
	}
	if got, _ := a.s.LoadVersion(context.Background(), id); got.Marker == nil || got.Marker.MovedTo != next {
		t.Errorf("old ID holds %+v %s, want a marker to %s", got.Marker, got.Value, next)
	}
}

func TestAutomaticRotationOldCookieKeepsCounter(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	testOldCookieFollowsRotation(t, newApp(t, Options{Addr: srv.Addr}))
}

// Parallel requests that all find rotation due make one new ID, and every
// one of them sends it.
func TestParallelRotationMakesOneNewID(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	before := dbsize(t, srv.Addr)
	const n = 8
	set := a.parallel(n, id, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	for i := 1; i < n; i++ {
		if set[i] != set[0] || set[i] == "" || set[i] == id {
			t.Fatalf("cookies set: %q", set)
		}
	}
	if n := dbsize(t, srv.Addr); n != before+1 {
		t.Errorf("%d keys after the rotation, want %d (the new session and the old ID's marker)", n, before+1)
	}
	if data := a.data(set[0]); len(data) != n+1 {
		t.Errorf("new session = %v, want every request's key", data)
	}
}

// After the grace, an old ID loads nothing and the stale-ID hook hears of
// it; an unknown ID is not reported.
func TestStaleIDAfterGraceIsReported(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var stale []string
	var mu sync.Mutex
	a := newApp(t, Options{Addr: srv.Addr}, session.WithStaleIDHandler(func(r *http.Request) {
		c, _ := r.Cookie("sessionx")
		mu.Lock()
		stale = append(stale, c.Value)
		mu.Unlock()
	}))
	id := a.login("alice")
	_, next := a.do(context.Background(), id, "/login?user=bob")
	// The rotation happened 31 s ago, by the marker's clock.
	old := time.Now().Add(-31 * time.Second).UnixMilli()
	rawDo(t, srv.Addr, "SET", "sessionx:"+id, "!retired:"+strconv.FormatInt(old, 10), "EX", "60")
	w, set := a.do(context.Background(), id, "/set?x=1")
	if strings.Contains(w.Body.String(), "bob") || set == "" || set == next {
		t.Errorf("a stale ID read %q and set cookie %q", w.Body, set)
	}
	a.do(context.Background(), "AAAAAAAAAAAAAAAAAAAAAA", "/read")
	if len(stale) != 1 || stale[0] != id {
		t.Errorf("stale IDs reported: %q, want [%s]", stale, id)
	}
}

// An unchanged session whose TTL needs extending gets PEXPIRE (inside the
// script), not a SET of its value, and its cookie again.
func TestIdleRefreshTouchesWithoutRewrite(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := a.login("alice")
	before, _ := a.s.LoadVersion(context.Background(), id)
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
	rawDo(t, srv.Addr, "CONFIG", "RESETSTAT")
	if _, set := a.do(context.Background(), id, "/read"); set != id {
		t.Errorf("refresh set cookie %q, want %q", set, id)
	}
	stats := rawDo(t, srv.Addr, "INFO", "commandstats").Str
	if !strings.Contains(stats, "cmdstat_pexpire:calls=1,") || strings.Contains(stats, "cmdstat_set:") {
		t.Errorf("commands of the refresh:\n%s", stats)
	}
	after, _ := a.s.LoadVersion(context.Background(), id)
	if string(after.Value) != string(before.Value) || after.TTL < 59*time.Minute {
		t.Errorf("after the refresh: TTL %v, value changed %v", after.TTL, string(after.Value) != string(before.Value))
	}
	// A second read finds the TTL fresh: no command but the load.
	rawDo(t, srv.Addr, "CONFIG", "RESETSTAT")
	if _, set := a.do(context.Background(), id, "/read"); set != "" {
		t.Errorf("second read set cookie %q", set)
	}
	if stats := rawDo(t, srv.Addr, "INFO", "commandstats").Str; strings.Contains(stats, "evalsha") {
		t.Errorf("second read ran a script:\n%s", stats)
	}
}

// Hijack (a WebSocket upgrade) never rotates: the 101 carries no cookie.
func TestHijackNeverRotates(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	h := a.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	data := a.data(id)
	if data["ws"] != "1" || data["user"] != "alice" {
		t.Errorf("after Hijack the old ID holds %v, want the session with its change", data)
	}
	if n := dbsize(t, srv.Addr); n != 1 {
		t.Errorf("%d keys after Hijack, want the one session", n)
	}
}

// A session sealed in the cookie by a store-less manager moves into the
// store under a fresh ID with WithCookieMigration.
func TestCookieMigration(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})
	for _, migrate := range []bool{false, true} {
		opts := []session.ConfigOption{}
		if migrate {
			opts = append(opts, session.WithCookieMigration())
		}
		a := newApp(t, Options{Addr: srv.Addr}, opts...)
		w, id := a.do(context.Background(), cookie, "/read")
		switch {
		case migrate && (!strings.Contains(w.Body.String(), "user=alice") || len(id) != 22 || a.data(id)["user"] != "alice"):
			t.Errorf("migrated: read %q, cookie %q", w.Body, id)
		case !migrate && (strings.Contains(w.Body.String(), "alice") || id != ""):
			t.Errorf("without migration: read %q, cookie %q", w.Body, id)
		}
	}
}

// The handler's own Save of a session that ended reports ErrSessionEnded.
func TestSaveOfEndedSessionReportsIt(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	sess, err := a.m.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.s.Delete(id); err != nil {
		t.Fatal(err)
	}
	sess.Data["x"] = 1
	w := httptest.NewRecorder()
	if err := a.m.Save(w, sess); !errors.Is(err, session.ErrSessionEnded) {
		t.Errorf("Save = %v, want ErrSessionEnded", err)
	}
	if len(w.Result().Cookies()) != 0 || a.data(id) != nil {
		t.Error("an ended session was saved or sent")
	}
}

// warnings is a Logger that keeps its warnings.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Info(string, ...any) {}
func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
}

// An ACL user without +@scripting gets the plain behaviour (unconditional
// writes) with one warning, not a failure on every save.
func TestServerRefusingScriptsSavesPlainlyWithOneWarning(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -@scripting"}})
	var log warnings
	a := newApp(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log})
	id := a.login("alice")
	a.do(context.Background(), id, "/set?x=1")
	a.do(context.Background(), id, "/set?y=2")
	if data := a.data(id); data["x"] != "1" || data["y"] != "2" || data["user"] != "alice" {
		t.Errorf("stored %v", data)
	}
	if len(log.msgs) != 1 || !strings.Contains(log.msgs[0], "refuses scripts") {
		t.Errorf("warnings: %q", log.msgs)
	}
}

// A write of a session whose cookie already names it keeps the key's TTL
// and sends no Set-Cookie unless the idle refresh is due, so a response
// that reaches the browser after a login's cannot put the pre-login
// cookie back. Cookie and TTL change together.
func TestWriteKeepsTTLAndSendsNoCookieUntilRefreshDue(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := a.login("alice")
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, strconv.Itoa(int(58*time.Minute/time.Millisecond)))
	if _, set := a.do(context.Background(), id, "/set?x=1"); set != "" {
		t.Errorf("a write set cookie %q", set)
	}
	got, _ := a.s.LoadVersion(context.Background(), id)
	if got.TTL > 58*time.Minute || got.TTL < 57*time.Minute || a.data(id)["x"] != "1" {
		t.Errorf("after the write: TTL %v, data %v", got.TTL, a.data(id))
	}
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
	if _, set := a.do(context.Background(), id, "/set?x=2"); set != id {
		t.Errorf("a write with the refresh due set cookie %q, want %q", set, id)
	}
	if got, _ := a.s.LoadVersion(context.Background(), id); got.TTL < 59*time.Minute {
		t.Errorf("after the refreshing write: TTL %v", got.TTL)
	}
}
