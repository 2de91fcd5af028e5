package redisstore

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Cookie migration (WithCookieMigration) with the ID derived from the
// sealed cookie, as in the working tree during the review: parallel
// requests carrying one sealed cookie take over one session.

// Finding 10: a request that migrates second (its create finds the derived
// ID taken) rebases with no snapshot, so every key of the sealed session
// counts as its own change: it writes the sealed cookie's old values over
// what the first request changed, and brings back what it deleted.
func TestAttackConcurrencyMigrationSecondRequestRevertsFirstsChanges(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice", "cart": "1", "promo": "x"})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	first := make(chan struct{})
	b := newBarrier(2)
	a.gate = func(r *http.Request) {
		b.wait()
		if r.URL.Query().Has("other") {
			<-first // the /set?cart=2 request migrates first
		}
	}
	var wg sync.WaitGroup
	var set [2]string
	wg.Go(func() {
		_, set[0] = a.do(context.Background(), cookie, "/set?cart=2")
		close(first)
	})
	wg.Go(func() { _, set[1] = a.do(context.Background(), cookie, "/set?other=1") })
	b.open()
	wg.Wait()
	a.gate = nil
	if set[0] == "" || set[0] != set[1] {
		t.Fatalf("cookies %q", set)
	}
	if data := a.data(set[0]); data["cart"] != "2" || data["other"] != "1" {
		t.Errorf("migrated session = %v, want cart=2 (the first request's change) and other=1", data)
	}
}

// Finding 11: a logout sent with the sealed cookie (the browser had not yet
// received the ID cookie of a parallel request that migrated it) deletes
// nothing: its own session is a fresh, never-stored migration, and the
// sealed value is not an ID. The session the parallel request created
// under the derived ID stays logged in, and that request's response gives
// the browser its cookie.
func TestAttackConcurrencyMigrationLogoutWithSealedCookieLeavesMigratedSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	logout := a.hold(cookie, "/logout")
	_, id := a.do(context.Background(), cookie, "/read") // a parallel request migrates
	if id == "" {
		t.Fatal("no migration")
	}
	if set := logout.finish(); set != "-" {
		t.Errorf("logout set %q", set)
	}
	a.gate = nil
	if data := a.data(id); data != nil {
		t.Errorf("after the logout the migrated session %s holds %v", id, data)
	}
}
