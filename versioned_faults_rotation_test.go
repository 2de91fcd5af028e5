package redisstore

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/session"
)

// hookStore is the real store with a hook run before Retire: a fault
// injected between the two writes of a rotation (the new ID created, the
// old one not yet retired). It overrides Retire only, whose signature is
// stable; the assertion below fails to compile, rather than silently
// making the manager treat it as a plain Store, if that changes.
type hookStore struct {
	*RedisStore
	beforeRetire atomic.Pointer[func()]
}

var _ session.VersionedStore = (*hookStore)(nil)

func (h *hookStore) Retire(ctx context.Context, id string, version []byte, marker session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	if f := h.beforeRetire.Load(); f != nil {
		(*f)()
	}
	return h.RedisStore.Retire(ctx, id, version, marker, ttl)
}

// newHookApp is newApp with the manager on a hookStore.
func newHookApp(t *testing.T, opts Options, cfg ...session.ConfigOption) (*app, *hookStore) {
	t.Helper()
	a := &app{t: t, s: openStore(t, opts)}
	h := &hookStore{RedisStore: a.s}
	cfg = append([]session.ConfigOption{session.WithStore(h), session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "store error: "+err.Error(), http.StatusServiceUnavailable)
	})}, cfg...)
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"), cfg...))
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.h = m.Middleware(http.HandlerFunc(a.serve))
	return a, h
}

// liveSessionsOf returns the IDs of the sessions (not markers) stored on
// addr, read directly (not through a proxy), whose Data has user, with
// their TTLs.
func liveSessionsOf(t *testing.T, addr, user string) map[string]time.Duration {
	t.Helper()
	out := map[string]time.Duration{}
	for _, k := range rawDo(t, addr, "KEYS", "sessionx:*").Elems {
		if strings.Contains(k.Str, " ") {
			continue // a user index
		}
		v := rawDo(t, addr, "GET", k.Str)
		if v.Null || strings.HasPrefix(v.Str, "!") || !strings.Contains(v.Str, `"user":"`+user+`"`) {
			continue
		}
		out[strings.TrimPrefix(k.Str, "sessionx:")] = time.Duration(rawDo(t, addr, "PTTL", k.Str).Int) * time.Millisecond
	}
	return out
}

func once(f func()) *func() {
	var done atomic.Bool
	g := func() {
		if !done.Swap(true) {
			f()
		}
	}
	return &g
}

// A login (explicit Rotate) whose client hangs up after the new ID was
// written and before the old one was retired: the request fails (the
// client is gone), the pre-login session is intact, and no second session
// holding the logged-in user is left behind for MaxAge.
func TestAttackFaultsCancelMidExplicitRotationLeavesNoOrphan(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newHookApp(t, Options{Addr: srv.Addr})
	_, pre := a.request(context.Background(), "", "/set?cart=1")
	if pre == "" {
		t.Fatal("no pre-login cookie")
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.beforeRetire.Store(once(cancel))
	w, set := a.request(ctx, pre, "/login?user=alice")
	h.beforeRetire.Store(nil)
	t.Logf("cancelled login: %d %q, cookie %q", w.Code, strings.TrimSpace(w.Body.String()), set)
	if set != "" && set != "-" {
		t.Errorf("a failed login sent cookie %q", set)
	}
	// No lost session: the pre-login cookie still reads its cart.
	if w, _ := a.request(context.Background(), pre, "/read"); w.Code != http.StatusOK {
		t.Errorf("pre-login cookie after the failed login: %d %q", w.Code, w.Body)
	}
	if d := a.data(pre); d["cart"] != "1" {
		t.Errorf("pre-login session after the failed login: %v", d)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("after a login that failed mid-rotation, %d session(s) of the logged-in user are live in Redis, reachable by no cookie: %v", len(live), live)
	}
}

// The same for an automatic rotation, and what it leads to: the next
// request rotates again, and a logout then leaves a copy of the logged-in
// session live in Redis for MaxAge.
func TestAttackFaultsCancelMidAutomaticRotationSurvivesLogout(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newHookApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	h.beforeRetire.Store(once(cancel))
	w, set := a.request(ctx, id, "/incr")
	h.beforeRetire.Store(nil)
	t.Logf("cancelled rotation: %d, cookie %q", w.Code, set)
	// No lost session: the old cookie still works and rotates now.
	w, next := a.request(context.Background(), id, "/incr")
	if w.Code != http.StatusOK || next == "" || next == id || !strings.Contains(w.Body.String(), "user=alice") {
		t.Fatalf("request after the failed rotation: %d %q, cookie %q", w.Code, w.Body, next)
	}
	live := liveSessionsOf(t, srv.Addr, "alice")
	t.Logf("live sessions of alice after the retried rotation: %v (cookie holds %s)", live, next)
	// Logout through the cookie the client has.
	if _, set := a.request(context.Background(), next, "/logout"); set != "-" {
		t.Fatalf("logout set cookie %q", set)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("after logout, %d session(s) of alice are still live in Redis: %v", len(live), live)
	}
}

// A partition that starts between the two writes of an automatic rotation,
// and ends with the connections reset (the held Retire never arrives): the
// error reaches the error handler, and what is left in Redis is either the
// old session (nothing moved) or a marker to a new session (the old cookie
// follows it), never an orphan.
func TestAttackFaultsPartitionMidRotationLeavesNoOrphan(t *testing.T) {
	for _, reset := range []bool{false, true} {
		name := "heal"
		if reset {
			name = "reset-then-heal"
		}
		t.Run(name, func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{})
			p := fault.StartProxy(t, srv.Addr)
			a, h := newHookApp(t, Options{Addr: p.Addr(), ReadTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond})
			id := a.login("alice")
			backdate(t, a, id, 20*time.Minute)
			h.beforeRetire.Store(once(p.Partition))
			w, set := a.request(context.Background(), id, "/incr")
			h.beforeRetire.Store(nil)
			if w.Code != http.StatusServiceUnavailable || set != "" || !strings.HasPrefix(w.Body.String(), "store error:") {
				t.Errorf("rotation during a partition: %d %q, cookie %q; want the error handler's 503 and no cookie", w.Code, w.Body, set)
			}
			during := liveSessionsOf(t, srv.Addr, "alice")
			if reset {
				p.Reset()
			}
			p.Heal()
			time.Sleep(100 * time.Millisecond) // the held bytes, if any, flow
			after := liveSessionsOf(t, srv.Addr, "alice")
			old := rawDo(t, srv.Addr, "GET", "sessionx:"+id).Str
			t.Logf("live sessions of alice during the partition %v, after %v; old ID holds %.40q", during, after, old)
			// A new ID the rotation could not retire to, nor delete (the
			// network is down), lives at most the pending TTL (1 min).
			for sid, ttl := range after {
				if sid != id && old != "" && !strings.HasPrefix(old, "!moved:"+sid+":") && ttl > time.Minute {
					t.Errorf("after the partition, session %s holds alice for %v and nothing leads to it (old ID holds %.40q)", sid, ttl, old)
				}
			}
		})
	}
}

// A partition during a plain conditional save (no rotation): the error
// reaches the error handler, no cookie is sent, the next request works.
func TestAttackFaultsPartitionDuringConditionalSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	p := fault.StartProxy(t, srv.Addr)
	a, _ := newHookApp(t, Options{Addr: p.Addr(), ReadTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond})
	id := a.login("alice")
	a.gate = func(*http.Request) { p.Partition() } // loaded; the save comes next
	start := time.Now()
	w, set := a.request(context.Background(), id, "/set?x=1")
	a.gate = nil
	if w.Code != http.StatusServiceUnavailable || set != "" || !strings.HasPrefix(w.Body.String(), "store error:") {
		t.Errorf("save during a partition: %d %q, cookie %q after %v; want the error handler's 503", w.Code, w.Body, set, time.Since(start))
	}
	p.Heal()
	w, set = a.request(context.Background(), id, "/set?y=2")
	if w.Code != http.StatusOK {
		t.Fatalf("after the heal: %d %q", w.Code, w.Body)
	}
	if d := a.data(id); d["user"] != "alice" || d["y"] != "2" {
		t.Errorf("after the heal the session holds %v", d)
	}
}

// A client that hangs up while its conditional save is on the wire (the
// reply not yet read): the next request sees either the old or the new
// value, never a broken one, and the session lives on.
func TestAttackFaultsCancelMidConditionalSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	p := fault.StartProxy(t, srv.Addr)
	a, _ := newHookApp(t, Options{Addr: p.Addr()})
	id := a.login("alice")
	ctx, cancel := context.WithCancel(context.Background())
	a.gate = func(*http.Request) { // loaded; the save comes next
		p.SetDelay(50 * time.Millisecond)
		time.AfterFunc(30*time.Millisecond, cancel)
	}
	w, set := a.request(ctx, id, "/set?x=1")
	a.gate = nil
	p.SetDelay(0)
	t.Logf("cancelled save: %d %q, cookie %q", w.Code, strings.TrimSpace(w.Body.String()), set)
	time.Sleep(150 * time.Millisecond)
	w, _ = a.request(context.Background(), id, "/set?y=2")
	if w.Code != http.StatusOK {
		t.Fatalf("after the cancelled save: %d %q", w.Code, w.Body)
	}
	if d := a.data(id); d["user"] != "alice" || d["y"] != "2" {
		t.Errorf("after the cancelled save the session holds %v", d)
	}
}

// The reply to an automatic rotation's Retire is lost (it ran, the client
// timed out). Were the request to get a 503 and no cookie, the old ID
// would forward to the new one only for the grace: a client coming back
// later would be logged out and reported as a stale cookie. The manager
// reads the old ID again and, finding its marker, completes the rotation.
func TestAttackFaultsRotationReplyLostLosesSessionAfterGrace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	p := fault.StartProxy(t, srv.Addr)
	var stale atomic.Int32
	a, h := newHookApp(t, Options{Addr: p.Addr(), ReadTimeout: 150 * time.Millisecond},
		session.WithRotationGrace(time.Second),
		session.WithStaleIDHandler(func(*http.Request) { stale.Add(1) }))
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	// The reply is late once: the network recovers 250 ms later, while the
	// manager looks into the failed Retire.
	h.beforeRetire.Store(once(func() {
		p.SetDelay(200 * time.Millisecond)
		time.AfterFunc(250*time.Millisecond, func() { p.SetDelay(0) })
	}))
	w, set := a.request(context.Background(), id, "/incr")
	h.beforeRetire.Store(nil)
	time.Sleep(300 * time.Millisecond) // the Retire reaches the server
	p.SetDelay(0)
	old := rawDo(t, srv.Addr, "GET", "sessionx:"+id).Str
	t.Logf("rotation whose Retire reply was lost: %d %q, cookie %q; old ID now holds %.30q", w.Code, strings.TrimSpace(w.Body.String()), set, old)
	if set != "" && set != "-" {
		return // the manager settled the rotation and sent the new cookie
	}
	time.Sleep(1100 * time.Millisecond) // past the grace
	w, set = a.request(context.Background(), id, "/read")
	if !strings.Contains(w.Body.String(), "user=alice") {
		t.Errorf("after a 503 whose rotation did happen, the client's only cookie reads %q past the grace (cookie %q, stale reports %d): the session is lost",
			w.Body, set, stale.Load())
	}
}
