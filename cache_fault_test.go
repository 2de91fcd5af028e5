//go:build !redisstore_nocache

package redisstore

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/redistest"
)

// invalidation is the RESP3 push that says key changed.
func invalidation(key string) string {
	return ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n"
}

// faultCache returns the fault server, which turns tracking on without
// tracking anything (the rules send the pushes), with session "p" in it,
// and a store with a cache on it.
func faultCache(t *testing.T) (*redistest.Server, *RedisStore) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "CLIENT", Match: func(args []string) bool { return len(args) > 1 && args[1] == "TRACKING" }, Reply: "+OK\r\n"})
	srv.Put("sessionx:p", `{"id":"p","data":{"user":"alice"}}`, 0)
	return srv, openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, HealthCheckInterval: -1})
}

// Invalidations that arrive at every point of a read in flight, and pushes
// of any shape, never leave a value cached that the server may have
// changed, and never break the connection.
func TestCachePushesAtOddMoments(t *testing.T) {
	const key = "sessionx:p"
	value := "$" + strconv.Itoa(len(`{"id":"p","data":{"user":"alice"}}`)) + "\r\n" + `{"id":"p","data":{"user":"alice"}}` + "\r\n"
	cases := []struct {
		name   string
		rule   redistest.Rule
		cached bool // the second Load is served from the cache
	}{
		{"no push", redistest.Rule{}, true},
		{"before the GET's reply", redistest.Rule{Command: "GET", Reply: invalidation(key) + value}, false},
		{"between the GET's reply and the PTTL's", redistest.Rule{Command: "PTTL", Reply: invalidation(key) + ":-1\r\n"}, false},
		{"after the PTTL's reply", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n" + invalidation(key)}, false},
		{"of another key", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n" + invalidation("sessionx:q")}, true},
		{"flush (null keys)", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"}, false},
		{"keys not an array", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>2\r\n$10\r\ninvalidate\r\n:7\r\n"}, false},
		{"a key not a string", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n:7\r\n"}, false},
		{"no keys at all", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>1\r\n$10\r\ninvalidate\r\n"}, false},
		{"tracking-redir-broken", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>1\r\n$21\r\ntracking-redir-broken\r\n"}, false},
		{"a push of another kind", redistest.Rule{Command: "PTTL", Reply: ":-1\r\n>2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, s := faultCache(t)
			if tc.rule.Command != "" {
				tc.rule.Times = 1
				srv.Handle(tc.rule)
			}
			if u := loadUser(t, s, "p"); u != "alice" {
				t.Fatalf("first Load: user %q", u)
			}
			dials := s.Stats().Pool.Dials
			gets := srv.Count("GET")
			if u := loadUser(t, s, "p"); u != "alice" {
				t.Fatalf("second Load: user %q", u)
			}
			if cached := srv.Count("GET") == gets; cached != tc.cached {
				t.Errorf("second Load served from the cache: %v, want %v (%+v)", cached, tc.cached, s.Stats().Cache)
			}
			if d := s.Stats().Pool.Dials; d != dials {
				t.Errorf("the push cost the connection: %d dials, then %d", dials, d)
			}
		})
	}
}

// A server that refuses CLIENT TRACKING runs the store without the cache,
// and Logger says so once.
func TestCacheOffWhereTrackingIsRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{}) // answers CLIENT TRACKING with an error
	srv.Put("sessionx:p", `{"id":"p","data":{"user":"alice"}}`, 0)
	log := &argLogger{}
	s := openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, PoolSize: 4, Logger: log})
	for range 5 {
		if u := loadUser(t, s, "p"); u != "alice" {
			t.Fatalf("Load: user %q", u)
		}
	}
	if n := srv.Count("GET"); n != 5 {
		t.Errorf("%d GETs for 5 Loads, want 5: served from a cache nobody invalidates", n)
	}
	if w := log.warningsWith("client-side cache is off"); len(w) != 1 {
		t.Errorf("Logger told %d times, want once: %q", len(w), w)
	}
}

// warningsWith returns the warnings that contain s.
func (l *argLogger) warningsWith(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.warns {
		if strings.Contains(w, s) {
			out = append(out, w)
		}
	}
	return out
}
