//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sessionx-redis/redisstore/internal/cache"
	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/resp"
)

// localCache is the client-side cache of Options.CacheSize (see package
// cache, and the README's "Client-side cache"); a nil one is none.
type localCache = cache.Cache

// newLocalCache returns the cache of size bytes, nil for a zero size.
func newLocalCache(size int, ttl time.Duration) (*localCache, error) {
	if size == 0 {
		return nil, nil
	}
	return cache.New(int64(size), ttl), nil
}

// The cache's part in reads and writes; each does what a store without a
// cache does when s.cache is nil.

// cacheOn reports whether the store has a cache in use.
func (s *Store[S]) cacheOn() bool { return s.cache != nil && s.cache.On() }

// pttlRefused reports whether the PTTL that a cache adds to a Load's GET
// was refused (an ACL without it) while the GET was answered: the cache
// cannot tell when a value expires, so it is turned off, which Logger is
// told once, and the GET's reply stands.
func (s *Store[S]) pttlRefused(b *client.Batch) bool {
	re, ok := errors.AsType[resp.Error](b.Replies[1].Err)
	if !s.cacheOn() || !ok || re.Kind != "NOPERM" || b.Replies[0].Err != nil {
		return false
	}
	if s.cache.Off() {
		s.cfg.client.Logger.Warn("redisstore: the server refuses PTTL, which the client-side cache needs: the cache is off", "reply", re.Kind)
	}
	return true
}

// cached returns the value under key and what remains of its TTL, when
// the cache holds it.
func (s *Store[S]) cached(key redisKey) ([]byte, time.Duration, bool) {
	if !s.cacheOn() {
		return nil, 0, false
	}
	return s.cache.Get(key.prefix, key.name)
}

// addRead adds GET key to b, then PTTL key with pttl or a cache, whose
// hook keeps what they read.
func (s *Store[S]) addRead(b *client.Batch, key redisKey, pttl bool) {
	b.Add(client.ReplyBulk, "GET", key.arg())
	if s.cacheOn() {
		b.Hook = s.cache.Read(key.prefix, key.name)
		pttl = true
	}
	if pttl {
		b.Add(client.ReplyInt, "PTTL", key.arg())
	}
}

// write runs b, a write of key: a write that fails may yet have run (or
// run later, its caller gone), so the cache forgets key at once, and the
// Loads after it read Redis, as without a cache.
func (s *Store[S]) write(ctx context.Context, b *client.Batch, key redisKey) error {
	err := s.c.Do(ctx, b)
	if err != nil && s.cacheOn() {
		s.cache.Discard(key.prefix, key.name)
	}
	return err
}

// dropHook returns the cache's hook of a write of key, which drops it.
func (s *Store[S]) dropHook(key redisKey) client.ReplyHook {
	if !s.cacheOn() {
		return nil
	}
	return s.cache.Drop(key.prefix, key.name)
}

// casFor returns the conditional write's script, and sets b's hook: with a
// cache, the script that reads the key again after writing, and the hook
// that keeps what it wrote (value, or version for a touch).
func (s *Store[S]) casFor(b *client.Batch, key redisKey, value, version []byte) (string, *client.Script) {
	if !s.cacheOn() {
		return casSource, casScript
	}
	kept := value
	if len(kept) == 0 {
		kept = version // a touch: the value stays
	}
	b.Hook = s.cache.Write(key.prefix, key.name, kept)
	return casTrackedSource, casTrackedScript
}

// casTrackedSource is casSource for a store with a client-side cache,
// whose replies carry the key's PTTL, read last, so that the server tracks
// the key for the connection (its own write ended the tracking) and the
// cache keeps what the key holds: "+" and the PTTL when it wrote, "~",
// the PTTL, a space and the current value when the key held another. A
// PTTL the server refuses (an ACL) leaves it empty, which the cache does
// not keep, after a write that did happen.
var casTrackedSource = `local function ttl()
  local t = redis.pcall('PTTL', KEYS[1])
  if type(t) == 'number' then return t end
  return ''
end
` + trackedReplies(casSource)

// trackedReplies rewrites the replies of the conditional write's script
// src for casTrackedSource (with strings.Cut: strings.Replace would link
// 2 KB more).
func trackedReplies(src string) string {
	head, tail, _ := strings.Cut(src, "return '~' .. cur")
	return head + "return '~' .. ttl() .. ' ' .. cur" + tail[:strings.LastIndex(tail, "return ''")] + "return '+' .. ttl()"
}

// casTrackedScript runs casTrackedSource with EVALSHA.
var casTrackedScript = client.NewScript(casTrackedSource)
