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
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Log out everywhere: the user index on a real redis-server, a Sentinel
// group and a 3-master Cluster, through the middleware of two app
// instances (each its own store and manager on the same Redis).

// newUserApp is newApp indexing sessions under Data["user"], on an
// indexHookStore (no hooks set), with two more routes: /revoke-others
// ends every other session of the user (after a.gate) and records the
// count in the store's revoked, and /revoke?handle= ends the one with
// that handle.
func newUserApp(t *testing.T, opts Options, cfg ...session.ConfigOption) *app {
	t.Helper()
	a, _ := newUserHookApp(t, opts, cfg...)
	return a
}

func newUserHookApp(t *testing.T, opts Options, cfg ...session.ConfigOption) (*app, *indexHookStore) {
	t.Helper()
	a := &app{t: t, s: openStore(t, opts)}
	h := &indexHookStore{RedisStore: a.s}
	h.revoked.Store(-1)
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"),
		append([]session.ConfigOption{session.WithStore(h), session.WithUserKey("user")}, cfg...)...))
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.h = m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		user, _ := sess.Data["user"].(string)
		switch r.URL.Path {
		case "/revoke-others":
			if a.gate != nil {
				a.gate(r)
			}
			n, err := a.m.RevokeUser(r.Context(), user, sess)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h.revoked.Store(int64(n))
			fmt.Fprintf(w, "revoked=%d", n)
		case "/revoke":
			if err := a.m.RevokeSession(r.Context(), user, r.URL.Query().Get("handle")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		default:
			a.serve(w, r)
		}
	}))
	return a, h
}

// withCookie is a request carrying the session cookie id.
func withCookie(id string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	return r
}

// index returns the entries of user's index and their scores, and the
// index key's PTTL.
func (a *app) index(user string) (map[string]string, time.Duration) {
	a.t.Helper()
	var b client.Batch
	key := a.s.index(user, 0).key.arg()
	b.Add(client.ReplyBulks, "ZRANGE", key, client.Int(0), client.Int(-1))
	b.Add(client.ReplyInt, "PTTL", key)
	if err := a.s.c.Do(context.Background(), &b); err != nil {
		a.t.Fatal(err)
	}
	entries := map[string]string{}
	for _, m := range b.Replies[0].Bulks {
		score := a.redis(client.ReplyAny, "ZSCORE", key, client.Bytes(m))
		entries[string(m)] = score.Value.Str
	}
	return entries, time.Duration(b.Replies[1].Int) * time.Millisecond
}

// redis runs one command of key's slot on a's Redis.
func (a *app) redis(kind client.ReplyKind, name string, key client.Arg, args ...client.Arg) client.Reply {
	a.t.Helper()
	var b client.Batch
	b.Add(kind, name, append([]client.Arg{key}, args...)...)
	if err := a.s.c.Do(context.Background(), &b); err != nil {
		a.t.Fatalf("%s: %v", name, err)
	}
	return b.Replies[0]
}

// user returns what the session id's next request sees as its user.
func (a *app) user(id string) string {
	a.t.Helper()
	w, _ := a.do(context.Background(), id, "/read")
	user, _, _ := strings.Cut(strings.TrimPrefix(w.Body.String(), "user="), " ")
	return user
}

func testLogOutEverywhere(t *testing.T, opts Options) {
	ctx := context.Background()
	app1, app2 := newUserApp(t, opts), newUserApp(t, opts)
	d1, d2, d3 := app1.login("alice"), app2.login("alice"), app1.login("alice")
	bob := app2.login("bob")

	list, err := app2.m.UserSessions(ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("UserSessions(alice) = %d sessions, %v; want 3", len(list), err)
	}
	current := 0
	for i, info := range list {
		for _, id := range []string{d1, d2, d3, bob} {
			if info.Handle == "" || strings.Contains(info.Handle, id) || strings.Contains(id, info.Handle) || strings.Contains(fmt.Sprintf("%+v", info), id) {
				t.Errorf("session %d: handle %q gives away a cookie value", i, info.Handle)
			}
		}
		if i > 0 && info.CreatedAt.After(list[i-1].CreatedAt) {
			t.Error("not newest first")
		}
		if info.Current(withCookie(d2)) {
			current++
		}
	}
	if current != 1 {
		t.Errorf("%d sessions are the current one of d2's request, want 1", current)
	}
	entries, pttl := app1.index("alice")
	if len(entries) != 3 || pttl <= 0 || pttl > 24*time.Hour+indexSlack {
		t.Errorf("index: %d entries, PTTL %v; want 3 and at most MaxAge plus a minute", len(entries), pttl)
	}

	// From d2 on the second instance: log out every other device.
	w, _ := app2.do(ctx, d2, "/revoke-others")
	if got := w.Body.String(); got != "revoked=2" {
		t.Errorf("/revoke-others: %s, want revoked=2", got)
	}
	for id, want := range map[string]string{d1: "<nil>", d3: "<nil>", d2: "alice", bob: "bob"} {
		if got := app1.user(id); got != want {
			t.Errorf("after revoking alice's other sessions, a request sees user %s, want %s", got, want)
		}
	}
	if list, err := app1.m.UserSessions(ctx, "alice"); err != nil || len(list) != 1 || !list[0].Current(withCookie(d2)) {
		t.Errorf("UserSessions(alice) after the revocation = %+v, %v; want d2 alone", list, err)
	}
	if entries, _ := app1.index("alice"); len(entries) != 1 {
		t.Errorf("the revoked sessions stay in the index: %v", len(entries))
	}
	if list, err := app1.m.UserSessions(ctx, "bob"); err != nil || len(list) != 1 {
		t.Errorf("UserSessions(bob) = %d, %v; want 1", len(list), err)
	}

	// An expired session drops out of the list; an expired entry drops
	// out of the index at the next write of it.
	d4 := app1.login("alice")
	app1.redis(client.ReplyInt, "PEXPIRE", app1.s.key(d4).arg(), client.Int(1))
	app1.redis(client.ReplyInt, "ZADD", app1.s.index("alice", 0).key.arg(), client.Int(1), client.Str("expired-entry"))
	for app1.data(d4) != nil { // Redis expires it on access within a millisecond
	}
	if list, _ := app1.m.UserSessions(ctx, "alice"); len(list) != 1 {
		t.Errorf("UserSessions(alice) lists %d sessions with one expired, want 1", len(list))
	}
	app2.login("alice")
	entries, pttl = app1.index("alice")
	if _, ok := entries["expired-entry"]; ok || pttl <= 0 {
		t.Errorf("index after a login: %v, PTTL %v; want the expired entry dropped and a TTL", entries, pttl)
	}

	// Log out one device, by the handle another one lists.
	list, _ = app1.m.UserSessions(ctx, "alice")
	var other string
	for _, info := range list {
		if !info.Current(withCookie(d2)) {
			other = info.Handle
		}
	}
	if len(list) != 2 || other == "" {
		t.Fatalf("listed %d sessions of alice, want 2", len(list))
	}
	app2.do(ctx, d2, "/revoke?handle="+other)
	if list, _ := app1.m.UserSessions(ctx, "alice"); len(list) != 1 || !list[0].Current(withCookie(d2)) {
		t.Errorf("after RevokeSession, alice has %d sessions, want d2 alone", len(list))
	}
	if err := app1.m.RevokeSession(ctx, "alice", other); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("RevokeSession of a handle revoked already = %v, want ErrNotFound", err)
	}
}

func TestLogOutEverywhere(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	testLogOutEverywhere(t, Options{Addr: srv.Addr})
}

func TestLogOutEverywhereOnCluster(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	testLogOutEverywhere(t, Options{ClusterAddrs: c.Addrs()[:1]})
}

func TestLogOutEverywhereOnSentinel(t *testing.T) {
	g := redisserver.StartSentinel(t, redisserver.SentinelConfig{})
	testLogOutEverywhere(t, Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName})
}

// A request that loaded a session before RevokeUser cannot save it back:
// its changes are dropped and its response sets no cookie.
func TestRevokedSessionIsNotSavedBack(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	slow := a.hold(id, "/set?k=v")
	if n, err := a.m.RevokeUser(context.Background(), "alice", nil); n != 1 || err != nil {
		t.Fatalf("RevokeUser = %d, %v; want 1", n, err)
	}
	if set := slow.finish(); set != "" {
		t.Errorf("the slow request set cookie %q, want none", set)
	}
	if data := a.data(id); data != nil {
		t.Errorf("the revoked session came back: %v", data)
	}
	if got := a.user(id); got != "<nil>" {
		t.Errorf("the revoked cookie's next request sees user %s", got)
	}
}

// indexHookStore is the real store with hooks: after IndexSession and
// IndexedSessions (a RevokeUser between a save's index entry and its
// value, or a save between RevokeUser's read of the index and its
// revocations), before Retire and UnindexSessions, and an error injected
// into Revoke. revoked is the count of the last /revoke-others.
type indexHookStore struct {
	*RedisStore
	afterIndex, afterRead       atomic.Pointer[func()]
	beforeRetire, beforeUnindex atomic.Pointer[func()]
	revokeErr                   atomic.Pointer[func(id string) error]
	revoked                     atomic.Int64
}

var _ session.UserStore = (*indexHookStore)(nil)

func (h *indexHookStore) IndexSession(ctx context.Context, user, id, spare string, ttl time.Duration, max int) ([]string, error) {
	trimmed, err := h.RedisStore.IndexSession(ctx, user, id, spare, ttl, max)
	runHook(&h.afterIndex)
	return trimmed, err
}

func (h *indexHookStore) IndexedSessions(ctx context.Context, user string, max int) ([]string, error) {
	ids, err := h.RedisStore.IndexedSessions(ctx, user, max)
	runHook(&h.afterRead)
	return ids, err
}

func (h *indexHookStore) Retire(ctx context.Context, id string, version []byte, marker session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	runHook(&h.beforeRetire)
	return h.RedisStore.Retire(ctx, id, version, marker, ttl)
}

func (h *indexHookStore) UnindexSessions(ctx context.Context, user string, ids []string) error {
	runHook(&h.beforeUnindex)
	return h.RedisStore.UnindexSessions(ctx, user, ids)
}

func (h *indexHookStore) Revoke(ctx context.Context, id string, marker session.Marker, ttl time.Duration, always bool) (session.Stored, error) {
	if f := h.revokeErr.Load(); f != nil {
		if err := (*f)(id); err != nil {
			return session.Stored{}, err
		}
	}
	return h.RedisStore.Revoke(ctx, id, marker, ttl, always)
}

// runHook calls the hook in p, if any.
func runHook(p *atomic.Pointer[func()]) {
	if f := p.Load(); f != nil {
		(*f)()
	}
}

// A login whose index entry is written, and its session not yet, when
// RevokeUser runs: the ID is retired while empty, so the login ends
// instead of creating a session the revocation missed.
func TestRevokeUserEndsALoginInFlight(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	paused, release := make(chan struct{}), make(chan struct{})
	h.afterIndex.Store(once(func() { close(paused); <-release }))
	done := make(chan string)
	go func() {
		_, set := a.request(context.Background(), "", "/login?user=alice")
		done <- set
	}()
	<-paused
	n, err := a.m.RevokeUser(context.Background(), "alice", nil)
	close(release)
	if set := <-done; set != "" {
		t.Errorf("the login set cookie %q after RevokeUser", set)
	}
	if n != 0 || err != nil {
		t.Errorf("RevokeUser = %d, %v; want 0 sessions (none was stored yet)", n, err)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("the login stored a session the revocation missed: %v", live)
	}
}

// A login that adds its index entry after RevokeUser read the index was
// saved after the call began: it survives, as documented.
func TestLoginAfterRevokeUserReadTheIndexSurvives(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	old := a.login("alice")
	var fresh string
	h.afterRead.Store(once(func() { fresh = a.login("alice") }))
	n, err := a.m.RevokeUser(context.Background(), "alice", nil)
	if n != 1 || err != nil {
		t.Errorf("RevokeUser = %d, %v; want 1", n, err)
	}
	if a.user(old) != "<nil>" || a.user(fresh) != "alice" {
		t.Errorf("old session sees %s, the login during the call %s", a.user(old), a.user(fresh))
	}
}

// Users that cannot name an index are refused before any I/O: the store
// here is closed, so any command would fail with ErrClosed instead.
func TestInvalidUserRejectedBeforeIO(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	a.s.Close()
	ctx := context.Background()
	for _, v := range []any{strings.Repeat("x", 257), "al\nice", "bob\x7f", map[string]any{"id": 1}, true,
		[]any{"a"}, int64(1<<53 + 1), uint64(1 << 60), json.Number("9007199254740993"), json.Number("1x")} {
		sess := a.m.New()
		sess.Data["user"] = v
		err := a.m.Save(httptest.NewRecorder(), sess)
		if !errors.Is(err, session.ErrInvalidUser) || errors.Is(err, ErrClosed) {
			t.Errorf("Save with user %#v = %v, want ErrInvalidUser", v, err)
		}
	}
	for _, user := range []string{"", strings.Repeat("x", 257), "a\x00b", "\t"} {
		_, err1 := a.m.UserSessions(ctx, user)
		_, err2 := a.m.RevokeUser(ctx, user, nil)
		err3 := a.m.RevokeSession(ctx, user, "h")
		_, err4 := a.s.IndexSession(ctx, user, "id", "", time.Hour, 10)
		_, err5 := a.s.IndexedSessions(ctx, user, 10)
		err6 := a.s.UnindexSessions(ctx, user, []string{"id"})
		for i, err := range []error{err1, err2, err3, err4, err5, err6} {
			if !errors.Is(err, session.ErrInvalidUser) || errors.Is(err, ErrClosed) {
				t.Errorf("call %d with user %q = %v, want ErrInvalidUser", i+1, user, err)
			}
		}
	}
}

// A number under the UserKey counts by its decimal text, before and after
// JSON brings it back as a float64.
func TestNumericUserCountsByDecimalText(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	for _, v := range []any{42, int64(-7), uint8(9), 1.5, float32(2.5), float64(1 << 53)} {
		sess := a.m.New()
		sess.Data["user"] = v
		if err := a.m.Save(httptest.NewRecorder(), sess); err != nil {
			t.Fatalf("Save with user %#v: %v", v, err)
		}
		want := strings.TrimSuffix(fmt.Sprint(v), "e+15")
		if f, ok := v.(float64); ok {
			want = strconv.FormatFloat(f, 'f', -1, 64)
		}
		list, err := a.m.UserSessions(context.Background(), want)
		if err != nil || len(list) != 1 {
			t.Errorf("user %#v: UserSessions(%q) = %d sessions, %v; want 1", v, want, len(list), err)
		}
	}
}

// plainStore is a Store without a user index.
type plainStore struct{}

func (plainStore) Load(string) (*session.Session, error) { return nil, session.ErrNotFound }
func (plainStore) Save(*session.Session) error           { return nil }
func (plainStore) Delete(string) error                   { return nil }

// A manager that keeps no user index says so.
func TestUserIndexUnsupported(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	key := []byte("0123456789abcdef")
	s := openStore(t, Options{Addr: srv.Addr})
	for name, cfg := range map[string]session.Config{
		"sealed cookies":  session.DevConfig(key, session.WithUserKey("user")),
		"a plain store":   session.DevConfig(key, session.WithStore(plainStore{}), session.WithUserKey("user")),
		"without UserKey": session.DevConfig(key, session.WithStore(s)),
	} {
		m, err := session.NewManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err1 := m.UserSessions(context.Background(), "alice")
		_, err2 := m.RevokeUser(context.Background(), "alice", nil)
		err3 := m.RevokeSession(context.Background(), "alice", "h")
		for i, err := range []error{err1, err2, err3} {
			if !errors.Is(err, session.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("%s: call %d = %v, want ErrUnsupported", name, i+1, err)
			}
		}
	}
}

// A server that refuses scripts cannot keep the index: a login fails with
// an error matching ErrUnsupported and stores nothing, rather than
// storing a session that RevokeUser would miss.
func TestUserIndexOnServerRefusingScripts(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -@scripting"}})
	var got error
	a := newUserApp(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &warnings{}},
		session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}))
	if w, _ := a.request(context.Background(), "", "/login?user=alice"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("login: %d, want 503", w.Code)
	}
	if !errors.Is(got, session.ErrUnsupported) || !strings.Contains(fmt.Sprint(got), "refuses scripts") {
		t.Errorf("login error %v, want ErrUnsupported naming the refusal", got)
	}
	if n := dbsize(t, srv.Addr); n != 0 {
		t.Errorf("%d keys stored", n)
	}
}

// zadds is how many ZADDs the server ran (scripts' included).
func zadds(t *testing.T, srv *redisserver.Server) int {
	t.Helper()
	stat := srv.Info(t, "commandstats")["cmdstat_zadd"]
	calls, _, _ := strings.Cut(strings.TrimPrefix(stat, "calls="), ",")
	n, _ := strconv.Atoi(calls)
	return n
}

// The index is written at login, on a change of user and when an entry's
// expiry must move; other saves of an indexed session add no command.
func TestCurrentIndexEntryCostsNoCommand(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr}, session.WithRotationInterval(0))
	ctx := context.Background()
	id := a.login("alice")
	if n := zadds(t, srv); n != 1 {
		t.Fatalf("%d ZADDs after a login, want 1", n)
	}
	// The same requests with and without the index send as many commands.
	plain := newApp(t, Options{Addr: srv.Addr}, session.WithRotationInterval(0))
	plainID := plain.login("carol")
	commands := func(a *app, id string) uint64 {
		before := a.s.Stats().Commands
		a.do(ctx, id, "/set?k=v")
		a.do(ctx, id, "/incr")
		a.do(ctx, id, "/read")
		return a.s.Stats().Commands - before
	}
	if c, want := commands(a, id), commands(plain, plainID); c != want {
		t.Errorf("three requests (two changes) of an indexed session sent %d commands, %d without the index", c, want)
	}
	if n := zadds(t, srv); n != 1 {
		t.Errorf("%d ZADDs in all after three more requests, want 1", n)
	}
	a.do(ctx, id, "/set?user=bob")
	if n := zadds(t, srv); n != 2 {
		t.Errorf("%d ZADDs after a change of user, want 2", n)
	}
	if list, _ := a.m.UserSessions(ctx, "alice"); len(list) != 0 {
		t.Errorf("alice still lists the session that passed to bob")
	}
	if list, _ := a.m.UserSessions(ctx, "bob"); len(list) != 1 {
		t.Errorf("bob lists %d sessions, want 1", len(list))
	}
	// An idle refresh moves the expiry: the entry first.
	a.redis(client.ReplyInt, "PEXPIRE", client.Key("sessionx:", id), client.Int(int64(20*time.Hour/time.Millisecond)))
	a.do(ctx, id, "/read")
	if n := zadds(t, srv); n != 3 {
		t.Errorf("%d ZADDs after an idle refresh, want 3", n)
	}
}

// A rotation indexes the new ID before writing it and drops the old one
// once retired; a login as another user moves the session to that
// user's index.
func TestRotationMovesTheIndexEntry(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	_, next := a.do(ctx, id, "/read")
	if next == "" || next == id {
		t.Fatalf("no rotation: cookie %q", next)
	}
	if entries, _ := a.index("alice"); len(entries) != 1 || entries[next] == "" {
		t.Errorf("after an automatic rotation alice's index holds %v, want the new ID alone", entries)
	}
	_, bobs := a.do(ctx, next, "/login?user=bob")
	if entries, _ := a.index("alice"); len(entries) != 0 {
		t.Errorf("after a login as bob alice's index holds %v", entries)
	}
	if entries, _ := a.index("bob"); len(entries) != 1 || entries[bobs] == "" {
		t.Errorf("bob's index holds %v, want %s", entries, bobs)
	}
	_, _ = a.do(ctx, bobs, "/logout")
	if entries, _ := a.index("bob"); len(entries) != 0 {
		t.Errorf("after a logout bob's index holds %v", entries)
	}
}

// A user's index keeps 1,000 sessions: a login beyond revokes the one
// that expires first.
func TestUserIndexIsBounded(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	first := a.login("alice")
	for range 1000 {
		a.login("alice")
	}
	if a.data(first) != nil {
		t.Error("the session that expires first was not revoked")
	}
	list, err := a.m.UserSessions(context.Background(), "alice")
	if err != nil || len(list) != 1000 {
		t.Errorf("UserSessions = %d, %v; want 1000", len(list), err)
	}
	if entries, _ := a.index("alice"); len(entries) != 1000 {
		t.Errorf("the index holds %d entries, want 1000", len(entries))
	}
}

// A session rotated automatically while RevokeUser runs (after it read
// the index, which then named the old ID only) ends at its new ID: the
// old ID's marker leads there. Its handle stays the same.
func TestRevokeUserFollowsARotationDuringTheCall(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	id := a.login("alice")
	before, _ := a.m.UserSessions(ctx, "alice")
	backdate(t, a, id, 20*time.Minute)
	var next string
	h.afterRead.Store(once(func() { _, next = a.do(ctx, id, "/read") }))
	n, err := a.m.RevokeUser(ctx, "alice", nil)
	if next == "" || next == id {
		t.Fatalf("no rotation during the call: cookie %q", next)
	}
	if n != 1 || err != nil || a.user(next) != "<nil>" {
		t.Errorf("RevokeUser = %d, %v; the rotated session sees user %s", n, err, a.user(next))
	}
	if len(before) != 1 {
		t.Fatalf("listed %d sessions before", len(before))
	}
	h.afterRead.Store(nil)
	id = a.login("bob")
	backdate(t, a, id, 20*time.Minute)
	first, _ := a.m.UserSessions(ctx, "bob")
	if _, next := a.do(ctx, id, "/read"); next == "" || next == id {
		t.Fatalf("no rotation: cookie %q", next)
	}
	if after, _ := a.m.UserSessions(ctx, "bob"); len(first) != 1 || len(after) != 1 || after[0].Handle != first[0].Handle {
		t.Errorf("handles before and after a rotation: %v, %v", first, after)
	}
}
