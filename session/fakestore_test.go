package session

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// memStore is a tiny in-memory Store that counts calls and can fail on
// demand. It keeps JSON, like a real store, so sessions never alias.
type memStore struct {
	mu                       sync.Mutex
	data                     map[string][]byte
	ttls                     map[string]time.Duration
	loads, saves, deletes    int
	loadErr, saveErr, delErr error
	loadedIDs                []string
}

func newMemStore() *memStore {
	return &memStore{data: map[string][]byte{}, ttls: map[string]time.Duration{}}
}

func (s *memStore) Load(id string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	s.loadedIDs = append(s.loadedIDs, id)
	if s.loadErr != nil {
		return nil, s.loadErr
	}
	b, ok := s.data[id]
	if !ok {
		return nil, ErrNotFound
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, err
	}
	return &sess, nil
}

func (s *memStore) Save(sess *Session) error { return s.saveTTL(sess, 0) }

func (s *memStore) saveTTL(sess *Session, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.saveErr != nil {
		return s.saveErr
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	s.data[sess.ID] = b
	s.ttls[sess.ID] = ttl
	return nil
}

func (s *memStore) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes++
	if s.delErr != nil {
		return s.delErr
	}
	delete(s.data, id)
	return nil
}

// has reports whether id is stored.
func (s *memStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[id]
	return ok
}

// counts returns the call counters.
func (s *memStore) counts() (loads, saves, deletes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.saves, s.deletes
}

// ctxStore is a memStore with the context methods; it records the contexts
// it was given.
type ctxStore struct {
	*memStore
	ctxs []context.Context
}

func (s *ctxStore) record(ctx context.Context) {
	s.mu.Lock()
	s.ctxs = append(s.ctxs, ctx)
	s.mu.Unlock()
}

func (s *ctxStore) LoadContext(ctx context.Context, id string) (*Session, error) {
	s.record(ctx)
	return s.Load(id)
}

func (s *ctxStore) SaveContext(ctx context.Context, sess *Session) error {
	s.record(ctx)
	return s.Save(sess)
}

func (s *ctxStore) DeleteContext(ctx context.Context, id string) error {
	s.record(ctx)
	return s.Delete(id)
}

// ttlStore is a ctxStore with SaveTTL.
type ttlStore struct{ *ctxStore }

func (s ttlStore) SaveTTL(ctx context.Context, sess *Session, ttl time.Duration) error {
	s.record(ctx)
	return s.saveTTL(sess, ttl)
}

var (
	_ ContextStore = (*ctxStore)(nil)
	_ TTLStore     = ttlStore{}
)
