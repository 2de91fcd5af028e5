//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// The race of TestCacheReviewRacesBulkWriteOutlivesNewerRead without
// gates: goroutines of a caching store and of another process increment
// a counter over 64 KiB with conditional writes (this process's go
// through the bulk connection, its reads through a shared one). A Load
// that starts after this process saw n (read or wrote it) must return n
// or more. It fails by chance: how often is in the report.
func TestCacheReviewRacesBulkCounterNeverGoesBack(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{PoolSize: 4, CacheSize: 8 << 20})
	ctx := context.Background()
	const id = "rv-stress"
	if _, ok, err := writer.SaveVersion(ctx, id, bigCounter(id, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var seen atomic.Int64 // the highest n this process read or wrote
	raise := func(n int) {
		for {
			cur := seen.Load()
			if int64(n) <= cur || seen.CompareAndSwap(cur, int64(n)) {
				return
			}
		}
	}
	var back atomic.Int64
	var firstBack atomic.Value
	stop := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	for g := range 4 {
		s := cached
		if g == 3 {
			s = writer
		}
		wg.Go(func() {
			for time.Now().Before(stop) {
				floor := seen.Load()
				st, err := s.LoadVersion(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				n := counterIn(t, st.Value)
				if s == cached {
					if int64(n) < floor {
						back.Add(1)
						firstBack.CompareAndSwap(nil, [2]int64{floor, int64(n)})
					}
					raise(n)
				}
				_, ok, err := s.SaveVersion(ctx, id, bigCounter(id, n+1), st.Version, time.Minute, false)
				if err != nil {
					t.Error(err)
					return
				}
				if ok && s == cached {
					raise(n + 1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("cache %+v", cached.Stats().Cache)
	if n := back.Load(); n > 0 {
		fb := firstBack.Load().([2]int64)
		t.Errorf("%d Loads returned a counter older than one this process had already seen (first: n=%d after n=%d)", n, fb[1], fb[0])
	}
}
