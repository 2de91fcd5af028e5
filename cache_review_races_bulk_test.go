//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// A session over 64 KiB is written through the bulk connection B and read
// through its shared connection A. A read on A whose generation moved (here
// by the hook of this process's own write on B) is not kept, and leaves
// alone the entry B's hook kept, although the read returned a newer value:
// the next Load serves the older one. Promise (2), "never a value older
// than one it already read", breaks until B's reader gets to the
// invalidation of the newer write; the gates only make B's reader that
// late, deterministically.
//
// Server order: W (this process, on B: n=0 -> 1), V2 (another process:
// 1 -> 2), R (this process's Load, on A: reads 2). Client order: W's hook
// keeps 1 from B, R's hook (generation moved) keeps nothing, the Load
// returns 2; the next Load returns 1.
func TestCacheReviewRacesBulkWriteOutlivesNewerRead(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	g := &gateTracker{}
	const poolSize = 4
	cached := openGatedStore(t, Options{Addr: srv.Addr, PoolSize: poolSize, CacheSize: 8 << 20}, g)
	writer := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	shared := max(1, min(poolSize, runtime.GOMAXPROCS(0)))
	if shared >= poolSize {
		t.Skip("no bulk pipe")
	}
	const k = "rv-k"
	k2 := keyLike("rv-b", k, shared, false) // tracked by B, holds B's reader
	k3 := keyLike("rv-a", k, shared, true)  // tracked by A, holds A's reader

	// k holds n=0; this process has never read it (A does not track it).
	if _, ok, err := writer.SaveVersion(ctx, k, bigCounter(k, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// B tracks k2 (the script reads it last); A tracks k3.
	if _, ok, err := cached.SaveVersion(ctx, k2, bigCounter(k2, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err := writer.SaveVersion(ctx, k3, counterValue(k3, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := rvLoad(t, cached, k3); n != 0 {
		t.Fatalf("k3: %d", n)
	}

	gB, gA, gK := g.arm("sessionx:"+k2), g.arm("sessionx:"+k3), g.arm("sessionx:"+k)
	// Both readers are late from now on.
	if _, ok, err := writer.SaveVersion(ctx, k2, bigCounter(k2, 1), bigCounter(k2, 0), time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	gB.wait(t, "k2 on B")
	if _, ok, err := writer.SaveVersion(ctx, k3, counterValue(k3, 1), counterValue(k3, 0), time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	gA.wait(t, "k3 on A")

	// W: this process's conditional write 0 -> 1, on B.
	type saved struct {
		st  session.Stored
		ok  bool
		err error
	}
	wDone := make(chan saved, 1)
	go func() {
		st, ok, err := cached.SaveVersion(ctx, k, bigCounter(k, 1), bigCounter(k, 0), time.Minute, false)
		wDone <- saved{st, ok, err}
	}()
	waitUntil(t, "W ran", func() bool { return rvLoad(t, writer, k) == 1 })
	// V2: another process's write 1 -> 2.
	if _, ok, err := writer.SaveVersion(ctx, k, bigCounter(k, 2), bigCounter(k, 1), time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// R: this process's Load, on A, misses the cache and reads 2.
	pttls := calls(t, srv, "pttl")
	rDone := make(chan int, 1)
	go func() {
		st, err := cached.LoadVersion(ctx, k)
		if err != nil {
			t.Error(err)
		}
		rDone <- counterIn(t, st.Value)
	}()
	waitUntil(t, "R ran", func() bool { return calls(t, srv, "pttl") > pttls })

	gB.open() // B reads W's reply (its hook runs), then V2's invalidation, held by gK
	w := <-wDone
	if w.err != nil || !w.ok {
		t.Fatalf("W: %v %v", w.ok, w.err)
	}
	gK.wait(t, "k on B")
	gA.open() // A reads R's reply
	if n := <-rDone; n != 2 {
		t.Fatalf("R read %d, want 2", n)
	}
	// This process has read 2. Nothing has been read since.
	if n := rvLoad(t, cached, k); n != 2 {
		t.Errorf("after reading n=2, LoadVersion returns n=%d (cache %+v)", n, cached.Stats().Cache)
	}
	gK.open()
}

// counterOfSize is session id holding counter n, padded with pad bytes.
func counterOfSize(id string, n, pad int) []byte {
	return []byte(`{"id":"` + id + `","data":{"n":` + strconv.Itoa(n) + `,"pad":"` + strings.Repeat("x", pad) + `"}}`)
}

// The same race the other way round, with no generation involved: the
// read's reply is read first and not kept (the newer value is bigger than
// a shard's share of CacheSize), and leaves no trace; the reply of the
// write that ran before it, read later on B, is kept and served. Sessions
// of 40 KiB go through the bulk connection (a conditional write carries
// the old value too) and fit a shard of a 1 MiB cache; the other
// process's 70 KiB value does not.
func TestCacheReviewRacesUnkeptReadThenOlderBulkWrite(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	g := &gateTracker{}
	const poolSize = 4
	cached := openGatedStore(t, Options{Addr: srv.Addr, PoolSize: poolSize, CacheSize: 1 << 20}, g)
	writer := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	shared := max(1, min(poolSize, runtime.GOMAXPROCS(0)))
	if shared >= poolSize {
		t.Skip("no bulk pipe")
	}
	const k = "rv-u"
	k2 := keyLike("rv-ub", k, shared, false) // tracked by B, holds B's reader
	v0, v1 := counterOfSize(k, 0, 39<<10), counterOfSize(k, 1, 39<<10)
	if _, ok, err := writer.SaveVersion(ctx, k, v0, nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
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
	go func() { // W: 0 -> 1 on B
		_, ok, err := cached.SaveVersion(ctx, k, v1, v0, time.Minute, false)
		wDone <- saved{ok, err}
	}()
	waitUntil(t, "W ran", func() bool { return rvLoad(t, writer, k) == 1 })
	// V2: another process, 1 -> 2, 70 KiB.
	if _, ok, err := writer.SaveVersion(ctx, k, bigCounter(k, 2), v1, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// R: this process reads 2 through A (not kept: too big).
	if n := rvLoad(t, cached, k); n != 2 {
		t.Fatalf("R read %d, want 2", n)
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
