//go:build !redisstore_noseal

package redisstore

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review: servers refusing scripts, ReadPlaintext on sessions an old plain
// process is rotating, a plain and a sealing store side by side, key
// rotation and WRONGTYPE, through the middleware.

// A server whose ACL refuses EVALSHA alone: the store sends EVAL, and
// every flow (login with the user index, rotation, RevokeUser, logout)
// works sealed and hashed.
func TestSealReviewFlowEvalOnly(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -evalsha"}})
	opts := sealedOpts(Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &warnings{}})
	testLogOutEverywhere(t, opts)
	a := newUserApp(t, opts)
	testOldCookieFollowsRotation(t, a)
	sealedEverywhere(t, a)
}

// A server refusing every script: the store writes plain SETs, and they
// are sealed all the same: sessions, automatic rotation's markers,
// Rotate's and Destroy's retired markers.
func TestSealReviewFlowScriptsRefusedStillSealed(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -@scripting"}})
	var log warnings
	a := newApp(t, sealedOpts(Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log}))
	ctx := context.Background()
	_, pre := a.do(ctx, "", "/set?cart=1")
	_, id := a.do(ctx, pre, "/login?user=alice")
	if id == "" || id == pre {
		t.Fatalf("login set %q", id)
	}
	a.do(ctx, id, "/set?x=1")
	backdate(t, a, id, 20*time.Minute)
	_, next := a.do(ctx, id, "/incr")
	if next == "" || next == id {
		t.Fatalf("no rotation: %q", next)
	}
	if data := a.data(next); data["x"] != "1" || data["n"] != 1.0 || data["user"] != "alice" {
		t.Errorf("rotated session = %v", data)
	}
	for who, cookie := range map[string]string{"pre-login": pre, "rotated-away": id} {
		got, err := a.s.LoadVersion(ctx, cookie)
		if err != nil || got.Marker == nil {
			t.Errorf("%s ID holds %+v, %v; want a marker", who, got, err)
		}
	}
	a.do(ctx, next, "/logout")
	if got, _ := a.s.LoadVersion(ctx, next); got.Marker == nil || got.Marker.MovedTo != "" {
		t.Errorf("after logout %+v", got)
	}
	sealedEverywhere(t, a, pre, id, next)
	if len(log.msgs) != 1 {
		t.Errorf("warnings %q", log.msgs)
	}
}

// An old plain process (no EncryptionKeys) rotated a session: the old ID
// holds a plain "!moved:" marker and the new ID a plain session. A
// sealing process with ReadPlaintext gets the old cookie: it follows the
// marker, sends the new cookie, keeps the counter and seals the session.
// A plain "!retired:" marker is an ended session, as without sealing.
// A session the plain process is rotating right now (new ID written, old
// not yet retired) changed by the sealing process in between is not lost
// either: the plain process's retire then finds a sealed value.
func TestSealReviewFlowReadPlaintextMidRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	old := newApp(t, Options{Addr: srv.Addr})
	id := old.login("alice")
	old.do(ctx, id, "/incr")
	backdate(t, old, id, 20*time.Minute)
	_, next := old.do(ctx, id, "/incr")
	if next == "" || next == id {
		t.Fatalf("no rotation by the plain process: %q", next)
	}
	if v := rawValue(t, old.s, id); !bytes.HasPrefix(v, []byte("!moved:"+next+":")) {
		t.Fatalf("old ID holds %q", v)
	}

	a := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, ReadPlaintext: true})
	w, set := a.do(ctx, id, "/incr")
	if set != next || !strings.Contains(w.Body.String(), "user=alice n=3") {
		t.Errorf("old cookie on the sealing process: set %q, body %s; want %s and n=3", set, w.Body, next)
	}
	if v := rawValue(t, a.s, next); v[0] != sealFormat {
		t.Errorf("the session was not sealed at its write: %q", v)
	}
	// A plain retired marker (a login on the plain process) within the
	// grace: an empty session, neither saved nor sent.
	_, pre := old.do(ctx, "", "/set?cart=1")
	if _, post := old.do(ctx, pre, "/login?user=carol"); post == "" || post == pre {
		t.Fatalf("plain login set %q", post)
	}
	if v := rawValue(t, old.s, pre); !bytes.HasPrefix(v, []byte("!retired:")) {
		t.Fatalf("pre-login ID holds %q", v)
	}
	if w, set := a.do(ctx, pre, "/set?x=1"); set != "" || strings.Contains(w.Body.String(), "carol") {
		t.Errorf("a plain retired marker: set %q, body %s", set, w.Body)
	}

	// The plain process rotating (new ID written, old not retired) while
	// the sealing process changes the session under its old ID.
	plainHook, h := newHookApp(t, Options{Addr: srv.Addr})
	id = plainHook.login("bob")
	backdate(t, plainHook, id, 20*time.Minute)
	var sealedSet string
	h.beforeRetire.Store(once(func() { _, sealedSet = a.do(ctx, id, "/set?sealed=1") }))
	w, set = plainHook.request(ctx, id, "/set?plain=1")
	t.Logf("the plain process's request: %d, cookie %q, %s; the sealing one's cookie %q", w.Code, set, w.Body, sealedSet)
	if sealedSet == "" || sealedSet == id {
		t.Fatalf("the sealing process did not rotate: %q", sealedSet)
	}
	// The sealing process's rotation won: its new ID holds bob and its
	// change; the plain process left no copy behind.
	if data := a.data(sealedSet); data["sealed"] != "1" || data["user"] != "bob" {
		t.Errorf("the sealing process's change was lost: %v", data)
	}
	if got := a.user(id); got != "bob" {
		t.Errorf("the old cookie sees %s", got)
	}
	if live := liveSessionsOf(t, srv.Addr, "bob"); len(live) != 0 {
		t.Errorf("the plain process left plain copies of bob's session: %v", live)
	}
}

// A plain store and a sealing store with ReadPlaintext on one prefix (a
// rolling deploy that turns EncryptionKeys on): RevokeUser on the sealing
// process ends the sessions of both.
func TestSealReviewFlowMixedSealingRevokesPlain(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	plain := newUserApp(t, Options{Addr: srv.Addr})
	sealing := newUserApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, ReadPlaintext: true})

	p := plain.login("alice")   // plain value, plain entry
	s := sealing.login("alice") // sealed value, plain entry (no HashKeys)
	if got := sealing.user(p); got != "alice" {
		t.Errorf("the sealing store reads the plain session as %s", got)
	}
	// RevokeUser on the sealing process ends the plain session too.
	if n, err := sealing.m.RevokeUser(ctx, "alice", nil); n != 2 || err != nil {
		t.Errorf("RevokeUser on the sealing process = %d, %v; want 2", n, err)
	}
	if plain.user(p) != "<nil>" || sealing.user(s) != "<nil>" {
		t.Errorf("after RevokeUser: plain session %s, sealed one %s", plain.user(p), sealing.user(s))
	}

}

// Key rotation: a session sealed by the old key that only reads is kept
// alive by the idle refresh (a PEXPIRE) of a process holding [new, old].
// The documented procedure drops the old key once TTL (MaxAge) has
// passed; the refresh restarted the session's TTL without resealing it,
// so the session, live in Redis, no longer opens: its user is logged out.
func TestSealReviewFlowRefreshReseals(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	cfg := []session.ConfigOption{session.WithMaxAge(time.Hour), session.WithRotationInterval(0)}
	before := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}}, cfg...)
	id := before.login("alice")

	rotated := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}}, cfg...)
	// 55 minutes later (of the 60 the old key must be kept), the user
	// reads a page: the refresh is due.
	raw(t, rotated.s, client.ReplyInt, "PEXPIRE", rotated.s.key(id).arg(), client.Int((5 * time.Minute).Milliseconds()))
	if _, set := rotated.do(ctx, id, "/read"); set != id {
		t.Fatalf("the refresh set cookie %q, want %q", set, id)
	}
	got, _ := rotated.s.LoadVersion(ctx, id)
	if got.TTL < 59*time.Minute {
		t.Fatalf("TTL %v after the refresh", got.TTL)
	}
	// The TTL the old key had to cover has passed: the old key goes.
	after := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}}, cfg...)
	if got := after.user(id); got != "alice" {
		v := rawValue(t, after.s, id)
		t.Errorf("a session refreshed by the rotated process (TTL %v left) sees user %s once the old key is dropped: its value is still sealed by key %x, not the new key %x",
			got2TTL(t, after, id), got, v[1:1+sealIDLen], after.s.seal.keys[0].id)
	}
}

func got2TTL(t *testing.T, a *app, id string) time.Duration {
	return time.Duration(raw(t, a.s, client.ReplyInt, "PTTL", a.s.key(id).arg()).Int) * time.Millisecond
}

// WRONGTYPE under a hashed session key and a hashed index key: requests
// get a fresh session, a logout and a login replace the keys, sealed.
func TestSealReviewFlowWrongType(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	var got error
	a := newUserApp(t, sealedOpts(Options{Addr: srv.Addr}), session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}))
	const id = "wrongtype-0123456789abcdefghijklmnopqrstuv"
	raw(t, a.s, client.ReplyInt, "LPUSH", a.s.key(id).arg(), client.Str("x"))
	if w, set := a.do(ctx, id, "/set?x=1"); set == "" || set == id || !strings.Contains(w.Body.String(), "user=<nil>") {
		t.Errorf("a WRONGTYPE session key: set %q, %s", set, w.Body)
	}
	if _, set := a.do(ctx, id, "/logout"); set != "-" {
		t.Errorf("logout of a WRONGTYPE key set %q (%v)", set, got)
	}
	raw(t, a.s, client.ReplyInt, "DEL", a.s.key(id).arg()) // (left as a list, as without sealing)
	raw(t, a.s, client.ReplyInt, "LPUSH", a.s.index("dave", 0).key.arg(), client.Str("x"))
	if list, err := a.m.UserSessions(ctx, "dave"); err != nil || len(list) != 0 {
		t.Errorf("UserSessions on a WRONGTYPE index = %v, %v", list, err)
	}
	d := a.login("dave")
	if list, err := a.m.UserSessions(ctx, "dave"); err != nil || len(list) != 1 {
		t.Errorf("UserSessions after the login = %d, %v", len(list), err)
	}
	if n, err := a.m.RevokeUser(ctx, "dave", nil); n != 1 || err != nil || a.user(d) != "<nil>" {
		t.Errorf("RevokeUser = %d, %v", n, err)
	}
	sealedEverywhere(t, a, id, d)
}
