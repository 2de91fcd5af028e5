package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Log out everywhere: the user index on a real redis-server, a Sentinel
// group and a 3-master Cluster, through the middleware of two app
// instances (each its own store and manager on the same Redis).

// newUserApp is newApp indexing sessions under Data["user"], with two
// more routes: /revoke-others ends every other session of the user, and
// /revoke?handle= the one with that handle.
func newUserApp(t *testing.T, opts Options, cfg ...session.ConfigOption) *app {
	t.Helper()
	a := newApp(t, opts, append([]session.ConfigOption{session.WithUserKey("user")}, cfg...)...)
	a.h = a.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		user, _ := sess.Data["user"].(string)
		switch r.URL.Path {
		case "/revoke-others":
			n, err := a.m.RevokeUser(r.Context(), user, sess)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "revoked=%d", n)
		case "/revoke":
			if err := a.m.RevokeSession(r.Context(), user, r.URL.Query().Get("handle")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		default:
			a.serve(w, r)
		}
	}))
	return a
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
	key := client.Key("sessionx:user ", user)
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
	app1.redis(client.ReplyInt, "PEXPIRE", client.Key("sessionx:", d4), client.Int(1))
	app1.redis(client.ReplyInt, "ZADD", client.Key("sessionx:user ", "alice"), client.Int(1), client.Str("expired-entry"))
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
