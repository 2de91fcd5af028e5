package redisstore

import (
	"context"
	"time"

	"github.com/sessionx-redis/redisstore/session"
)

// The store API the attack_faults tests call, in one place: the
// VersionedStore signature and the store's script state were changing
// while these tests were written (against 3340b9c). Adapt these three if
// they change again.

// attackSave is SaveVersion with a TTL.
func attackSave(s *RedisStore, ctx context.Context, id string, value, version []byte, ttl time.Duration) (session.Stored, bool, error) {
	return s.SaveVersion(ctx, id, value, version, ttl, false)
}

// attackSaveKeep is SaveVersion keeping the key's TTL.
func attackSaveKeep(s *RedisStore, ctx context.Context, id string, value, version []byte) (session.Stored, bool, error) {
	return s.SaveVersion(ctx, id, value, version, time.Hour, true)
}

// attackPlainWrites reports whether the store has switched to plain,
// unconditional writes.
func attackPlainWrites(s *RedisStore) bool {
	until := s.plainUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}
