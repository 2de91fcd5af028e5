//go:build redisstore_nocache

package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// localCache stands for the client-side cache, which the build tag
// redisstore_nocache leaves out: a Store never has one.
type localCache struct{}

// newLocalCache refuses a CacheSize.
func newLocalCache(size int, _ time.Duration) (*localCache, error) {
	if size > 0 {
		return nil, errors.New("redisstore: CacheSize set in a program built with the redisstore_nocache tag, which leaves the client-side cache out")
	}
	return nil, nil
}

func (*localCache) Stats() client.CacheStats          { return client.CacheStats{} }
func (*localCache) Invalidate(*client.Source, string) {}
func (*localCache) Forget(*client.Source)             {}

func (s *Store[S]) cached(redisKey) ([]byte, time.Duration, bool) { return nil, 0, false }
func (s *Store[S]) pttlRefused(*client.Batch) bool                { return false }

func (s *Store[S]) write(ctx context.Context, b *client.Batch, _ redisKey) error {
	return s.c.Do(ctx, b)
}
func (s *Store[S]) dropHook(redisKey) client.ReplyHook { return nil }

func (s *Store[S]) addRead(b *client.Batch, key redisKey, pttl bool) {
	b.Add(client.ReplyBulk, "GET", key.arg())
	if pttl {
		b.Add(client.ReplyInt, "PTTL", key.arg())
	}
}

func (s *Store[S]) casFor(*client.Batch, redisKey, []byte, []byte) (string, *client.Script) {
	return casSource, casScript
}
