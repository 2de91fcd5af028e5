package cache

import (
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// The hook-level sequence of the root package's
// TestCacheReviewRacesBulkWriteOutlivesNewerRead. A read and a conditional
// write of one key are in flight on two connections (the write over
// 64 KiB, on the bulk connection B; the read on the shared one A). On the
// server the write ran first (v1), another process then wrote v2, then the
// read ran (v2). The write's reply is read first: it keeps v1 from B. The
// read's reply comes next: its generation moved (the write's hook moved
// it), so it is not kept, but the entry from B stays, although the read
// has just returned v2 to its caller: the next Get serves v1, older than
// what this process read, until B's reader gets to v2's invalidation.
func TestReviewRacesReadNotKeptLeavesOlderEntryOfAnotherConnection(t *testing.T) {
	c := New(1<<20, time.Minute)
	a, b := client.NewSource(true), client.NewSource(true)
	w := c.Write("", "k", []byte("v1")) // sent on B
	r := c.Read("", "k")                // sent on A
	w.Replied(b, []client.Reply{{Bulk: []byte("+60000")}})
	r.Replied(a, replies([]byte("v2"), 60000)) // the caller gets v2
	if v, ok := get(c, "k"); ok {
		t.Errorf("after a read through A returned v2, Get serves %q kept from B", v)
	}
}

// The same with the read's generation moved by another key of its stripe
// (or a Forget of any connection): an entry from another connection,
// older than the read's reply, stays.
func TestReviewRacesReadNotKeptByAStripeLeavesEntryOfAnotherConnection(t *testing.T) {
	c := New(1<<20, time.Minute)
	other := ""
	for i := 0; ; i++ {
		other = "o" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		if other != "k" && c.sameGeneration("k", other) {
			break
		}
	}
	a, b := client.NewSource(true), client.NewSource(true)
	c.Write("", "k", []byte("v1")).Replied(b, []client.Reply{{Bulk: []byte("+60000")}}) // kept from B
	r := c.Read("", "k")                                                                // sent on A; runs after v2
	c.Invalidate(a, other)                                                              // another key of the stripe changed
	r.Replied(a, replies([]byte("v2"), 60000))
	if v, ok := get(c, "k"); ok {
		t.Errorf("after a read through A returned v2, Get serves %q kept from B", v)
	}
}

// A read whose reply is not kept for another reason than its generation
// (here: the value is bigger than a shard's share; likewise a PTTL of
// -2/0, or an entry of another connection it drops) leaves no trace
// either: the reply of a write that ran before it on the server, read
// later through another connection, is kept and served after the read
// returned the newer value.
func TestReviewRacesUnkeptReadLeavesNoTrace(t *testing.T) {
	c := New(64<<10, time.Minute) // shards of 4 KiB
	a, b := client.NewSource(true), client.NewSource(true)
	w := c.Write("", "k", []byte("v1"))               // sent on B; ran first
	r := c.Read("", "k")                              // sent on A; ran last
	r.Replied(a, replies(make([]byte, 8<<10), 60000)) // v2, too big to keep: the caller gets it
	w.Replied(b, []client.Reply{{Bulk: []byte("+60000")}})
	if v, ok := get(c, "k"); ok {
		t.Errorf("after a read through A returned v2, Get serves %q kept from B", v)
	}
}

// A read sent before a write of this process is made, run on the server
// after it (and after another process's newer write), and read first: its
// generation moved (the write's hook was made after it was sent), so it is
// not kept and leaves nothing behind; the write's reply, read later
// through the other connection, is kept, and Get serves it although the
// read returned a newer value.
func TestReviewRacesReadSentBeforeAWriteIsMade(t *testing.T) {
	c := New(1<<20, time.Minute)
	a, b := client.NewSource(true), client.NewSource(true)
	r := c.Read("", "k")                // sent on A
	w := c.Write("", "k", []byte("v1")) // then made and sent on B; ran first
	r.Replied(a, replies([]byte("v2"), 60000))
	w.Replied(b, []client.Reply{{Bulk: []byte("+60000")}})
	if v, ok := get(c, "k"); ok {
		t.Errorf("after a read through A returned v2, Get serves %q kept from B", v)
	}
}

// An eviction takes the entry of a newer read without moving the key's
// generation: the reply of an older write in flight on another
// connection is then kept, and served after the newer value was.
func TestReviewRacesEvictionForgetsANewerRead(t *testing.T) {
	c := New(64<<10, time.Minute) // shards of 4 KiB
	a, b := client.NewSource(true), client.NewSource(true)
	w := c.Write("", "k", []byte("v1"))                      // sent on B; ran first
	c.Read("", "k").Replied(a, replies([]byte("v2"), 60000)) // ran last, kept
	if v, _ := get(c, "k"); v != "v2" {
		t.Fatalf("the read's reply: %q", v)
	}
	// Loads of other keys of the shard (other stripes) evict k.
	sh, stripe := c.locate("", "k")
	for i := 0; sh.m["k"] != nil; i++ {
		other := "o" + strconv.Itoa(i)
		if osh, ostripe := c.locate("", other); osh != sh || ostripe == stripe {
			continue
		}
		c.Read("", other).Replied(a, replies(make([]byte, 1500), 60000))
	}
	w.Replied(b, []client.Reply{{Bulk: []byte("+60000")}})
	if v, ok := get(c, "k"); ok {
		t.Errorf("after a read returned v2 (then evicted), Get serves %q kept from B", v)
	}
}
