package redisstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// R2-7: a login during cookie migration. The login request (sealed cookie)
// rotates explicitly: its session is fresh (migrated), so Rotate only
// picks a new ID and nothing retires the derived ID. A parallel request of
// the page, loaded with the same sealed cookie before the login, then
// creates the derived ID with the pre-login data and sends its cookie
// after the login's: the browser ends up on the pre-login session, and the
// logged-in session is unreachable. Without migration the same race ends
// the parallel request (its pre-login ID is retired) and it sets no
// cookie.
func TestReview2MigrationLoginReplacedByParallelRequest(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cookie := sealedCookie(t, map[string]interface{}{"cart": "1"})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	slow := a.hold(cookie, "/set?theme=dark") // an XHR of the page, loaded before the login
	_, login := a.do(context.Background(), cookie, "/login?user=alice")
	if login == "" || login == "-" {
		t.Fatalf("login set %q", login)
	}
	if set := slow.finish(); set != "" {
		w, _ := a.do(context.Background(), set, "/read")
		t.Errorf("a request loaded before the login set cookie %q after it (reads %q): the login's cookie %s is replaced", set, strings.TrimSpace(w.Body.String()), login)
	}
}

// R2-8: Rotate of a session the manager did not hand out (built by the
// app, copied, or kept past its request): Rotate tracks it as stored, with
// no version. With a VersionedStore the save writes the new ID, then
// Retire refuses a nil version with ErrInvalidSession, which storeError
// turns into ErrSessionEnded: the rotation never happens, the new ID is
// deleted, no cookie is set, and the session is reported ended although
// it is in the store untouched.
func TestReview2RotateOfUntrackedSessionReportsEnded(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	sess, err := a.s.Load(id) // the store's own API: not tracked by the manager
	if err != nil {
		t.Fatal(err)
	}
	a.m.Rotate(sess)
	w := httptest.NewRecorder()
	err = a.m.Save(w, sess)
	if err != nil || len(w.Result().Cookies()) != 1 {
		t.Errorf("Save after Rotate of an untracked session = %v, cookies %v; old ID holds %v", err, w.Result().Cookies(), a.data(id))
	}
}

// R2-9: a session key whose TTL is longer than MaxAge. The release before
// conditional saves wrote sessions with the store's TTL (24h) unless
// AbsoluteTimeout was set, and enforced MaxAge at Load from UpdatedAt;
// RedisStore.Save, the sessionx-compatible API apps use beside the
// manager, still does. loadVersioned checks only pastLimits (absolute
// timeout, future dates): the idle timeout is the TTL alone. So after an
// upgrade a session idle for 2h with MaxAge 30m loads, and its writes keep
// the 24h TTL (KEEPTTL; touchDue never fires while TTL > lifetime).
func TestReview2SessionWithTTLBeyondMaxAgeOutlivesIdleTimeout(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(30*time.Minute), session.WithRotationInterval(0))
	id := a.login("alice")
	// Written by the previous release 2 hours ago, idle since.
	got, _ := a.s.LoadVersion(context.Background(), id)
	var sess session.Session
	if err := json.Unmarshal(got.Value, &sess); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	sess.CreatedAt, sess.UpdatedAt = past, past
	if err := a.s.Save(&sess); err != nil { // store TTL: 24h
		t.Fatal(err)
	}
	w, _ := a.do(context.Background(), id, "/set?x=1")
	ttl := time.Duration(rawDo(t, srv.Addr, "PTTL", "sessionx:"+id).Int) * time.Millisecond
	if strings.Contains(w.Body.String(), "user=alice") || ttl > 30*time.Minute {
		t.Errorf("a session idle for 2h (MaxAge 30m) reads %q and now expires in %v", strings.TrimSpace(w.Body.String()), ttl.Round(time.Minute))
	}
}

// A storm of parallel requests with rotation due, under -race: one new
// ID, every change kept, every key with a TTL within MaxAge, then the
// same with half the requests on the old cookie (forwarded) and refresh
// due.
func TestReview2ParallelStormRotationRace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute)
	const n = 32
	set := a.parallel(n, id, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	next := set[0]
	for i, s := range set {
		if s != next || s == "" || s == id {
			t.Fatalf("request %d set %q, request 0 %q", i, s, next)
		}
	}
	data := a.data(next)
	for i := range n {
		if data["k"+strconv.Itoa(i)] != "v" {
			t.Errorf("k%d lost", i)
		}
	}
	rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+next, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
	cookies := []string{id, next}
	b := newBarrier(n)
	a.gate = func(*http.Request) { b.wait() }
	done := make(chan string, n)
	for i := range n {
		go func() {
			_, s := a.do(context.Background(), cookies[i%2], "/set?j"+strconv.Itoa(i)+"=v")
			done <- s
		}()
	}
	b.open()
	for range n {
		if s := <-done; s != next {
			t.Errorf("a request set %q, want %q", s, next)
		}
	}
	a.gate = nil
	data = a.data(next)
	for i := range n {
		if data["j"+strconv.Itoa(i)] != "v" {
			t.Errorf("j%d lost", i)
		}
	}
	for _, k := range rawDo(t, srv.Addr, "KEYS", "sessionx:*").Elems {
		ttl := time.Duration(rawDo(t, srv.Addr, "PTTL", k.Str).Int) * time.Millisecond
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s TTL %v", k.Str, ttl)
		}
	}
}

// Logins, logouts, rotations, reads and writes of one session at once,
// under -race: no 5xx, and afterwards at most one live session of the
// pre-login data per logged-in user, every one reachable by a cookie some
// response set.
func TestReview2ParallelStormMixedRace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	backdate(t, a, pre, 20*time.Minute)
	const n = 30
	set := a.parallel(n, pre, func(i int) string {
		switch {
		case i%10 == 0:
			return "/login?user=u" + strconv.Itoa(i)
		case i%10 == 5:
			return "/logout"
		case i%3 == 0:
			return "/read"
		default:
			return "/set?k" + strconv.Itoa(i) + "=v"
		}
	})
	sent := map[string]bool{}
	for _, s := range set {
		sent[s] = true
	}
	for _, k := range rawDo(t, srv.Addr, "KEYS", "sessionx:*").Elems {
		v := rawDo(t, srv.Addr, "GET", k.Str).Str
		if strings.HasPrefix(v, "!") {
			continue
		}
		id := strings.TrimPrefix(k.Str, "sessionx:")
		if !sent[id] {
			t.Errorf("live session %s set by no response: %s", id, v)
		}
		ttl := time.Duration(rawDo(t, srv.Addr, "PTTL", k.Str).Int) * time.Millisecond
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s TTL %v", id, ttl)
		}
	}
}
