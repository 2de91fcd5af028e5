package redisstore

import (
	"context"
	"net/http"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review (issue 14): a corrupt or foreign value under a user's index key.
// The project's rule for a foreign value under a session's key is "a
// fresh session, not a 503 on every request for as long as the key lives"
// (TestWrongTypeKeyIsAFreshSessionNotAnOutage). Under an index key the
// same foreign value makes every login of that user fail.

// corruptIndexApp is newUserApp whose error handler records the error.
func corruptIndexApp(t *testing.T, addr string) (*app, *error) {
	var got error
	a := newUserApp(t, Options{Addr: addr}, session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	return a, &got
}

func TestReviewFaultsForeignIndexKeyLocksUserOut(t *testing.T) {
	for name, write := range map[string]func(a *app, key client.Arg){
		"string": func(a *app, key client.Arg) { a.redis(client.ReplyOK, "SET", key, client.Str("x")) },
		"hash":   func(a *app, key client.Arg) { a.redis(client.ReplyInt, "HSET", key, client.Str("f"), client.Str("v")) },
		"list":   func(a *app, key client.Arg) { a.redis(client.ReplyInt, "RPUSH", key, client.Str("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{})
			a, got := corruptIndexApp(t, srv.Addr)
			write(a, client.Key("sessionx:user ", "alice"))
			w, set := a.request(context.Background(), "", "/login?user=alice")
			_, errList := a.m.UserSessions(context.Background(), "alice")
			t.Logf("login: %d, cookie %q, error %v; UserSessions: %v", w.Code, set, *got, errList)
			if w.Code != http.StatusOK {
				t.Errorf("a %s under alice's index key: alice's login fails (%d: %v) for as long as the key lives", name, w.Code, *got)
			}
		})
	}
}

// An entry whose score is not a whole number of milliseconds in range
// (+inf, a fraction, 1e20: ZADD takes them all) makes the script's
// PEXPIREAT fail after its ZADD: every login of the user fails with
// "ERR value is not an integer or out of range", which names neither the
// index nor the user, and the index never expires (its TTL is never set
// again; a key without one keeps the user locked out for good).
func TestReviewFaultsCorruptIndexScoreLocksUserOut(t *testing.T) {
	for _, score := range []string{"+inf", "1e20", "9999999999999.5"} {
		t.Run(score, func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{})
			a, got := corruptIndexApp(t, srv.Addr)
			key := client.Key("sessionx:user ", "alice")
			a.redis(client.ReplyInt, "ZADD", key, client.Str(score), client.Str("AAAAAAAAAAAAAAAAAAAAAA"))
			w, set := a.request(context.Background(), "", "/login?user=alice")
			t.Logf("login with an entry scored %s: %d, cookie %q, error %v", score, w.Code, set, *got)
			if w.Code != http.StatusOK {
				t.Errorf("an index entry scored %s: alice's login fails (%d: %v)", score, w.Code, *got)
			}
			entries, pttl := a.index("alice")
			if pttl < 0 {
				t.Errorf("the index (%d entries) has no TTL after the login: PTTL %v", len(entries), pttl)
			}
		})
	}
}
