package redisstore

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// A TTL longer than MaxAge is not the manager's (a session written by
// Save or the release before, with the store's 24h; or MaxAge lowered
// since): the idle timeout is then judged by UpdatedAt, the last change,
// and the TTL is capped to MaxAge at once. The documented trade-off: after
// MaxAge is lowered (1h -> 30m), a session only read since its last change
// 40m ago is ended, although a touch 10m ago kept it alive under the old
// config; one changed 10m ago is kept, its TTL capped.
func TestLoweredMaxAgeJudgesForeignTTLByLastChange(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(30*time.Minute), session.WithRotationInterval(2*time.Hour))
	for _, tc := range []struct {
		changed time.Duration
		kept    bool
	}{{40 * time.Minute, false}, {10 * time.Minute, true}} {
		id := a.login("alice")
		backdate(t, a, id, tc.changed)
		rawDo(t, srv.Addr, "PEXPIRE", "sessionx:"+id, strconv.Itoa(int(50*time.Minute/time.Millisecond)))
		w, _ := a.do(context.Background(), id, "/read")
		kept := strings.Contains(w.Body.String(), "user=alice")
		ttl := time.Duration(rawDo(t, srv.Addr, "PTTL", "sessionx:"+id).Int) * time.Millisecond
		if kept != tc.kept || kept && ttl > 30*time.Minute {
			t.Errorf("changed %v ago, TTL 50m, MaxAge 30m: kept %v (want %v), TTL now %v", tc.changed, kept, tc.kept, ttl)
		}
	}
}
