package redisstore

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
)

// review2Stall makes the server at addr block for d (DEBUG SLEEP, as a
// fork, a big DEL or a slow script would) and returns once it is
// blocked: a PING then gets no answer.
func review2Stall(t *testing.T, addr string, d time.Duration) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write(resp.AppendCommand(nil, "DEBUG", "SLEEP", strings.TrimSuffix(d.String(), "s"))); err != nil {
		t.Error(err)
		return
	}
	for {
		probe, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		probe.SetDeadline(time.Now().Add(50 * time.Millisecond))
		probe.Write(resp.AppendCommand(nil, "PING"))
		_, err = probe.Read(make([]byte, 16))
		probe.Close()
		if err != nil {
			return // no answer: the server is blocked
		}
	}
}

// R2-2, on a real server, no fake store: Redis stalls (3.5s) just as an
// automatic rotation sends its Retire; the client's ReadTimeout (200ms)
// fails the Retire, retired()'s read-back fails for settleTimeout, and
// deleteDetached queues a DEL of the new ID. When Redis wakes it runs the
// Retire (the old ID now says "moved to <new ID>") and then the DEL: the
// session is gone, and the user's next request, with the old cookie
// within the grace, gets a fresh session.
func TestReview2RedisStallDuringRotationLosesSession(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--enable-debug-command", "yes"}})
	a, h := newHookApp(t, Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due
	h.beforeRetire.Store(once(func() { review2Stall(t, srv.Addr, 3500*time.Millisecond) }))
	w, set := a.request(context.Background(), id, "/incr")
	h.beforeRetire.Store(nil)
	rawDo(t, srv.Addr, "PING") // Redis is awake and has run what was queued
	t.Logf("rotating request: %d %q, cookie %q", w.Code, strings.TrimSpace(w.Body.String()), set)
	if got, _ := a.s.LoadVersion(context.Background(), id); got.Marker != nil {
		t.Logf("old ID: moved to %s, which holds %v", got.Marker.MovedTo, a.data(got.Marker.MovedTo))
	}
	if w, set := a.request(context.Background(), id, "/read"); !strings.Contains(w.Body.String(), "user=alice") {
		t.Errorf("after a Redis stall during the rotation, the user's cookie reads %q (cookie %q): the session is lost", strings.TrimSpace(w.Body.String()), set)
	}
}
