//go:build !redisstore_nocache

package redisstore_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/redistest"
)

// BenchmarkCachedStore measures Load and LoadVersion (with the session's
// decode) of the realistic session, one caller at a time, with the
// client-side cache off and on, on loopback and through a proxy that
// delays each way (redistest.Proxy: about 1 ms, its floor). It reports
// the client's and the server's CPU and the Redis commands per call.
func BenchmarkCachedStore(b *testing.B) {
	addr, pid := benchServer(b)
	proxy := redistest.StartProxy(b, addr)
	proxy.SetDelay(100 * time.Microsecond)
	ctx := context.Background()
	for _, net := range []struct{ name, addr string }{{"loopback", addr}, {"proxy", proxy.Addr()}} {
		for _, cache := range []string{"off", "on"} {
			opts := redisstore.Options{Addr: net.addr, Prefix: "benchcache:"}
			if cache == "on" {
				opts.CacheSize = 1 << 20
			}
			st, err := redisstore.NewRedisStore(opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			if err := st.SaveContext(ctx, benchkit.Session(benchkit.ID)); err != nil {
				b.Fatal(err)
			}
			for _, call := range []struct {
				name string
				do   func() error
			}{
				{"Load", func() error { _, err := st.LoadContext(ctx, benchkit.ID); return err }},
				{"LoadVersion", func() error { return loadVersion(ctx, st, benchkit.ID) }},
			} {
				b.Run("net="+net.name+"/cache="+cache+"/"+call.name, func(b *testing.B) {
					if err := call.do(); err != nil { // the cache's first read
						b.Fatal(err)
					}
					meter, cmds := benchkit.Start(b, pid), st.Stats().Commands
					for b.Loop() {
						if err := call.do(); err != nil {
							b.Fatal(err)
						}
					}
					meter.Report(b)
					reportCommands(b, st, cmds)
				})
			}
		}
	}
}

// BenchmarkMiddlewareCache is BenchmarkMiddlewareMix (nine reads in ten
// through the session manager's middleware) with the cache off and on.
func BenchmarkMiddlewareCache(b *testing.B) {
	addr, pid := benchServer(b)
	for _, cache := range []string{"off", "on"} {
		opts := redisstore.Options{Addr: addr, Prefix: "benchmixcache-" + cache + ":"}
		if cache == "on" {
			opts.CacheSize = 4 << 20
		}
		st, err := redisstore.NewRedisStore(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		b.Run("cache="+cache, func(b *testing.B) { serveMix(b, st, pid) })
	}
}

// measureStaleness saves a counter n times through writer and, after each
// Save returns, polls cached with Load until it returns the new value: how
// long after another process's write the cache serves it. A Load that
// returns a value older than one already read, or an error, fails tb;
// so does a value not seen within 10 s.
func measureStaleness(tb testing.TB, writer, cached *redisstore.RedisStore, n int) []time.Duration {
	const id = "staleness-0123456789"
	lags := make([]time.Duration, 0, n)
	sess := benchkit.Session(id)
	for i := 1; i <= n; i++ {
		sess.Data["n"] = float64(i)
		if err := writer.Save(sess); err != nil {
			tb.Fatal(err)
		}
		saved := time.Now()
		for {
			got, err := cached.Load(id)
			if err != nil {
				tb.Fatal(err)
			}
			seen, _ := got.Data["n"].(float64)
			if int(seen) < i-1 {
				tb.Fatalf("read %v after %d was read", seen, i-1)
			}
			if int(seen) == i {
				break
			}
			if time.Since(saved) > 10*time.Second {
				tb.Fatalf("write %d not seen within 10s", i)
			}
			runtime.Gosched() // as requests do between Loads: the connections' readers run
		}
		lags = append(lags, time.Since(saved))
	}
	slices.Sort(lags)
	return lags
}

// After another process's Save returns, the caching store serves the new
// value once the invalidation has come: 10,000 writes, none lost, none
// read back; the test reports the lag's percentiles (the README's figures
// come from BenchmarkCacheStaleness, pinned).
func TestCacheStaleness(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	writer, cached := stalenessStores(t, srv.Addr)
	lags := measureStaleness(t, writer, cached, 10_000)
	t.Logf("lag after another process's Save: p50 %v, p99 %v, max %v; cache %+v",
		lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1], cached.Stats().Cache)
	if st := cached.Stats().Cache; st.Invalidations < 9_000 {
		t.Errorf("%d invalidations for 10,000 writes: the reads did not go through the cache", st.Invalidations)
	}

	// Its own writes: 10,000 Saves, each Load right after returns it.
	sess := benchkit.Session("own-0123456789")
	for i := 1; i <= 10_000; i++ {
		sess.Data["n"] = float64(i)
		if err := cached.Save(sess); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the first reads Redis (Save drops the key), the second the cache
			got, err := cached.Load(sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := got.Data["n"].(float64); int(n) != i {
				t.Fatalf("Load right after its own Save %d: n=%v", i, n)
			}
		}
	}
}

// BenchmarkCacheStaleness reports the lag between another process's Save
// and the cache serving it, at the 50th and 99th percentiles and the
// longest, over b.N writes.
func BenchmarkCacheStaleness(b *testing.B) {
	addr, _ := benchServer(b)
	writer, cached := stalenessStores(b, addr)
	lags := measureStaleness(b, writer, cached, b.N)
	b.ReportMetric(float64(lags[len(lags)/2]), "p50-ns")
	b.ReportMetric(float64(lags[len(lags)*99/100]), "p99-ns")
	b.ReportMetric(float64(lags[len(lags)-1]), "max-ns")
	b.ReportMetric(0, "ns/op")
}

// stalenessStores returns a writer and a caching store on addr.
func stalenessStores(tb testing.TB, addr string) (writer, cached *redisstore.RedisStore) {
	var err error
	if writer, err = redisstore.NewRedisStore(redisstore.Options{Addr: addr}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { writer.Close() })
	if cached, err = redisstore.NewRedisStore(redisstore.Options{Addr: addr, CacheSize: 1 << 20}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cached.Close() })
	return writer, cached
}
