package session

import (
	"context"
	"time"
)

// TTLStore is a Store that can write a session with a TTL chosen per save.
// With an absolute timeout (Config.AbsoluteTimeout) the manager saves
// through SaveTTL, passing the smaller of MaxAge and what remains of the
// absolute timeout (at least one second), so the store forgets the session
// when the manager would. redisstore's store implements it. A store without
// it is saved with SaveContext or Save and keeps its own TTL; the manager
// still refuses a session past its absolute timeout when it loads it.
type TTLStore interface {
	Store
	SaveTTL(ctx context.Context, sess *Session, ttl time.Duration) error
}

// storeLoad loads id, through LoadContext when the store has it.
func storeLoad(ctx context.Context, s Store, id string) (*Session, error) {
	if cs, ok := s.(ContextStore); ok {
		return cs.LoadContext(ctx, id)
	}
	return s.Load(id)
}

// storeSave saves sess: with SaveTTL when ttl > 0 and the store has it,
// else with SaveContext or Save.
func storeSave(ctx context.Context, s Store, sess *Session, ttl time.Duration) error {
	if ts, ok := s.(TTLStore); ok && ttl > 0 {
		return ts.SaveTTL(ctx, sess, ttl)
	}
	if cs, ok := s.(ContextStore); ok {
		return cs.SaveContext(ctx, sess)
	}
	return s.Save(sess)
}

// storeDelete deletes id, through DeleteContext when the store has it.
func storeDelete(ctx context.Context, s Store, id string) error {
	if cs, ok := s.(ContextStore); ok {
		return cs.DeleteContext(ctx, id)
	}
	return s.Delete(id)
}
