package client

import "sync/atomic"

// Client-side caching: what the client does for a cache (Config.Tracker).
//
// Every connection turns on CLIENT TRACKING ON NOLOOP after its handshake,
// in the default mode: the server remembers which keys each connection
// read and pushes "invalidate" on that connection when another connection
// changes, expires or evicts one of them (or when it forgets one, its
// tracking-table-max-keys reached), and "invalidate" with no keys on
// FLUSHDB. The pushes arrive in band (RESP3), in the order of the
// connection's replies, so a pipe reads a reply and the invalidations that
// follow it in the order the server sent them. NOLOOP: a connection is not
// told of its own writes, which its caller accounts for itself (the write's
// ReplyHook), so that a write followed by a read of the key in the same
// script leaves the key cached and tracked.
//
// Not BCAST: broadcasting sends every change of every key under a prefix
// to every client, so each session write anywhere would reach every app
// server; the default mode sends it to the connections that read the key.
//
// Each pipe is a Source: a cache ties what it keeps to the Source it was
// read through. The client tells the Tracker of each invalidation
// (Invalidate), and of everything read through a Source becoming
// untrustworthy (Forget): the connection ended (failed, closed, retired,
// a Sentinel failover, a health check unanswered), a MOVED reply from its
// server, "invalidate" with no keys, or "tracking-redir-broken". A
// Source's Tracked turns false before Forget is called, when its
// connection stops taking calls.
//
// A server without RESP3 (no HELLO) cannot push on the connection that
// read: its connections are not tracked, and the node says so once through
// Logger. So does a server that refuses CLIENT TRACKING (an ACL user
// without +client, a proxy).
//
// The build tag redisstore_nocache leaves tracking out (this file's
// methods are then stubs): a Tracker is never told anything, and no
// connection is tracked.

// Source is one connection of the client, as a cache sees it.
type Source struct {
	live     atomic.Bool
	tracking bool // CLIENT TRACKING is on
}

// Tracked reports whether the server tracks the keys read through s and
// its connection is still in use: what was read through it and not
// invalidated since is what the server holds.
func (s *Source) Tracked() bool { return s.tracking && s.live.Load() }

// NewSource returns a live Source, tracked or not: a pipe's, or one for
// tests of caches.
func NewSource(tracked bool) *Source {
	s := &Source{tracking: tracked}
	s.live.Store(true)
	return s
}

// End makes s no longer live, as when its connection ends (for tests).
func (s *Source) End() { s.live.Store(false) }

// A Tracker is told, from each connection's reader goroutine, what the
// server says of the keys read through it. Its methods must not block.
type Tracker interface {
	// Invalidate says key changed since it was read through src.
	Invalidate(src *Source, key string)
	// Forget says nothing read through src can be trusted any more.
	Forget(src *Source)
}

// A ReplyHook sees a batch's replies on the connection's reader goroutine,
// before that goroutine reads anything after them: before Do returns to a
// caller still waiting, or whenever the replies come for one whose
// context ended. It must not block nor keep replies, whose buffers are
// reused. It is called once per attempt that gets replies (an error reply
// such as NOSCRIPT or MOVED, then the retry's), not when the connection
// fails before the replies are read, nor for a batch sent in part (after
// a redirection of some of its commands).
type ReplyHook interface {
	Replied(src *Source, replies []Reply)
}

// KeyHash is a hash of the key prefix+id (FNV-1a), computed without
// building the key.
func KeyHash(prefix, id string) uint32 {
	h := uint32(2166136261)
	for _, s := range [2]string{prefix, id} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return h
}
