package redisstore

import (
	"context"
	"net/http"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// A handler that rotates a migrated session (a login step) and then
// destroys it (the step failed) in one request: Destroy revokes sess.ID,
// by then the new random ID, and forgets st.retire, the derived ID. A
// parallel request of the same sealed cookie that already created the
// derived ID keeps it live, with the cookie it was sent.
func TestReview3MigratedRotateThenDestroyMissesDerivedID(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newConcApp(t, srv, nil, map[string]func(a *app, w http.ResponseWriter, r *http.Request){
		"/abort": func(a *app, w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			a.m.Rotate(sess)
			sess.Data["user"] = "alice"
			if err := a.m.Destroy(w, r); err != nil {
				http.Error(w, err.Error(), 500)
			}
		},
	}, session.WithCookieMigration())
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})

	abort := a.hold(cookie, "/abort")
	_, derived := a.do(context.Background(), cookie, "/set?x=1") // a parallel tab migrates first
	if derived == "" || derived == "-" {
		t.Fatalf("parallel request set cookie %q", derived)
	}
	if set := abort.finish(); set != "-" {
		t.Errorf("abort set cookie %q", set)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("after Destroy, sessions of alice live on: %v (derived ID %s)", live, derived)
	}
	if got := dbsize(t, srv.Addr); got > 1 {
		t.Logf("keys in Redis: %d", got)
	}
}
