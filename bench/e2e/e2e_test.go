package e2e

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Every stack serves the load with every answer as its session's history
// implies: no write lost, no session lost, no stale read, on a real
// redis-server.
func TestEveryStackServesTheLoad(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	for _, st := range Stacks() {
		t.Run(st.Name, func(t *testing.T) {
			l := Load{Users: 20, Clients: 4, Reads: 0.5, Logins: 0.1, Duration: 300 * time.Millisecond}
			res, err := Run(context.Background(), serve(t, st, srv.Addr), l, !st.Stateless, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Failures > 0 || res.Requests < l.Users || res.LostUsers > 0 || res.Unreached > 0 {
				t.Errorf("%d requests, %d failed (first: %s), %d users lost, %d unreached", res.Requests, res.Failures, res.First, res.LostUsers, res.Unreached)
			}
		})
	}
}

// serve serves st on the Redis at addr for the rest of t and returns its
// URL.
func serve(t *testing.T, st Stack, addr string) string {
	t.Helper()
	h, release, err := st.Open(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}
