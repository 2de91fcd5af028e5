package client

import (
	"sync"
	"sync/atomic"

	"github.com/sessionx-redis/redisstore/pool"
)

// Stats describes a client's activity since New.
type Stats struct {
	// Pool holds the connection pool's counters, summed over every server.
	Pool pool.Stats
	// Commands counts the commands run (each retry counts once).
	Commands uint64
	// Retries counts commands sent again on a new connection after a pooled
	// connection turned out dead.
	Retries uint64
	// HealthChecks counts the PINGs sent on connections idle for
	// HealthCheckInterval.
	HealthChecks uint64
	// DialsRefused counts the connections not even tried because the
	// server's last dial or handshake failed and its backoff had not passed:
	// those calls failed at once with that failure.
	DialsRefused uint64
	// UnopenedValues counts the reads of values (and user index entries)
	// that did not open with the store's EncryptionKeys: not sealed, a key
	// not in the list, tampered, an unknown format. One request may read
	// a value more than once. The store fills it, the client never does.
	UnopenedValues uint64
	// Cache describes the client-side cache (the store's CacheSize); the
	// store fills it, the client never does.
	Cache CacheStats
	// Errors counts the failed commands by kind: a Redis error kind ("OOM",
	// "READONLY", "NOAUTH", ...), "timeout", "canceled", "pool timeout",
	// "protocol", "network" or "closed".
	Errors map[string]uint64
}

// CacheStats describes a client-side cache since New; all zero without one.
type CacheStats struct {
	// Hits counts the reads served from the cache, Misses those that went
	// to Redis (an entry found expired or from an ended connection
	// included).
	Hits, Misses uint64
	// Invalidations counts the entries dropped because Redis said their
	// key changed, or because their connection ended or could no longer
	// be trusted. (The store's own writes replace or drop entries without
	// counting.)
	Invalidations uint64
	// Evictions counts the entries dropped, least recently used first, to
	// keep the cache within its size.
	Evictions uint64
	// Entries and Bytes are what the cache holds now: values, keys and
	// bookkeeping, the size it is bounded by. Entries that expired stay
	// counted until read or evicted.
	Entries, Bytes int64
}

// counters are a client's live statistics.
type counters struct {
	commands     atomic.Uint64
	retries      atomic.Uint64
	healthChecks atomic.Uint64
	dialsRefused atomic.Uint64

	// The kinds of failure that come in storms (a thousand callers
	// cancelled at once) are counted without a lock; Redis's own error
	// kinds, an open set, in errors.
	common [len(commonKinds)]atomic.Uint64

	mu     sync.Mutex        // protects errors
	errors map[string]uint64 // by ErrorKind, the kinds not in commonKinds
}

// commonKinds are the ErrorKind values counted in counters.common.
var commonKinds = [...]string{"canceled", "timeout", "network", "closed", "pool timeout", "protocol"}

func (c *counters) countError(err error) {
	kind := ErrorKind(err)
	for i, k := range commonKinds {
		if k == kind {
			c.common[i].Add(1)
			return
		}
	}
	c.mu.Lock()
	if c.errors == nil {
		c.errors = make(map[string]uint64)
	}
	c.errors[kind]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	st := Stats{
		Pool:         poolStats(c.topo.nodes()),
		Commands:     c.stats.commands.Load(),
		Retries:      c.stats.retries.Load(),
		HealthChecks: c.stats.healthChecks.Load(),
		DialsRefused: c.stats.dialsRefused.Load(),
		Errors:       make(map[string]uint64),
	}
	for i, k := range commonKinds {
		if n := c.stats.common[i].Load(); n > 0 {
			st.Errors[k] = n
		}
	}
	c.stats.mu.Lock()
	for k, v := range c.stats.errors {
		st.Errors[k] = v
	}
	c.stats.mu.Unlock()
	return st
}

// poolStats sums the pool statistics of nodes.
func poolStats(nodes []*node) pool.Stats {
	var sum pool.Stats
	for _, n := range nodes {
		st := n.pool.Stats()
		sum.MaxOpen += st.MaxOpen
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		sum.Dials += st.Dials
		sum.DialErrors += st.DialErrors
		sum.Waits += st.Waits
		sum.WaitDuration += st.WaitDuration
		sum.Timeouts += st.Timeouts
		sum.Canceled += st.Canceled
		sum.Open += st.Open
		sum.Idle += st.Idle
		sum.InUse += st.InUse
		sum.Dialing += st.Dialing
		sum.Closing += st.Closing
		sum.ClosedIdleTimeout += st.ClosedIdleTimeout
		sum.ClosedLifetime += st.ClosedLifetime
		sum.ClosedHealth += st.ClosedHealth
		sum.ClosedBroken += st.ClosedBroken
		sum.ClosedMaxIdle += st.ClosedMaxIdle
		sum.ClosedByCloseIdle += st.ClosedByCloseIdle
	}
	return sum
}
