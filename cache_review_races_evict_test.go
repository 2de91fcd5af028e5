//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// sameShardOtherStripe returns an ID whose key lies in id's cache shard,
// in another generation stripe.
func sameShardOtherStripe(stem, id string) string {
	sh, st := location("sessionx:", id)
	for i := 0; ; i++ {
		c := stem + strconv.Itoa(i)
		if csh, cst := location("sessionx:", c); csh == sh && cst != st {
			return c
		}
	}
}

// An entry that leaves the cache without moving its key's generation (an
// eviction here; likewise a Get that finds it past CacheTTL or its PTTL)
// takes with it the only trace that this process read a newer value: the
// reply of a write that ran before that value, read later through the
// bulk connection, is kept and served.
//
// Server order: W (this process, on B: n=0 -> 1), V2 (another process:
// 1 -> 2), R (this process's Load, on A: reads 2, kept). Then a Load of
// another session of the shard evicts k's entry. Client order: B's reader
// (late) reads W's reply: no entry, the generation as W left it, so 1 is
// kept from B; the next Load returns 1 after 2.
func TestCacheReviewRacesEvictionForgetsANewerRead(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	g := &gateTracker{}
	const poolSize = 4
	cached := openGatedStore(t, Options{Addr: srv.Addr, PoolSize: poolSize, CacheSize: 1 << 20}, g) // shards of 64 KiB
	writer := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	shared := max(1, min(poolSize, runtime.GOMAXPROCS(0)))
	if shared >= poolSize {
		t.Skip("no bulk pipe")
	}
	const k = "rv-e"
	k2 := keyLike("rv-eb", k, shared, false) // tracked by B, holds B's reader
	k4 := sameShardOtherStripe("rv-ee", k)   // evicts k's entry
	const pad = 39 << 10                     // two fit no shard; a write of one carries two: the bulk connection
	v0, v1, v2 := counterOfSize(k, 0, pad), counterOfSize(k, 1, pad), counterOfSize(k, 2, pad)
	for _, kv := range [][2][]byte{{[]byte(k), v0}, {[]byte(k4), counterOfSize(k4, 4, pad)}} {
		if _, ok, err := writer.SaveVersion(ctx, string(kv[0]), kv[1], nil, time.Minute, false); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if _, ok, err := cached.SaveVersion(ctx, k2, bigCounter(k2, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	gB, gK := g.arm("sessionx:"+k2), g.arm("sessionx:"+k)
	if _, ok, err := writer.SaveVersion(ctx, k2, bigCounter(k2, 1), bigCounter(k2, 0), time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	gB.wait(t, "k2 on B") // B's reader is late from now on

	type saved struct {
		ok  bool
		err error
	}
	wDone := make(chan saved, 1)
	go func() { // W: 0 -> 1, on B
		_, ok, err := cached.SaveVersion(ctx, k, v1, v0, time.Minute, false)
		wDone <- saved{ok, err}
	}()
	waitUntil(t, "W ran", func() bool { return rvLoad(t, writer, k) == 1 })
	if _, ok, err := writer.SaveVersion(ctx, k, v2, v1, time.Minute, false); err != nil || !ok { // V2
		t.Fatal(ok, err)
	}
	if n := rvLoad(t, cached, k); n != 2 { // R, on A, kept
		t.Fatalf("R read %d, want 2", n)
	}
	if _, _, ok := cached.cache.Get("sessionx:", k); !ok {
		t.Fatal("R's reply was not kept")
	}
	ev := cached.Stats().Cache.Evictions
	if n := rvLoad(t, cached, k4); n != 4 { // evicts k's entry
		t.Fatalf("k4: %d", n)
	}
	if st := cached.Stats().Cache; st.Evictions == ev {
		t.Fatalf("nothing evicted: %+v", st)
	}
	gB.open() // B reads W's reply, then V2's invalidation, held by gK
	if w := <-wDone; w.err != nil || !w.ok {
		t.Fatalf("W: %v %v", w.ok, w.err)
	}
	gK.wait(t, "k on B")
	if n := rvLoad(t, cached, k); n != 2 {
		t.Errorf("after reading n=2, LoadVersion returns n=%d (cache %+v)", n, cached.Stats().Cache)
	}
	gK.open()
}
