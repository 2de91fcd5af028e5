package cache

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/resp"
)

// replies returns the replies of GET and PTTL: value (nil: a null) and
// pttl in milliseconds.
func replies(value []byte, pttl int64) []client.Reply {
	return []client.Reply{{Bulk: value, Null: value == nil}, {Int: pttl}}
}

// fakeClock makes nowFunc return what the test sets, until it ends.
func fakeClock(t *testing.T) *int64 {
	var now int64 = 1e9
	saved := nowFunc
	nowFunc = func() int64 { return now }
	t.Cleanup(func() { nowFunc = saved })
	return &now
}

func get(c *Cache, key string) (string, bool) {
	v, _, ok := c.Get("", key)
	return string(v), ok
}

func TestReadIsKeptAndServed(t *testing.T) {
	now := fakeClock(t)
	c := New(1<<20, time.Minute)
	src := client.NewSource(true)
	c.Read("", "k").Replied(src, replies([]byte("v1"), 30_000))
	v, ttl, ok := c.Get("", "k")
	if !ok || string(v) != "v1" || ttl != 30*time.Second {
		t.Fatalf("Get = %q, %v, %v; want v1, 30s", v, ttl, ok)
	}
	*now += int64(10 * time.Second)
	if _, ttl, _ := c.Get("", "k"); ttl != 20*time.Second {
		t.Errorf("TTL 10s later = %v, want 20s", ttl)
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 0 || st.Entries != 1 || st.Bytes != int64(len("k")+8+EntryOverhead) { // "v1" in the smallest size class
		t.Errorf("Stats = %+v", st)
	}
}

func TestNothingIsKeptFromAnUntrackedConnection(t *testing.T) {
	c := New(1<<20, time.Minute)
	c.Read("", "k").Replied(client.NewSource(false), replies([]byte("v"), 1000))
	if _, ok := get(c, "k"); ok {
		t.Error("a value read on a connection without tracking was served")
	}
}

func TestNullsErrorsAndGoneKeysAreNotKept(t *testing.T) {
	c := New(1<<20, time.Minute)
	src := client.NewSource(true)
	c.Read("", "null").Replied(src, replies(nil, -2))
	c.Read("", "gone").Replied(src, replies([]byte("v"), -2))
	c.Read("", "err").Replied(src, []client.Reply{{Bulk: []byte("v")}, {Err: fmt.Errorf("ERR")}})
	c.Read("", "short").Replied(src, replies([]byte("v"), 1000)[:1])
	if st := c.Stats(); st.Entries != 0 {
		t.Errorf("%d entries kept, want 0", st.Entries)
	}
}

// An invalidation read while a read was in flight (before its reply, or
// between its GET's reply and its PTTL's) wins: the reply is not kept.
func TestAnInvalidationOvertakingAReadWins(t *testing.T) {
	c := New(1<<20, time.Minute)
	src := client.NewSource(true)
	hook := c.Read("", "k")
	c.Invalidate(src, "k")
	hook.Replied(src, replies([]byte("old"), 1000))
	if _, ok := get(c, "k"); ok {
		t.Fatal("a reply overtaken by an invalidation was kept")
	}
	// Another connection's invalidation counts as well.
	hook = c.Read("", "k")
	c.Invalidate(client.NewSource(true), "k")
	hook.Replied(src, replies([]byte("old"), 1000))
	if _, ok := get(c, "k"); ok {
		t.Fatal("a reply overtaken by an invalidation on another connection was kept")
	}
	// An invalidation of another key does not stop it (unless they share
	// a generation, which this key set avoids by checking).
	hook = c.Read("", "k")
	other := "other"
	for i := 0; c.sameGeneration("k", other); i++ {
		other = "other" + strconv.Itoa(i)
	}
	c.Invalidate(src, other)
	hook.Replied(src, replies([]byte("v"), 1000))
	if _, ok := get(c, "k"); !ok {
		t.Fatal("an invalidation of another key stopped a read")
	}
	c.Invalidate(src, "k")
	if _, ok := get(c, "k"); ok {
		t.Fatal("served after its invalidation")
	}
	if st := c.Stats(); st.Invalidations != 1 {
		t.Errorf("Invalidations = %d, want 1 (entries dropped)", st.Invalidations)
	}
}

// sameGeneration reports whether two keys share a generation.
func (c *Cache) sameGeneration(a, b string) bool {
	oa, ob := c.op("", a), c.op("", b)
	return oa.sh == ob.sh && oa.stripe == ob.stripe
}

// A write of this process in flight with a read makes the read's reply not
// kept, whichever connection each went through.
// While writes are in flight the key still serves what it held (they have
// not happened yet, as far as a Load can tell); two writes in flight
// together keep nothing (the next read settles it); one after the other,
// the last is kept; a write's reply read after a Delete that returned is
// not kept; Discard drops at once.
func TestWritesInFlightTogether(t *testing.T) {
	c := New(1<<20, time.Minute)
	p, bulk := client.NewSource(true), client.NewSource(true)
	c.Read("", "k").Replied(p, replies([]byte("v0"), 1000))
	w1, w2 := c.Write("", "k", []byte("w1")), c.Write("", "k", []byte("w2"))
	if v, _ := get(c, "k"); v != "v0" {
		t.Fatalf("served %q while writes were in flight, want v0", v)
	}
	w1.Replied(p, []client.Reply{{Bulk: []byte("+1000")}})
	w2.Replied(p, []client.Reply{{Bulk: []byte("+1000")}})
	if v, _ := get(c, "k"); v != "w2" {
		t.Fatalf("after two writes in flight through one connection: %q, want w2", v)
	}
	c.Discard("", "k")
	if v, ok := get(c, "k"); ok {
		t.Fatalf("served %q after Discard", v)
	}
	c.Write("", "k", []byte("w3")).Replied(p, []client.Reply{{Bulk: []byte("+1000")}})
	c.Write("", "k", []byte("w4")).Replied(p, []client.Reply{{Bulk: []byte("+1000")}})
	if v, _ := get(c, "k"); v != "w4" {
		t.Fatalf("after two writes one after the other: %q, want w4", v)
	}
	big, del := c.Write("", "k", []byte("big")), c.Drop("", "k")
	del.Replied(p, []client.Reply{{}}) // the Delete came last on the server, its reply first
	big.Replied(bulk, []client.Reply{{Bulk: []byte("+1000")}})
	if v, ok := get(c, "k"); ok {
		t.Fatalf("served %q after a Delete that returned", v)
	}
}

func TestAWriteStopsTheReadsInFlight(t *testing.T) {
	c := New(1<<20, time.Minute)
	a, b := client.NewSource(true), client.NewSource(true)
	read := c.Read("", "k")
	c.Drop("", "k").Replied(b, []client.Reply{{}})
	read.Replied(a, replies([]byte("old"), 1000))
	if _, ok := get(c, "k"); ok {
		t.Fatal("a read in flight with a write was kept")
	}
	c.Read("", "k").Replied(a, replies([]byte("v"), 1000))
	c.Drop("", "k").Replied(b, []client.Reply{{}})
	if _, ok := get(c, "k"); ok {
		t.Fatal("a dropped key was served")
	}
}

func TestAWriteKeepsWhatItWrote(t *testing.T) {
	fakeClock(t)
	c := New(1<<20, time.Minute)
	src := client.NewSource(true)
	value := []byte("new")
	hook := c.Write("", "k", value)
	value[0] = 'X' // the caller's buffer, reused
	hook.Replied(src, []client.Reply{{Bulk: []byte("+60000")}})
	v, ttl, ok := c.Get("", "k")
	if !ok || string(v) != "new" || ttl != time.Minute {
		t.Fatalf("after a write: %q, %v, %v", v, ttl, ok)
	}
	// A conflict keeps what the key holds, read by the script.
	c.Write("", "k", []byte("mine")).Replied(src, []client.Reply{{Bulk: []byte("~30000 theirs")}})
	if v, ttl, ok := c.Get("", "k"); !ok || string(v) != "theirs" || ttl != 30*time.Second {
		t.Fatalf("after a conflict: %q, %v, %v; want theirs, 30s", v, ttl, ok)
	}
	for _, r := range []client.Reply{{Bulk: []byte("~cur")}, {Bulk: []byte("+60000 x")}, {Null: true}, {Bulk: []byte("+x")}} {
		c.Write("", "k", []byte("v")).Replied(src, []client.Reply{r})
		if _, ok := get(c, "k"); ok {
			t.Fatalf("after a write answered %+v the key was served", r)
		}
		c.Write("", "k", []byte("v")).Replied(src, []client.Reply{{Bulk: []byte("+60000")}})
	}
	// An error reply says the write did not run: it changes nothing, and
	// the write's retry (EVAL after NOSCRIPT) keeps what it writes.
	hook = c.Write("", "k", []byte("retried"))
	hook.Replied(src, []client.Reply{{Err: resp.Error{Kind: "NOSCRIPT"}}})
	if v, _ := get(c, "k"); v != "v" {
		t.Fatalf("after a write that did not run: %q, want v", v)
	}
	hook.Replied(src, []client.Reply{{Bulk: []byte("+60000")}})
	if v, _ := get(c, "k"); v != "retried" {
		t.Fatalf("after the retry: %q, want retried", v)
	}
}

// A key kept from one connection and read again through another is
// dropped: which of the two replies is newer is unknown.
func TestTwoConnectionsOfOneKeyDropIt(t *testing.T) {
	c := New(1<<20, time.Minute)
	a, b := client.NewSource(true), client.NewSource(true)
	c.Read("", "k").Replied(a, replies([]byte("v1"), 1000))
	c.Read("", "k").Replied(b, replies([]byte("v2"), 1000))
	if v, ok := get(c, "k"); ok {
		t.Fatalf("served %q after reads through two connections", v)
	}
	c.Read("", "k").Replied(a, replies([]byte("v3"), 1000))
	c.Read("", "k").Replied(a, replies([]byte("v4"), 1000))
	if v, _ := get(c, "k"); v != "v4" {
		t.Fatalf("the later reply of one connection: %q, want v4", v)
	}
}

func TestExpiries(t *testing.T) {
	now := fakeClock(t)
	c := New(1<<20, time.Minute)
	src := client.NewSource(true)
	c.Read("", "short").Replied(src, replies([]byte("v"), 1000))
	c.Read("", "long").Replied(src, replies([]byte("v"), 3_600_000))
	c.Read("", "forever").Replied(src, replies([]byte("v"), -1))
	*now += int64(time.Second)
	if _, ok := get(c, "short"); ok {
		t.Error("served once its key expired in Redis")
	}
	if _, ttl, ok := c.Get("", "forever"); !ok || ttl != 0 {
		t.Errorf("a key without TTL: %v, %v", ttl, ok)
	}
	*now += int64(time.Minute)
	for _, k := range []string{"long", "forever"} {
		if _, ok := get(c, k); ok {
			t.Errorf("%s served past CacheTTL", k)
		}
	}
}

func TestConnectionsThatEndOrAreForgotten(t *testing.T) {
	c := New(1<<20, time.Minute)
	a, b := client.NewSource(true), client.NewSource(true)
	c.Read("", "a").Replied(a, replies([]byte("v"), 1000))
	c.Read("", "b").Replied(b, replies([]byte("v"), 1000))
	a.End()
	if _, ok := get(c, "a"); ok {
		t.Error("served after its connection ended")
	}
	c.Read("", "a").Replied(a, replies([]byte("v"), 1000))
	if _, ok := get(c, "a"); ok {
		t.Error("kept from an ended connection")
	}
	c.Read("", "b2").Replied(b, replies([]byte("v"), 1000))
	inflight := c.Read("", "b3")
	c.Forget(b)
	inflight.Replied(b, replies([]byte("v"), 1000))
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("after Forget: %+v, want nothing held", st)
	}
}

// The cache holds at most its size, evicting the least recently used.
func TestEvictsLeastRecentlyUsedWithinSize(t *testing.T) {
	const size = 64 << 10
	c := New(size, time.Minute)
	src := client.NewSource(true)
	value := make([]byte, 200)
	keep := "key-0"
	for i := range 2000 {
		c.Read("", "key-"+strconv.Itoa(i)).Replied(src, replies(value, 60_000))
		if _, ok := get(c, keep); !ok && i > 0 {
			t.Fatalf("the key used all along was evicted at %d", i)
		}
		if st := c.Stats(); st.Bytes > size {
			t.Fatalf("%d bytes held, over %d", st.Bytes, size)
		}
	}
	st := c.Stats()
	if st.Evictions == 0 || st.Entries+int64(st.Evictions) != 2000 {
		t.Errorf("Stats = %+v", st)
	}
	c.Read("", "huge").Replied(src, replies(make([]byte, size), 60_000))
	if _, ok := get(c, "huge"); ok {
		t.Error("a value bigger than a shard's share was kept")
	}
}

// What the cache counts is what it holds on the heap, within a fifth.
func TestBytesCountWhatTheHeapHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	for _, valueSize := range []int{20, 300, 3000} {
		c := New(8<<20, time.Minute)
		src := client.NewSource(true)
		value := make([]byte, valueSize)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; c.Stats().Evictions == 0; i++ {
			c.Read("sessionx:", strconv.Itoa(i)+"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK").Replied(src, replies(value, 60_000))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		st := c.Stats()
		t.Logf("values of %d bytes: %d entries, %d bytes counted, %d on the heap", valueSize, st.Entries, st.Bytes, heap)
		if heap > st.Bytes*6/5 {
			t.Errorf("values of %d bytes: the heap holds %d, the cache counts %d", valueSize, heap, st.Bytes)
		}
		runtime.KeepAlive(c)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(16<<10, time.Minute)
	srcs := []*client.Source{client.NewSource(true), client.NewSource(true)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			src := srcs[g%2]
			for i := range 2000 {
				k := "k" + strconv.Itoa(i%50)
				switch i % 5 {
				case 0:
					c.Read("", k).Replied(src, replies([]byte("v"), 1000))
				case 1:
					c.Invalidate(src, k)
				case 2:
					c.Write("", k, []byte("w")).Replied(src, []client.Reply{{Bulk: []byte("+1000")}})
				case 3:
					if i%500 == 3 {
						c.Forget(src)
					}
				default:
					c.Get("", k)
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > 16<<10 || st.Bytes < 0 {
		t.Errorf("Stats = %+v", st)
	}
}
