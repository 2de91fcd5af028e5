//go:build !redisstore_noseal

package redisstore

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review: the manager's concurrent flows, sealed and with hashed keys.

// sealedOpts adds EncryptionKeys ([new, old]) and HashKeys to opts.
func sealedOpts(opts Options) Options {
	opts.EncryptionKeys = [][]byte{newKey, oldKey}
	opts.HashKeys = true
	return opts
}

// sealedEverywhere checks that every string key of a's prefix is sealed
// by the first key and that no key name holds a session ID.
func sealedEverywhere(t *testing.T, a *app, ids ...string) {
	t.Helper()
	keys := raw(t, a.s, client.ReplyBulks, "KEYS", client.Str("sessionx:*")).Bulks
	for _, k := range keys {
		for _, id := range ids {
			if id != "" && bytes.Contains(k, []byte(id)) {
				t.Errorf("key %q names session %s", k, id)
			}
		}
		if bytes.HasPrefix(k, []byte("sessionx:user ")) || string(k) == "sessionx: keys" {
			continue
		}
		v := raw(t, a.s, client.ReplyBulk, "GET", client.Str(string(k)))
		if len(v.Bulk) == 0 || v.Bulk[0] != sealFormat || !bytes.Equal(v.Bulk[1:1+sealIDLen], a.s.seal.keys[0].id[:]) {
			t.Errorf("key %q holds %q: not sealed by the first key", k, v.Bulk)
		}
	}
}

// Parallel requests of one session, every one finding rotation due,
// while another request loaded before them saves after the rotation: one
// new ID, every change kept, markers sealed, the old cookie follows.
func TestSealReviewFlowParallelRotationRace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, sealedOpts(Options{Addr: srv.Addr}))
	ctx := context.Background()
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)

	// A slow request loaded before the rotation, through a second app on
	// the same Redis (its own gate), saves after it.
	b := newApp(t, sealedOpts(Options{Addr: srv.Addr}))
	slow := b.hold(id, "/set?slow=1")

	const n = 8
	set := a.parallel(n, id, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	for i := 1; i < n; i++ {
		if set[i] != set[0] || set[i] == "" || set[i] == id {
			t.Fatalf("cookies set: %q", set)
		}
	}
	next := set[0]
	if got := slow.finish(); got != next {
		t.Errorf("the slow request set cookie %q, want the rotation's %q", got, next)
	}
	data := a.data(next)
	if data["slow"] != "1" || data["user"] != "alice" || len(data) != n+2 {
		t.Errorf("new session = %v, want every request's key and the slow one's", data)
	}
	got, err := a.s.LoadVersion(ctx, id)
	if err != nil || got.Marker == nil || got.Marker.MovedTo != next {
		t.Fatalf("old ID holds %+v, %v; want a marker to %s", got.Marker, err, next)
	}
	// The old cookie lands on the new session.
	if w, c := a.do(ctx, id, "/incr"); c != next || !strings.Contains(w.Body.String(), "n=1") {
		t.Errorf("old cookie: set %q, body %s", c, w.Body)
	}
	sealedEverywhere(t, a, id, next)
	if u := a.s.Stats().UnopenedValues + b.s.Stats().UnopenedValues; u != 0 {
		t.Errorf("UnopenedValues = %d in flows with nothing tampered", u)
	}
}

// A logout racing a slow writer and a slow reader due for rotation,
// sealed and hashed: the session stays ended and no copy is left.
func TestSealReviewFlowLogoutRacingSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, sealedOpts(Options{Addr: srv.Addr}), session.WithRotationInterval(time.Minute))
	logoutRacedBy(t, a, a.login("alice"), "/set?cart=1")
	id := a.login("alice")
	backdate(t, a, id, 2*time.Minute)
	logoutRacedBy(t, a, id, "/read")
	// No session of alice is left in Redis (each value opened here).
	keys := raw(t, a.s, client.ReplyBulks, "KEYS", client.Str("sessionx:*")).Bulks
	for _, k := range keys {
		if bytes.HasPrefix(k, []byte("sessionx:user ")) || string(k) == "sessionx: keys" {
			continue
		}
		v := raw(t, a.s, client.ReplyBulk, "GET", client.Str(string(k)))
		rk := redisKey{"sessionx:", strings.TrimPrefix(string(k), "sessionx:")}
		plain, err := a.s.seal.open(rk, bytes.Clone(v.Bulk), false)
		if err != nil {
			t.Errorf("key %q does not open: %v", k, err)
			continue
		}
		if !isMarker(plain) {
			t.Errorf("a session outlived the logout: %s", plain)
		}
	}
	// A logout during a rotation whose new ID is written but the old not
	// yet retired.
	a2, h := newHookApp(t, sealedOpts(Options{Addr: srv.Addr}), session.WithRotationInterval(time.Minute))
	id = a2.login("bob")
	backdate(t, a2, id, 2*time.Minute)
	h.beforeRetire.Store(once(func() {
		if _, set := a2.do(context.Background(), id, "/logout"); set != "-" {
			t.Errorf("logout set %q", set)
		}
	}))
	w, set := a2.request(context.Background(), id, "/set?x=1")
	if set != "" && set != "-" {
		t.Errorf("the rotating request set cookie %q after the logout (%d %s)", set, w.Code, w.Body)
	}
	if got := a2.user(id); got != "<nil>" {
		t.Errorf("after the logout the old cookie sees %s", got)
	}
}

// RevokeUser with sealed, hashed sessions that rotate: one rotated before
// the call (the index names old and new), one rotating during it (after
// the index was read), one a chain of two rotations; every one ends.
func TestSealReviewFlowRevokeUserFollowsMarkers(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a, h := newUserHookApp(t, sealedOpts(Options{Addr: srv.Addr}))
	ctx := context.Background()

	d1 := a.login("alice")
	backdate(t, a, d1, 20*time.Minute)
	_, d1b := a.do(ctx, d1, "/read") // rotated before the call
	if d1b == "" || d1b == d1 {
		t.Fatalf("no rotation: %q", d1b)
	}
	backdate(t, a, d1b, 20*time.Minute)
	_, d1c := a.do(ctx, d1b, "/read") // and again
	if d1c == "" || d1c == d1b {
		t.Fatalf("no second rotation: %q", d1c)
	}
	d2 := a.login("alice")
	backdate(t, a, d2, 20*time.Minute)
	keep := a.login("alice")

	var d2b string
	h.afterRead.Store(once(func() { _, d2b = a.do(ctx, d2, "/read") }))
	w, _ := a.do(ctx, keep, "/revoke-others")
	if d2b == "" || d2b == d2 {
		t.Fatalf("no rotation during the call: %q", d2b)
	}
	if w.Body.String() != "revoked=2" {
		t.Errorf("/revoke-others: %s, want revoked=2", w.Body)
	}
	for id, want := range map[string]string{d1: "<nil>", d1b: "<nil>", d1c: "<nil>", d2: "<nil>", d2b: "<nil>", keep: "alice"} {
		if got := a.user(id); got != want {
			t.Errorf("after RevokeUser, %s sees user %s, want %s", id, got, want)
		}
	}
	if list, err := a.m.UserSessions(ctx, "alice"); err != nil || len(list) != 1 {
		t.Errorf("UserSessions = %d, %v; want the kept one", len(list), err)
	}
	if u := a.s.Stats().UnopenedValues; u != 0 {
		t.Errorf("UnopenedValues = %d", u)
	}
}

// The concurrent flows on Cluster and Sentinel, sealed and hashed.
func TestSealReviewFlowConcurrentOnCluster(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	a := newApp(t, sealedOpts(Options{ClusterAddrs: c.Addrs()[:1]}))
	testEveryChangeKept(t, a)
	testOldCookieFollowsRotation(t, a)
	u := newUserApp(t, sealedOpts(Options{ClusterAddrs: c.Addrs()[:1]}))
	id := u.login("carol")
	backdate(t, u, id, 20*time.Minute)
	slow := u.hold(id, "/set?x=1")
	if n, err := u.m.RevokeUser(context.Background(), "carol", nil); n != 1 || err != nil {
		t.Errorf("RevokeUser = %d, %v", n, err)
	}
	if set := slow.finish(); set != "" {
		t.Errorf("a request loaded before RevokeUser set cookie %q", set)
	}
	if got := u.user(id); got != "<nil>" {
		t.Errorf("revoked session sees %s", got)
	}
}

func TestSealReviewFlowConcurrentOnSentinel(t *testing.T) {
	g := redisserver.StartSentinel(t, redisserver.SentinelConfig{})
	opts := sealedOpts(Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName})
	a := newApp(t, opts)
	testEveryChangeKept(t, a)
	testOldCookieFollowsRotation(t, a)
	logoutRacedBy(t, a, a.login("alice"), "/set?cart=1")
	testLogOutEverywhere(t, opts)
}
