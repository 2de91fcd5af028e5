package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Adversarial review of the user index ("log out everywhere"): each test
// forces one interleaving with hooks on the real store (no sleeps) and
// states the documented guarantee it breaks.

// fillIndex adds n entries to user's index naming IDs that hold nothing,
// expiring in two days: later than any session of the test.
func fillIndex(a *app, user string, n int) {
	a.t.Helper()
	score := time.Now().Add(48 * time.Hour).UnixMilli()
	args := make([]client.Arg, 0, 2*n)
	for i := range n {
		args = append(args, client.Int(score), client.Str(fmt.Sprintf("fakeid%016d", i)))
	}
	a.redis(client.ReplyInt, "ZADD", client.Key("sessionx:user ", user), args...)
}

// liveUser is the user of the session stored under id, "" when it holds
// no session.
func liveUser(a *app, id string) string {
	a.t.Helper()
	data := a.data(id)
	if data == nil {
		return ""
	}
	u, _ := data["user"].(string)
	return u
}

// Finding 1 (guarantees 1 and 2, no fault needed): a rotation at the
// bound spares its old ID from revocation, but the script still removes
// that ID's entry, before the old ID is retired. A RevokeUser in that
// window reads an index without the old ID, ends the new one (empty yet),
// which makes the rotation fail: the old ID, saved with the user long
// before the call, stays live and in no index.
func TestReviewRacesTrimmedSpareOfFailedRotationEscapesIndex(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	s := a.login("alice")
	fillIndex(a, "alice", 999) // alice's index: s and 999 others, 1,000 in all
	backdate(t, a, s, 20*time.Minute)
	var n int
	var err error
	h.afterIndex.Store(once(func() { n, err = a.m.RevokeUser(ctx, "alice", nil) }))
	w, set := a.request(ctx, s, "/read") // s rotates: its new ID's entry trims s's
	h.afterIndex.Store(nil)
	t.Logf("rotation request: %d, cookie %q; RevokeUser = %d, %v", w.Code, set, n, err)
	if got := liveUser(a, s); got == "alice" {
		t.Errorf("RevokeUser(alice) left her session %s live", s)
	}
	if entries, _ := a.index("alice"); liveUser(a, s) == "alice" && entries[s] == "" {
		t.Errorf("session %s of alice is live but missing from her index", s)
	}
}

// Finding 1b: the same escape with a client that hangs up between the
// new ID's write and the old ID's retirement, at the bound.
func TestReviewRacesTrimmedSpareOfCancelledRotationEscapesIndex(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	s := a.login("alice")
	fillIndex(a, "alice", 999)
	backdate(t, a, s, 20*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	h.beforeRetire.Store(once(cancel))
	w, set := a.request(ctx, s, "/read")
	h.beforeRetire.Store(nil)
	t.Logf("rotation request: %d, cookie %q", w.Code, set)
	if liveUser(a, s) != "alice" {
		t.Skip("the old ID ended: nothing escapes")
	}
	entries, _ := a.index("alice")
	if _, ok := entries[s]; !ok {
		t.Errorf("session %s of alice is live but missing from her index", s)
	}
	if _, err := a.m.RevokeUser(context.Background(), "alice", nil); err != nil {
		t.Fatal(err)
	}
	if liveUser(a, s) == "alice" {
		t.Errorf("RevokeUser(alice) left her session %s live", s)
	}
}

// Finding 2: the bound revokes "the sessions that expire first (the least
// recently active)", but a trimmed entry of an ID an automatic rotation
// just retired (its entry not yet removed, or its ZREM lost) follows the
// rotation's marker and revokes the new ID: the most recently active
// session of the user is logged out.
func TestReviewRacesTrimFollowsRotationAndRevokesNewestSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	s := a.login("alice")
	fillIndex(a, "alice", 998) // s and 998 others: 999
	// s logged in a second earlier than it did: its entry is the lowest.
	a.redis(client.ReplyAny, "ZINCRBY", client.Key("sessionx:user ", "alice"), client.Int(-1000), client.Str(s))
	backdate(t, a, s, 20*time.Minute)
	h.beforeUnindex.Store(once(func() {
		a.login("alice") // another device logs in between s's retirement and its ZREM
	}))
	_, next := a.do(context.Background(), s, "/read")
	h.beforeUnindex.Store(nil)
	if next == "" || next == s {
		t.Fatalf("no rotation: cookie %q", next)
	}
	if entries, _ := a.index("alice"); entries[next] == "" {
		t.Logf("the new ID's own entry was trimmed") // not what this test is about
	}
	if got := liveUser(a, next); got != "alice" {
		t.Errorf("the session just rotated to %s (the newest of alice) was revoked by the bound: it holds %q", next, got)
	}
}

// Finding 3 (guarantee 3): RevokeUser counts one session twice when it
// runs during the session's rotation, after the new ID was written
// (pending) and before the old one was retired: both IDs hold the
// session's value and both are revoked and counted.
func TestReviewRacesRevokeUserCountsPendingRotationTwice(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	s := a.login("alice")
	backdate(t, a, s, 20*time.Minute)
	var n int
	var err error
	h.beforeRetire.Store(once(func() { n, err = a.m.RevokeUser(context.Background(), "alice", nil) }))
	a.request(context.Background(), s, "/read")
	h.beforeRetire.Store(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(liveSessionsOf(t, srv.Addr, "alice")) != 0 {
		t.Fatal("a session of alice survived")
	}
	if n != 1 {
		t.Errorf("RevokeUser = %d for alice's one session, want 1", n)
	}
}

// Finding 4 (guarantee 2, keep): "log out all other devices" logs out
// the requesting device itself when a parallel request of the same
// session (a browser's XHR) rotated it automatically after this request
// loaded it: keep names the old ID, the index the new one, which is not
// kept. The count reports one "other" session though there is none.
func TestReviewRacesKeepRotatedByParallelRequestIsRevoked(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	s := a.login("alice")
	backdate(t, a, s, 20*time.Minute)
	slow := a.hold(s, "/revoke-others")
	_, next := a.do(ctx, s, "/read") // parallel request: rotates s
	if next == "" || next == s {
		t.Fatalf("no rotation: cookie %q", next)
	}
	set := slow.finish()
	if n := h.revoked.Load(); n != 0 {
		t.Errorf("RevokeUser(alice, keep=this session) revoked %d sessions, want 0 (alice has no other device)", n)
	}
	if got := liveUser(a, next); got != "alice" {
		t.Errorf("the requesting session (now %s) was revoked: it holds %q; the response set cookie %q", next, got, set)
	}
}

// Finding 5 (guarantees 1 and 4): Destroy removes every ID from the index,
// even those whose revocation failed: a logout that fails (the session's
// node unreachable, say) leaves the session live and out of the index,
// so a later RevokeUser misses it.
func TestReviewRacesFailedDestroyUnindexesLiveSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, Options{Addr: srv.Addr})
	s := a.login("alice")
	fail := func(string) error { return errors.New("injected: session node unreachable") }
	h.revokeErr.Store(&fail)
	w, _ := a.request(context.Background(), s, "/logout")
	h.revokeErr.Store(nil)
	if w.Code == http.StatusOK || liveUser(a, s) != "alice" {
		t.Fatalf("logout: %d, session holds %q: the fault did not take", w.Code, liveUser(a, s))
	}
	entries, _ := a.index("alice")
	if _, ok := entries[s]; !ok {
		t.Errorf("after a failed logout session %s is live but missing from alice's index", s)
	}
	if n, err := a.m.RevokeUser(context.Background(), "alice", nil); n != 1 || err != nil || liveUser(a, s) != "" {
		t.Errorf("RevokeUser(alice) = %d, %v; session %s holds %q", n, err, s, liveUser(a, s))
	}
}

// Finding 6 (guarantee 5, low severity): without MaxAge a session key
// without a TTL (PERSISTed, copied) is never given one by a read, unlike
// with MaxAge; its index expires with the entry's score while the
// session lives on, and RevokeUser then misses it.
func TestReviewRacesMaxAgeZeroKeyWithoutTTLOutlivesIndex(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, _ := newUserHookApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(0))
	s := a.login("alice")
	a.redis(client.ReplyInt, "PERSIST", client.Key("sessionx:", s))
	a.do(context.Background(), s, "/read")
	sessTTL := a.redis(client.ReplyInt, "PTTL", client.Key("sessionx:", s)).Int
	_, indexTTL := a.index("alice")
	if sessTTL == -1 && indexTTL > 0 {
		t.Errorf("session %s never expires (PTTL -1) while alice's index expires in %v", s, indexTTL)
	}
}
