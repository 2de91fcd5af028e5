package sessiongin

import (
	"encoding/json"
	"sync"

	"github.com/sessionx-redis/redisstore/session"
)

// memStore is a tiny in-memory session.Store that keeps JSON (so sessions
// never alias) and fails on demand.
type memStore struct {
	mu               sync.Mutex
	data             map[string][]byte
	loadErr, saveErr error
}

func newMemStore() *memStore { return &memStore{data: map[string][]byte{}} }

func (s *memStore) Load(id string) (*session.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return nil, s.loadErr
	}
	b, ok := s.data[id]
	if !ok {
		return nil, session.ErrNotFound
	}
	var sess session.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, err
	}
	return &sess, nil
}

func (s *memStore) Save(sess *session.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	s.data[sess.ID] = b
	return nil
}

func (s *memStore) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, id)
	return nil
}

// get returns the stored session's Data, or nil if id is not stored.
func (s *memStore) get(id string) map[string]interface{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[id]
	if !ok {
		return nil
	}
	var sess session.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil
	}
	return sess.Data
}

func (s *memStore) fail(load, save error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr, s.saveErr = load, save
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}
