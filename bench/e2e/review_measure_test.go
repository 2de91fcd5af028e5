package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Review finding (fixed: Run calls ready after the logins, where cmd/e2e
// reads its counters): the counters were read before Run, which logs
// every user in first, so the logins' commands, CPU and allocations were
// in the deltas but not in Requests, the divisor of every per-request
// column. With 10% writes, writes (SET for the sessionx design) per
// measured request must be about 0.10.
func TestReviewPerRequestColumnsIncludeTheLogins(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rc.Close()
	var st Stack
	for _, s := range Stacks() {
		if s.Name == "sessionx design on go-redis" {
			st = s
		}
	}
	url := serve(t, st, srv.Addr)
	ctx := context.Background()
	var r0 RedisStats
	ready := func() (err error) { r0, err = ReadRedisStats(ctx, rc); return err } // as cmd/e2e's measure does
	res, err := Run(ctx, url, Load{Users: 200, Clients: 32, Reads: 0.9, Duration: 200 * time.Millisecond}, true, ready)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := ReadRedisStats(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	d := r1.Sub(r0)
	perReq := float64(d.Calls["set"]) / float64(res.Requests)
	t.Logf("%d requests, %d SET: %.3f SET/req (table would print this), want ~0.10", res.Requests, d.Calls["set"], perReq)
	if perReq > 0.11 {
		t.Errorf("SET/req %.3f: the %d logins are in the Redis delta but not in Requests", perReq, 200)
	}
}
