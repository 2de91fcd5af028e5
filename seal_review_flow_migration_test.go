//go:build !redisstore_noseal

package redisstore

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review: cookie migration (derived IDs, Revoke with always) sealed and
// hashed: parallel first requests make one session; a login retires the
// derived ID with a sealed marker; a logout ends it.
func TestSealReviewFlowCookieMigration(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	a := newApp(t, sealedOpts(Options{Addr: srv.Addr}), session.WithCookieMigration())
	cookie := sealedCookie(t, map[string]interface{}{"user": "alice"})
	set := a.parallel(4, cookie, func(i int) string { return "/set?k" + strconv.Itoa(i) + "=v" })
	for i := 1; i < len(set); i++ {
		if set[i] != set[0] || len(set[0]) != 22 {
			t.Fatalf("cookies %q", set)
		}
	}
	id := set[0]
	if data := a.data(id); data["user"] != "alice" || len(data) != 5 {
		t.Errorf("migrated session = %v", data)
	}
	_, post := a.do(ctx, cookie, "/login?user=bob")
	if post == "" || post == id {
		t.Fatalf("login set %q", post)
	}
	if got, err := a.s.LoadVersion(ctx, id); err != nil || got.Marker == nil || got.Marker.MovedTo != "" {
		t.Errorf("derived ID after the login: %+v, %v", got, err)
	}
	// (The handler sees the cookie's own Data, as without sealing; nothing
	// is saved nor sent.)
	if w, c := a.do(ctx, cookie, "/set?x=1"); c != "" || strings.Contains(w.Body.String(), "bob") {
		t.Errorf("the sealed cookie after the login: %s, cookie %q", w.Body, c)
	}
	a.do(ctx, post, "/logout")
	if got := a.user(post); got != "<nil>" {
		t.Errorf("after logout %s", got)
	}
	sealedEverywhere(t, a, id, post)
	if u := a.s.Stats().UnopenedValues; u != 0 {
		t.Errorf("UnopenedValues = %d", u)
	}
}
