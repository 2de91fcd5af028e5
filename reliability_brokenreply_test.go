package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	fault "github.com/sessionx-redis/redisstore/redistest"
)

// A reply cut short fails the pipe: the calls queued behind it on the same
// connection are woken at once (and, never having had a reply byte, sent
// again on a new connection), not left to their deadline.
func TestReliabilityCallsBehindABrokenReplyAreFailed(t *testing.T) {
	srv, s := faultStore(t, Options{PoolSize: 1})
	putSession(srv, "a")
	// The reply to the first GET is held back until two more GETs are
	// queued behind it, then cut short and the connection closed.
	srv.Handle(fault.Rule{Command: "GET", Times: 1, Delay: 100 * time.Millisecond, Reply: "$100\r\nabc", CloseAfter: true})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			_, err := s.LoadContext(ctx, "a")
			took := time.Since(start)
			t.Logf("figure: call %d returned after %v: %v", i, took.Round(time.Millisecond), err)
			if took > time.Second {
				t.Errorf("call %d returned after %v: left waiting behind a broken reply", i, took)
			}
			if err != nil && classifyErr(err) == "" {
				t.Errorf("call %d: untyped error %v", i, err)
			}
		}()
	}
	wg.Wait()
	roundTrip(t, s, "after")
}
