//go:build redisstore_nocache

package redisstore

import (
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/redistest"
)

// Without the cache compiled in, any CacheSize is refused before a
// connection is made, naming the tag; CacheTTL alone is refused too.
func TestCacheReviewOmittedRefusesBeforeDialing(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	for _, opts := range []Options{
		{Addr: srv.Addr(), CacheSize: 1 << 20},
		{Addr: srv.Addr(), CacheSize: 1 << 20, CacheTTL: 1},
		{Addr: srv.Addr(), CacheSize: 1 << 40},
	} {
		if _, err := NewRedisStore(opts); err == nil || !strings.Contains(err.Error(), "redisstore_nocache") {
			t.Errorf("%+v: New = %v, want an error naming the tag", opts, err)
		}
	}
	if _, err := NewRedisStore(Options{Addr: srv.Addr(), CacheTTL: 1}); err == nil {
		t.Error("CacheTTL without CacheSize accepted")
	}
	if n := srv.Stats().Accepted; n != 0 {
		t.Errorf("%d connections made by refused Options", n)
	}
}
