package redisstore

import (
	"context"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// A login (Rotate) that loaded a migrated sealed-cookie session, racing a
// logout of it: the logout ends first (a retired marker under the derived
// ID), then the login's create writes its new random ID unconditionally
// and Revokes the derived ID with always, ignoring the retired marker it
// finds there. The ended session's data is written again under a new ID
// and the cookie is sent: the logout is undone. With a stored session the
// same race ends the login (Retire fails on the marker: ErrSessionEnded).
func TestReview3MigratedLoginRacingLogoutResurrectsSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithCookieMigration())
	cookie := sealedCookie(t, map[string]interface{}{"cart": "secret"})

	login := a.hold(cookie, "/login?user=alice")
	if _, set := a.do(context.Background(), cookie, "/logout"); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	set := login.finish()
	if set != "" && set != "-" {
		data := a.data(set)
		t.Errorf("a login loaded before the logout set cookie %q after it; that ID holds %v", set, data)
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("sessions after the logout: %v", live)
	}
}

// The stored-session counterpart, for comparison: expected to hold.
func TestReview3StoredLoginRacingLogoutStaysLoggedOut(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	_, id := a.do(context.Background(), "", "/set?cart=secret")
	login := a.hold(id, "/login?user=alice")
	if _, set := a.do(context.Background(), id, "/logout"); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	if set := login.finish(); set != "" && !strings.HasPrefix(set, "-") {
		t.Errorf("stored: login after logout set cookie %q holding %v", set, a.data(set))
	}
}
