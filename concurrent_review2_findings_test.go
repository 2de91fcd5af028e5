package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Second review round: attacks on the fixes of the first one. Each test
// here fails on the code under review.

// R2-1: Destroy follows an automatic rotation's marker only through
// GETDEL's reply. On a server without GETDEL (Redis 6.0 and 6.1, which the
// README supports: "Redis 6.0 or later"; simulated by renaming the
// command) DeleteVersion falls back to a plain DEL and returns nothing, so
// the marker is never seen: a logout racing an automatic rotation leaves
// the rotated session logged in (finding 1 of the first round, back).
func TestReview2DestroyWithoutGETDELLeavesRotatedSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--rename-command", "GETDEL", "GETDEL_UNAVAILABLE"}})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due (15m)

	logout := a.hold(id, "/logout")
	_, next := a.do(context.Background(), id, "/read") // rotates
	if next == "" || next == id {
		t.Fatalf("the parallel request did not rotate: cookie %q", next)
	}
	if set := logout.finish(); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	if data := a.data(next); data != nil {
		t.Errorf("server without GETDEL: after the logout the rotated ID %s still holds the session %v", next, data)
	}
}

// review2LostRetire is the app's store where one Retire runs but its reply
// is lost, and then the network is down for reads (LoadVersion fails)
// while deletes get through again: an outage longer than settleTimeout and
// shorter than destroyTimeout.
type review2LostRetire struct {
	*RedisStore
	armed atomic.Bool
	down  atomic.Bool
}

func (s *review2LostRetire) Retire(ctx context.Context, id string, version []byte, m session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	st, ok, err := s.RedisStore.Retire(ctx, id, version, m, ttl)
	if s.armed.Swap(false) {
		s.down.Store(true)
		return session.Stored{}, false, errors.New("read tcp 127.0.0.1:6379: i/o timeout")
	}
	return st, ok, err
}

func (s *review2LostRetire) LoadVersion(ctx context.Context, id string) (session.Stored, error) {
	if s.down.Load() {
		return session.Stored{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return s.RedisStore.LoadVersion(ctx, id)
}

// R2-2: an automatic rotation whose Retire ran but whose reply was lost,
// and whose read-back fails too (retired() gives up after settleTimeout),
// deletes the new ID in rotateVersioned's deferred cleanup. The old ID
// holds "moved to <new ID>": the session is gone. Every later request of
// the user (old cookie, within the grace) forwards to nothing and gets a
// fresh session: an active user logged out by a short network blip. Left
// alone, the new ID would have lived pendingTTL, and the first request
// within the grace would have followed the marker to it and extended it.
func TestReview2LostRetireReplyDeletesLiveSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	var store *review2LostRetire
	a := newConcApp(t, srv, func(s *RedisStore) session.Store {
		store = &review2LostRetire{RedisStore: s}
		return store
	}, nil, session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}))
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due
	store.armed.Store(true)
	w, set := a.request(context.Background(), id, "/incr")
	store.down.Store(false) // the network is back
	t.Logf("rotating request: %d %q, cookie %q", w.Code, strings.TrimSpace(w.Body.String()), set)
	if got, _ := a.s.LoadVersion(context.Background(), id); got.Marker != nil {
		t.Logf("old ID holds a marker to %s, which holds %v", got.Marker.MovedTo, a.data(got.Marker.MovedTo))
	}
	// The browser kept the old cookie (the response failed); its next
	// request, within the grace:
	w, set = a.request(context.Background(), id, "/read")
	if !strings.Contains(w.Body.String(), "user=alice") {
		t.Errorf("after a rotation whose Retire reply was lost, the user's cookie reads %q (cookie %q): the session was deleted", strings.TrimSpace(w.Body.String()), set)
	}
}

// R2-3: the logout's fix for migrated sessions deletes the derived ID, but
// a request carrying the same sealed cookie that loaded before the logout
// and saves after it creates the derived ID then: the session comes back,
// logged in, and its response hands the browser its cookie. The doc
// promises no resurrection by a request loaded before the logout; only a
// replay after it is the stated limit.
func TestReview2MigratedSessionRecreatedAfterLogout(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	slow := a.hold(cookie, "/set?cart=1") // loaded before the logout
	if _, set := a.do(context.Background(), cookie, "/logout"); set != "-" {
		t.Errorf("logout set %q", set)
	}
	set := slow.finish()
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 || set != "" {
		t.Errorf("a request loaded before the logout recreated the migrated session: cookie %q, live %v", set, live)
	}
}

// R2-4: a user allowed EVAL but not EVALSHA. Concurrent saves all send
// EVALSHA; the first refusal to be handled swaps evalOnly and retries with
// EVAL, but every other one finds evalOnly already set (Swap returns true)
// and falls through to the "refuses scripts" branch: the store goes plain
// (unconditional SETs) for scriptRetryInterval, logs that scripts are
// refused, and resets evalOnly so that the race repeats after every
// interval.
func TestReview2EvalOnlyUserConcurrentSavesGoPlain(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -evalsha"}})
	for round := range 5 {
		var log argLogger
		s := openStore(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log, PoolSize: 8})
		const n = 32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				id := fmt.Sprintf("EvalOnly%02d%012d", round, i)
				v := []byte(`{"ID":"` + id + `"}`)
				if _, ok, err := attackSave(s, context.Background(), id, v, nil, time.Minute); !ok || err != nil {
					t.Errorf("%s: ok=%v err=%v", id, ok, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if attackPlainWrites(s) || len(log.scriptWarnings()) != 0 {
			// What it costs: a create is no longer conditional.
			id := fmt.Sprintf("EvalOnly%02d%012d", round, 0)
			_, ok, _ := attackSave(s, context.Background(), id, []byte(`{"ID":"`+id+`","x":1}`), nil, time.Minute)
			t.Fatalf("round %d: a user allowed EVAL went plain under %d concurrent saves (warnings %q); a create over an existing session now succeeds: %v",
				round, n, log.scriptWarnings(), ok)
		}
	}
}

// review2FlashRoutes: /flash-empty adds a flash under the empty key and
// waits for /flash to save first.
func review2FlashRoutes(first <-chan struct{}) map[string]func(a *app, w http.ResponseWriter, r *http.Request) {
	return map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/flash-empty": func(a *app, w http.ResponseWriter, r *http.Request) {
			session.Get(r).AddFlash("", "x")
			<-first
		},
		"/flash": concFlashRoutes["/flash"],
	}
}

// R2-5: the flash merge encodes "a key of the flash map" as sub != "", so
// a flash under the empty key (AddFlash("", v), a valid key) is re-applied
// as a top-level change: applyChanges sets Data["_flashes"] to the flash's
// value itself, dropping the flash map with the other request's flash and
// leaving a string where flashes live. (Reading a ""-flash likewise deletes
// the whole flash map.)
func TestReview2FlashUnderEmptyKeyReplacesFlashMap(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	first := make(chan struct{})
	a := newConcApp(t, srv, nil, review2FlashRoutes(first))
	id := a.login("alice")
	a.pair(id, "/flash-empty", "/flash?info=y", first)
	flashes, ok := a.data(id)["_flashes"].(map[string]interface{})
	if !ok || flashes[""] != "x" || flashes["info"] != "y" {
		t.Errorf("_flashes stored %#v, want {\"\": x, info: y}", a.data(id)["_flashes"])
	}
}

// R2-6: a login (explicit Rotate) in a request that carries the pre-login
// cookie after another login retired it: a double-submitted login form,
// whose first request the browser cancelled (its Set-Cookie never
// arrives). The second request's session is the grace's empty, ended
// one; its Rotate is a no-op on an ended session and its save returns
// ErrSessionEnded, which the middleware ignores: the response says
// "welcome" (200) and sets no cookie. The user is not logged in, and the
// pre-login cookie now leads to an empty session.
func TestReview2LoginWithRetiredCookieIsSilentlyDropped(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	_, pre := a.do(context.Background(), "", "/set?cart=1")
	if _, first := a.do(context.Background(), pre, "/login?user=alice"); first == "" || first == pre {
		t.Fatalf("first login set %q", first)
	} // the browser never got this response
	w, second := a.do(context.Background(), pre, "/login?user=alice")
	if second == "" || second == "-" {
		t.Fatalf("the second login answered %d %q and set no cookie: the user is not logged in", w.Code, strings.TrimSpace(w.Body.String()))
	}
	if w, _ := a.do(context.Background(), second, "/read"); !strings.Contains(w.Body.String(), "user=alice") {
		t.Errorf("the second login's cookie reads %q", w.Body)
	}
}
