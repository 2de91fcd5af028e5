// Package cache keeps values read from Redis in the process for as long as
// the server tracks them (CLIENT TRACKING, see the client package): the
// store's client-side cache. It knows keys and bytes, not sessions.
//
// # Entries
//
// An entry is a key's value as read from Redis, the Source (connection) it
// was read through, when the key expires in Redis (from PTTL, read with the
// value) and when the cache stops serving it without asking (CacheTTL
// after the read). Get serves it while all of that holds: its Source is
// still live and tracked, neither time has passed. The value's bytes are
// never changed once kept, so Get returns them without a copy; callers
// must not change them either.
//
// # Order
//
// Entries are made and dropped by hooks (client.ReplyHook) that run on a
// connection's reader goroutine as it reads the replies, in order with the
// invalidations it reads: what a connection reports is applied in the
// order the server sent it. The client sends every command of a key
// through one connection (the pipe its hash picks), so that order is the
// key's order on the server. Each command notes its key's generation when
// it is sent; every invalidation and every write of the key bumps it.
// Three kinds of hook:
//   - Read (GET, PTTL): keeps the value only if the generation did not
//     move. That is how the race the Redis documentation describes (an
//     invalidation overtaking the reply of a read in flight) is lost by
//     the read: the reply of a read overtaken by an invalidation, on any
//     connection, or by a write of this process, is not kept.
//   - Write (the store's conditional write, whose script reads the key
//     last, so the server tracks it again: its own write ended that, and
//     NOLOOP keeps the server from telling the connection of it): keeps
//     what the key holds after the script (the value written, or the one
//     another request wrote first), when the generation did not move or
//     the entry it replaces came through the same connection (an earlier
//     write of that connection's order).
//   - Drop (every other write): drops the key.
//
// Write and Drop act on the reply when it is read, before the write
// returns: a write this process made is never hidden by the cache. While
// it is in flight, Loads may still be served what the key held before (the
// write has not happened yet, as far as they can tell). A write that fails
// or whose caller stops waiting may yet run: the store then Discards the
// key at once, so that the Loads after it read Redis, behind the write on
// the key's connection, as without a cache. An error reply from the
// server (NOSCRIPT, MOVED, OOM) says the write did not run, and changes
// nothing.
//
// A key read through two connections (its pipe was replaced; a value too
// big for the shared pipes went through the bulk one) could have its
// replies read in any order: a hook that finds the key kept from another
// Source drops it rather than guess which is newer.
//
// # Memory
//
// The cache is split into shards by a hash of the key, each
// with its own lock, its share of the size, its generations and its list of
// entries from the most to the least recently used. An entry costs its key,
// its value and EntryOverhead; keeping one evicts the least recently used
// until the shard is within its share. A value bigger than a shard's share
// is not kept.
package cache

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/resp"
)

const (
	shardCount = 16
	// stripes is the number of generations per shard: keys share one by
	// their hash, so a write or invalidation of one key makes the reads in
	// flight of a few others not kept (they read Redis next time).
	stripes = 64
	// EntryOverhead is what an entry costs besides its key and value: the
	// entry itself, its slot in the shard's map, rounding of allocations.
	EntryOverhead = 160
)

// nowFunc is the monotonic clock of entries, in nanoseconds.
var nowFunc = func() int64 { return int64(time.Since(epoch)) }

var epoch = time.Now()

// Cache is a client-side cache. It is a client.Tracker. Its methods are
// safe for concurrent use.
type Cache struct {
	ttl    int64 // CacheTTL in nanoseconds
	off    atomic.Bool
	shards [shardCount]shard
}

type shard struct {
	mu                                     sync.Mutex // protects following fields and the entries' links
	m                                      map[string]*entry
	lru                                    entry // ring: lru.next is the most recently used
	bytes                                  int64
	max                                    int64
	gen                                    [stripes]uint64
	hits, misses, invalidations, evictions uint64
}

type entry struct {
	key        string
	value      []byte // never changed once kept
	src        *client.Source
	stripe     int   // its generation's, in the shard
	expires    int64 // when Redis expires the key (nowFunc); 0: it has no TTL
	until      int64 // when CacheTTL ends (nowFunc)
	prev, next *entry
}

// size is what e holds on the heap: its value's allocation (cap, which
// append rounds up to the allocator's size class), its key and the rest.
func (e *entry) size() int64 { return int64(len(e.key)+cap(e.value)) + EntryOverhead }

// New returns a cache of at most size bytes that serves an entry for ttl
// at most. Each of its 16 shards holds size/16: an entry bigger than that
// is not kept (with a size under 16 × EntryOverhead, none is), nor served
// with a ttl of zero.
func New(size int64, ttl time.Duration) *Cache {
	c := &Cache{ttl: int64(ttl)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.m = make(map[string]*entry)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
		sh.max = size / shardCount
	}
	return c
}

// On reports whether the cache is in use: not turned Off.
func (c *Cache) On() bool { return !c.off.Load() }

// Off turns the cache off for good (its server refuses what it needs), and
// reports whether it was on. What it holds is no longer served.
func (c *Cache) Off() bool { return !c.off.Swap(true) }

// locate returns the shard and generation stripe of the key prefix+name.
func (c *Cache) locate(prefix, name string) (*shard, int) {
	h := client.KeyHash(prefix, name)
	return &c.shards[h%shardCount], int(h / shardCount % stripes)
}

// Get returns the value kept for the key prefix+name and what remains of
// the key's TTL in Redis (zero: none), when the cache may serve it. The
// value is shared: it must not be changed.
func (c *Cache) Get(prefix, name string) (value []byte, ttl time.Duration, ok bool) {
	sh, _ := c.locate(prefix, name)
	var buf [192]byte
	key := append(append(buf[:0], prefix...), name...)
	sh.mu.Lock()
	e := sh.m[string(key)]
	if e == nil || c.off.Load() {
		sh.misses++
		sh.mu.Unlock()
		return nil, 0, false
	}
	now := nowFunc()
	if !e.src.Tracked() || now >= e.until || e.expires != 0 && now >= e.expires {
		sh.removeLocked(e)
		sh.misses++
		sh.mu.Unlock()
		return nil, 0, false
	}
	sh.hits++
	if sh.lru.next != e {
		sh.unlinkLocked(e)
		sh.pushLocked(e)
	}
	value = e.value
	if e.expires != 0 {
		ttl = time.Duration(e.expires - now)
	}
	sh.mu.Unlock()
	return value, ttl, true
}

// Read returns the hook of a read of the key prefix+name: a batch of GET
// then PTTL. Call it before the batch is sent.
func (c *Cache) Read(prefix, name string) client.ReplyHook {
	return &read{c.op(prefix, name)}
}

// Write returns the hook of a write of value under the key prefix+name by
// a script that reads the key last (which the server then tracks): its
// reply is "+" and the key's PTTL when it wrote value; "~", the PTTL, a
// space and the value the key holds when it held another; anything else
// drops the key. Call it before the write is sent. The hook keeps a copy
// of value.
func (c *Cache) Write(prefix, name string, value []byte) client.ReplyHook {
	return &write{c.op(prefix, name), append([]byte(nil), value...)}
}

// Drop returns the hook of any other write of the key prefix+name: its
// reply drops the key.
func (c *Cache) Drop(prefix, name string) client.ReplyHook {
	o := c.op(prefix, name)
	return &o
}

// Discard drops the key prefix+name now: its write failed, or its caller
// stopped waiting, and may yet run, so that the Loads after it read Redis
// (behind the write on the key's connection), as without a cache.
func (c *Cache) Discard(prefix, name string) {
	o := c.op(prefix, name)
	o.sh.mu.Lock()
	o.dropLocked()
	o.sh.mu.Unlock()
}

// op returns the hook's state for the key prefix+name.
func (c *Cache) op(prefix, name string) op {
	sh, stripe := c.locate(prefix, name)
	o := op{c: c, sh: sh, stripe: stripe, key: prefix + name, sent: nowFunc()}
	sh.mu.Lock()
	o.gen = sh.gen[stripe]
	sh.mu.Unlock()
	return o
}

// op is a command on one key, the hook of its reply.
type op struct {
	c      *Cache
	sh     *shard
	stripe int
	key    string
	gen    uint64 // the key's generation when the command was sent
	sent   int64  // before the command was sent: expiries count from it
}

// Replied drops the key: a write's reply (Drop). Error replies alone say
// the write did not run (NOSCRIPT, MOVED, OOM, ...): nothing changed.
func (o *op) Replied(_ *client.Source, rs []client.Reply) {
	if notRun(rs) {
		return
	}
	o.sh.mu.Lock()
	o.dropLocked()
	o.sh.mu.Unlock()
}

// notRun reports whether every reply is the server's error reply: the
// write did not run (NOSCRIPT, MOVED, OOM, ...), and leaves the key, its
// entry and the reads in flight as they were, so that its retry (EVAL
// after NOSCRIPT, say) keeps what it writes. A reply of an unexpected type
// is no such error: the write ran.
func notRun(rs []client.Reply) bool {
	for _, r := range rs {
		if _, ok := errors.AsType[resp.Error](r.Err); !ok {
			return false
		}
	}
	return len(rs) > 0
}

// dropLocked bumps the key's generation and drops its entry.
func (o *op) dropLocked() {
	o.sh.gen[o.stripe]++
	if e := o.sh.m[o.key]; e != nil {
		o.sh.removeLocked(e)
	}
}

// keepLocked keeps value, read through src, for pttl milliseconds at most
// (-1: no TTL), once the key's entry is dropped, and reports whether it
// did: not for an untracked src, a key gone (-2) or a TTL Redis never
// gives, a value too big for the shard.
func (o *op) keepLocked(src *client.Source, value []byte, pttl int64) bool {
	sh := o.sh
	if !src.Tracked() || pttl == 0 || pttl < -1 {
		return false
	}
	e := &entry{key: o.key, value: value, src: src, stripe: o.stripe, until: after(o.sent, o.c.ttl)}
	if pttl > 0 {
		e.expires = after(o.sent, min(pttl, math.MaxInt64/int64(time.Millisecond))*int64(time.Millisecond))
	}
	if e.size() > sh.max {
		return false
	}
	sh.m[o.key] = e
	sh.pushLocked(e)
	sh.bytes += e.size()
	for sh.bytes > sh.max {
		sh.removeLocked(sh.lru.prev)
		sh.evictions++
	}
	return true
}

// read is the hook of GET and PTTL. What it read is kept when nothing
// happened to the key since it was sent, and no entry of the key was kept
// from another Source meanwhile (see the package doc). A reply not kept,
// for whatever reason, may still be newer than what a hook of another
// connection keeps later, or than another connection's entry: it moves
// the generation and drops that entry, so that nothing older is served
// after it.
type read struct{ op }

// after returns t + d (nowFunc's time), or the end of time when that
// overflows (a CacheTTL or a PTTL of centuries).
func after(t, d int64) int64 {
	if d > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + d
}

func (r *read) Replied(src *client.Source, rs []client.Reply) {
	if notRun(rs) {
		return // MOVED, say: read nothing
	}
	var value []byte
	if len(rs) == 2 && rs[0].Err == nil && rs[1].Err == nil && !rs[0].Null &&
		int64(len(r.key)+len(rs[0].Bulk))+EntryOverhead <= r.sh.max {
		value = append([]byte(nil), rs[0].Bulk...) // before the lock: the reply's buffer is reused
	}
	sh := r.sh
	sh.mu.Lock()
	e := sh.m[r.key]
	kept := false
	if value != nil && sh.gen[r.stripe] == r.gen && (e == nil || e.src == src) {
		if e != nil {
			sh.removeLocked(e)
		}
		kept = r.keepLocked(src, value, rs[1].Int)
	}
	if !kept {
		// The caller has a value that may be newer than what a hook of
		// another connection keeps later, or than an entry another
		// connection left: move the generation, drop that entry. An
		// entry of this connection stays: what made it came earlier in
		// its order, and a change since would have come as an
		// invalidation first.
		sh.gen[r.stripe]++
		if e != nil && e.src != src {
			sh.removeLocked(e)
		}
	}
	sh.mu.Unlock()
}

// write is the hook of casTrackedSource's script. What the key holds after
// it is kept when nothing happened to the key since the script was sent,
// or when what did came through the same connection (earlier in its
// order: another request's write of the session); never when an entry from
// another Source was kept meanwhile.
type write struct {
	op
	value []byte
}

func (w *write) Replied(src *client.Source, rs []client.Reply) {
	if notRun(rs) {
		return
	}
	var kept []byte
	var pttl int64
	if len(rs) == 1 && rs[0].Err == nil && len(rs[0].Bulk) > 1 {
		r := rs[0].Bulk
		digits, cur, conflict := bytes.Cut(r[1:], []byte(" "))
		n, err := strconv.ParseInt(string(digits), 10, 64)
		switch {
		case err != nil:
		case r[0] == '+' && !conflict:
			kept, pttl = w.value, n
		case r[0] == '~' && conflict:
			kept, pttl = append([]byte(nil), cur...), n // what another request wrote
		}
	}
	sh := w.sh
	sh.mu.Lock()
	e := sh.m[w.key]
	keep := kept != nil && (e == nil && sh.gen[w.stripe] == w.gen || e != nil && e.src == src)
	w.dropLocked()
	if keep {
		w.keepLocked(src, kept, pttl)
	}
	sh.mu.Unlock()
}

// Invalidate drops key: Redis says it changed (client.Tracker).
func (c *Cache) Invalidate(_ *client.Source, key string) {
	sh, stripe := c.locate(key, "")
	sh.mu.Lock()
	sh.gen[stripe]++
	if e := sh.m[key]; e != nil {
		sh.removeLocked(e)
		sh.invalidations++
	}
	sh.mu.Unlock()
}

// Forget drops everything read through src (client.Tracker), and makes
// the reads in flight not kept.
func (c *Cache) Forget(src *client.Source) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for s := range sh.gen {
			sh.gen[s]++
		}
		for _, e := range sh.m {
			if e.src == src {
				sh.removeLocked(e)
				sh.invalidations++
			}
		}
		sh.mu.Unlock()
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() client.CacheStats {
	var st client.CacheStats
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Invalidations += sh.invalidations
		st.Evictions += sh.evictions
		st.Entries += int64(len(sh.m))
		st.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	return st
}

func (sh *shard) pushLocked(e *entry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	e.prev.next, e.next.prev = e, e
}

func (sh *shard) unlinkLocked(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// removeLocked drops e and moves its generation: whatever drops an entry
// (a hook, an invalidation, an eviction, an expiry found by Get) may drop
// a value newer than the reply of a hook of another connection still to
// come, which must then not be kept in its place.
func (sh *shard) removeLocked(e *entry) {
	sh.gen[e.stripe]++
	sh.unlinkLocked(e)
	delete(sh.m, e.key)
	sh.bytes -= e.size()
}
