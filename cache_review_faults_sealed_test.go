//go:build !redisstore_nocache && !redisstore_noseal

package redisstore

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

var reviewKeyA, reviewKeyB = bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xb2}, 32)

// Sealed values are cached as Redis holds them; every Load opens them.
// Repeated cached Loads, with and without HashKeys, must all succeed.
func TestCacheReviewSealedRepeatedLoads(t *testing.T) {
	for _, hash := range []bool{false, true} {
		srv := redisserver.Start(t, redisserver.Config{})
		s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{reviewKeyA}, HashKeys: hash, CacheSize: 1 << 20})
		saveUser(t, s, "sl", "alice")
		for i := range 4 {
			got, err := s.Load("sl")
			if err != nil {
				t.Errorf("HashKeys %v: Load %d: %v (cache %+v)", hash, i, err, s.Stats().Cache)
				continue
			}
			if u := got.Data["user"]; u != "alice" {
				t.Errorf("HashKeys %v: Load %d: user %v", hash, i, u)
			}
		}
	}
}

// Concurrent cached Loads of one sealed session must not write to the
// bytes they share (run with -race).
func TestCacheReviewSealedConcurrentLoads(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{reviewKeyA}, CacheSize: 1 << 20})
	saveUser(t, s, "sc", "alice")
	s.Load("sc")
	var wg sync.WaitGroup
	var failed sync.Once
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := s.Load("sc"); err != nil {
					failed.Do(func() { t.Errorf("concurrent cached Load: %v", err) })
				}
			}
		})
	}
	wg.Wait()
}

// LoadVersion of a sealed session from the cache returns a Version that is
// what Redis holds: the next conditional write, with it, succeeds.
func TestCacheReviewSealedLoadVersionThenSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{reviewKeyA}, CacheSize: 1 << 20})
	ctx := context.Background()
	if _, ok, err := s.SaveVersion(ctx, "sv", []byte(`{"id":"sv","data":{"n":1}}`), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range 3 {
		st, err := s.LoadVersion(ctx, "sv")
		if err != nil {
			t.Fatalf("LoadVersion %d: %v", i, err)
		}
		if string(st.Value) != `{"id":"sv","data":{"n":1}}` {
			t.Errorf("LoadVersion %d: value %q", i, st.Value)
		}
		if _, err := s.Load("sv"); err != nil {
			t.Errorf("Load after LoadVersion %d: %v", i, err)
		}
	}
}
