package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Held: a logout whose ID holds a key of another type replaces it; an
// unknown ID gets no marker; a PERSISTed session gets a TTL on a read.
func TestReview3HeldRevokeAndTTL(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := "AAAAAAAAAAAAAAAAAAAAAA"
	rawDo(t, srv.Addr, "HSET", "sessionx:"+id, "f", "v")
	if w, set := a.request(context.Background(), id, "/logout"); w.Code != 200 || set != "-" {
		t.Errorf("logout on a hash: %d %q", w.Code, w.Body)
	}
	if v := rawDo(t, srv.Addr, "TYPE", "sessionx:"+id).Str; v != "string" {
		t.Errorf("hash not replaced: type %s", v)
	}
	before := dbsize(t, srv.Addr)
	for _, u := range []string{"BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCC"} {
		a.do(context.Background(), u, "/logout")
	}
	if after := dbsize(t, srv.Addr); after != before {
		t.Errorf("logouts of unknown IDs added %d keys", after-before)
	}
	live := a.login("alice")
	rawDo(t, srv.Addr, "PERSIST", "sessionx:"+live)
	w, _ := a.do(context.Background(), live, "/read")
	if !strings.Contains(w.Body.String(), "alice") {
		t.Errorf("read %q", w.Body)
	}
	if ttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+live).Int; ttl <= 0 || ttl > int64(time.Hour/time.Millisecond) {
		t.Errorf("PERSISTed session after a read has PTTL %d", ttl)
	}
}
