//go:build !redisstore_nocache

package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
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
