package cache

import (
	"math"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// The cache's memory never grows past its size, whatever the size of the
// values: a value's copy is rounded up by the allocator (to a size class,
// or to 8 KiB pages over 32 KiB), which the count must not leave out.
func TestReviewHeapStaysWithinSize(t *testing.T) {
	const size = 8 << 20
	for _, valueSize := range []int{3000, 28673, 32769, 40961} {
		c := New(size, time.Minute)
		src := client.NewSource(true)
		value := make([]byte, valueSize)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; c.Stats().Evictions < 100; i++ {
			c.Read("sessionx:", strconv.Itoa(i)+"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK").Replied(src, replies(value, 60_000))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		st := c.Stats()
		t.Logf("values of %d bytes: %d entries, %d bytes counted, %d on the heap (%.2fx CacheSize)", valueSize, st.Entries, st.Bytes, heap, float64(heap)/size)
		if heap > size*105/100 { // the README's 5%
			t.Errorf("values of %d bytes: the heap holds %d (%.2fx), over CacheSize %d (the cache counts %d)", valueSize, heap, float64(heap)/size, size, st.Bytes)
		}
		runtime.KeepAlive(c)
	}
}

// A CacheTTL as long as a time.Duration goes is "serve until Redis says
// otherwise", not "never serve".
func TestReviewLongestTTLServes(t *testing.T) {
	for _, ttl := range []time.Duration{time.Duration(math.MaxInt64), 200 * 365 * 24 * time.Hour} {
		c := New(1<<20, ttl)
		src := client.NewSource(true)
		c.Read("", "k").Replied(src, replies([]byte("v"), -1))
		if v, ok := get(c, "k"); !ok || v != "v" {
			t.Errorf("CacheTTL %v: Get after a read = %q, %v; want v, true", ttl, v, ok)
		}
	}
}

// A PTTL Redis never sends (under -2) is not "no TTL": a reply that makes
// no sense keeps nothing.
func TestReviewNonsensePTTLIsNotKept(t *testing.T) {
	for _, pttl := range []int64{-3, -5, math.MinInt64} {
		c := New(1<<20, time.Minute)
		src := client.NewSource(true)
		c.Read("", "k").Replied(src, replies([]byte("v"), pttl))
		if _, ok := get(c, "k"); ok {
			t.Errorf("read with PTTL %d: kept and served", pttl)
		}
		c.Write("", "w", []byte("v")).Replied(src, []client.Reply{{Bulk: []byte("+" + strconv.FormatInt(pttl, 10))}})
		if _, ok := get(c, "w"); ok {
			t.Errorf("write with reply \"+%d\": kept and served", pttl)
		}
	}
}
