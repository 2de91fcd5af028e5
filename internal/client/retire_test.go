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

// A batch that meets pipe after pipe retiring just before it is sent goes
// on to the next one: retirement is no failure, so maxRefused, which
// bounds failed pipes, does not end it. Each pipe here lives for one batch
// (MaxLifetime 1 ns), sent by the hook between choosing the pipe and
// using it.
func TestBatchOutlastsPipesRetiringBeforeIt(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr, MaxLifetime: time.Nanosecond})
	ctx := context.Background()
	retired := 0
	testHookPipeChosen = func(p *pipe) {
		if retired == 2*maxRefused {
			return
		}
		var b Batch
		b.Add(ReplyAny, "PING")
		if _, err := p.roundTrip(ctx, &b, false, nil); err != nil {
			t.Errorf("the hook's PING: %v", err)
		}
		if !p.dead.Load() {
			t.Fatal("a pipe living 1 ns did not retire after its batch")
		}
		retired++
	}
	t.Cleanup(func() { testHookPipeChosen = nil })
	var b Batch
	b.Add(ReplyBulk, "GET", Key("retire:", "k"))
	if err := c.Do(ctx, &b); err != nil {
		t.Fatalf("GET after %d pipes retired before it: %v", retired, err)
	}
	if retired != 2*maxRefused {
		t.Errorf("%d pipes retired before the GET, want %d", retired, 2*maxRefused)
	}
}
