package session

import (
	"context"
	"time"
)

// flashKey is the Data key under which flash messages live, as in sessionx.
const flashKey = "_flashes"

// Session is one user's session. Its JSON form is identical to sessionx's:
// the Go field names as keys and times in RFC 3339 with nanoseconds.
type Session struct {
	ID        string
	Data      map[string]interface{}
	CreatedAt time.Time
	UpdatedAt time.Time
	RotatedAt time.Time
}

// Store persists sessions by ID. When no session exists under an ID, Load
// returns an error for which errors.Is(err, ErrNotFound) reports true (or a
// nil session and a nil error); the manager starts a fresh session then and
// treats every other error as a failure of the store.
type Store interface {
	Load(id string) (*Session, error)
	Save(sess *Session) error
	Delete(id string) error
}

// ContextStore is a Store whose calls take a context. The manager uses these
// methods when the store offers them, so a client that goes away cancels the
// store's I/O.
type ContextStore interface {
	Store
	LoadContext(ctx context.Context, id string) (*Session, error)
	SaveContext(ctx context.Context, sess *Session) error
	DeleteContext(ctx context.Context, id string) error
}

// AddFlash adds a flash message under key, replacing any earlier one.
func (s *Session) AddFlash(key string, value interface{}) {
	if s.Data == nil {
		s.Data = make(map[string]interface{})
	}
	flashes, _ := s.Data[flashKey].(map[string]interface{})
	if flashes == nil {
		flashes = make(map[string]interface{})
		s.Data[flashKey] = flashes
	}
	flashes[key] = value
}

// GetFlash returns the flash message under key and removes it.
func (s *Session) GetFlash(key string) (interface{}, bool) {
	flashes, _ := s.Data[flashKey].(map[string]interface{})
	v, ok := flashes[key]
	if ok {
		delete(flashes, key)
		if len(flashes) == 0 {
			delete(s.Data, flashKey)
		}
	}
	return v, ok
}

// GetFlashes returns every flash message and removes them all.
func (s *Session) GetFlashes() map[string]interface{} {
	flashes, _ := s.Data[flashKey].(map[string]interface{})
	delete(s.Data, flashKey)
	if flashes == nil {
		flashes = map[string]interface{}{}
	}
	return flashes
}

// HasFlash reports whether a flash message exists under key.
func (s *Session) HasFlash(key string) bool {
	flashes, _ := s.Data[flashKey].(map[string]interface{})
	_, ok := flashes[key]
	return ok
}
