//go:build !redisstore_nocache

package redisstore

import (
	"time"

	"github.com/sessionx-redis/redisstore/internal/cache"
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
