//go:build redisstore_nocache

package redisstore

import (
	"strings"
	"testing"
)

// A build without the client-side cache refuses CacheSize clearly, and
// works without it.
func TestCacheOmitted(t *testing.T) {
	if _, err := NewRedisStore(Options{CacheSize: 1 << 20}); err == nil || !strings.Contains(err.Error(), "redisstore_nocache") {
		t.Errorf("New = %v, want an error naming the tag", err)
	}
	_, s := newMini(t, Options{})
	roundTrip(t, s, "omitted-0123456789")
	if st := s.Stats().Cache; st != (CacheStats{}) {
		t.Errorf("Stats.Cache = %+v", st)
	}
}
