package redisstore

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/sessionx-redis/redisstore/pool"
)

// Stats describes a Store's activity since New.
type Stats struct {
	// Pool holds the connection pool's counters, summed over every server.
	Pool pool.Stats
	// Commands counts the commands the store ran (each retry counts once).
	Commands uint64
	// Retries counts commands sent again on a new connection after a pooled
	// connection turned out dead.
	Retries uint64
	// Errors counts the failed commands by kind: a Redis error kind ("OOM",
	// "READONLY", "NOAUTH", ...), "timeout", "canceled", "pool timeout",
	// "protocol", "network" or "closed".
	Errors map[string]uint64
}

// counters are a Store's live statistics.
type counters struct {
	commands atomic.Uint64
	retries  atomic.Uint64

	mu     sync.Mutex        // protects errors
	errors map[string]uint64 // by errKind; only touched on failures
}

func (c *counters) countError(err error) {
	kind := errKind(err)
	c.mu.Lock()
	if c.errors == nil {
		c.errors = make(map[string]uint64)
	}
	c.errors[kind]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the store's counters.
func (s *Store[S]) Stats() Stats {
	st := Stats{
		Pool:     poolStats(s.topo.nodes()),
		Commands: s.stats.commands.Load(),
		Retries:  s.stats.retries.Load(),
		Errors:   make(map[string]uint64),
	}
	s.stats.mu.Lock()
	for k, v := range s.stats.errors {
		st.Errors[k] = v
	}
	s.stats.mu.Unlock()
	return st
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
