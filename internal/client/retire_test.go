package client

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// A pipe that retires (MaxLifetime, IdleTimeout) or fails refuses the
// batches that reach it after it ended; they were never written, so they
// go to another connection instead of failing with "connection retired".
func TestRetiredConnectionsNeverReachCallers(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr, MaxLifetime: time.Millisecond})
	ctx := context.Background()
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1500 {
				var b Batch
				b.Add(ReplyBulk, "GET", Key("retire:", "k"))
				if err := c.Do(ctx, &b); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	st := c.Stats()
	t.Logf("figure: 48,000 GETs over connections living 1 ms: %d failed, %d connections dialed", failed.Load(), st.Pool.Dials)
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 48,000 GETs failed, the first with %v", n, first.Load())
	}
}
