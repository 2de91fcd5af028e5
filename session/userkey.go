package session

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// userIndex is what saves and logouts do for the user index. WithUserKey
// sets one in Config (no exported field does), and the manager reaches it
// only through this interface, so that a program that never calls
// WithUserKey links none of its code.
type userIndex interface {
	// userOf returns the user data names, "" for none, or an error
	// matching ErrInvalidUser.
	userOf(data map[string]interface{}) (string, error)
	// index records id in user's index before a write that sets its TTL
	// to ttl, and revokes the sessions the bound pushes out, but spare.
	index(ctx context.Context, m *Manager, user, id string, ttl time.Duration, spare string) error
	// unindex removes ids, which ended, from user's index.
	unindex(ctx context.Context, m *Manager, user string, ids []string)
}

// userKey is the userIndex of WithUserKey: the user is Data[userKey].
type userKey string

// userOf returns the user data names under the user key, or "" when there
// is none (no user index, no value, an empty string, nil).
func (m *Manager) userOf(data map[string]interface{}) (string, error) {
	if m.cfg.users == nil {
		return "", nil
	}
	return m.cfg.users.userOf(data)
}

// loadedUser is the user of a session as loaded: "" when its value under
// the user key cannot name one (the save reports that).
func (m *Manager) loadedUser(data map[string]interface{}) string {
	user, err := m.userOf(data)
	if err != nil {
		return ""
	}
	return user
}

// index records id in the index of user, if any, before a write that sets
// its TTL to ttl (see userIndex.index).
func (m *Manager) index(ctx context.Context, user, id string, ttl time.Duration, spare string) error {
	if user == "" || m.cfg.users == nil {
		return nil
	}
	return m.cfg.users.index(ctx, m, user, id, ttl, spare)
}

// unindex removes ids, which ended, from user's index; a failure leaves
// entries that readers of the index skip, until they expire.
func (m *Manager) unindex(ctx context.Context, user string, ids ...string) {
	if user != "" && len(ids) > 0 && m.cfg.users != nil {
		m.cfg.users.unindex(ctx, m, user, ids)
	}
}

// maxExactInt is the largest integer a float64, which JSON brings numbers
// back as, holds exactly.
const maxExactInt = 1 << 53

// userOf returns the string under the key, or a number's decimal text.
func (k userKey) userOf(data map[string]interface{}) (string, error) {
	var user string
	switch v := data[string(k)].(type) {
	case nil:
		return "", nil
	case string:
		if v == "" {
			return "", nil
		}
		user = v
	case float64:
		return k.floatUser(v, 64)
	case float32:
		return k.floatUser(float64(v), 32) // as JSON writes it
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return k.intUser(n) // beyond 2^53 refused, as for an int
		}
		f, err := v.Float64() // as JSON brings it back
		if err != nil {
			return "", fmt.Errorf("%w: %q under %q: %w", ErrInvalidUser, v, string(k), err)
		}
		return k.floatUser(f, 64)
	case int:
		return k.intUser(int64(v))
	case int8:
		return k.intUser(int64(v))
	case int16:
		return k.intUser(int64(v))
	case int32:
		return k.intUser(int64(v))
	case int64:
		return k.intUser(v)
	case uint:
		return k.uintUser(uint64(v))
	case uint8:
		return k.uintUser(uint64(v))
	case uint16:
		return k.uintUser(uint64(v))
	case uint32:
		return k.uintUser(uint64(v))
	case uint64:
		return k.uintUser(v)
	default:
		return "", fmt.Errorf("%w: a %T under %q, not a string, a number type or a json.Number", ErrInvalidUser, v, string(k))
	}
	return user, CheckUser(user)
}

func (k userKey) floatUser(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: %v under %q", ErrInvalidUser, f, string(k))
	}
	user := strconv.FormatFloat(f, 'f', -1, bits)
	return user, CheckUser(user) // 1e300 has 301 digits
}

func (k userKey) intUser(n int64) (string, error) {
	if n > maxExactInt || n < -maxExactInt {
		return "", fmt.Errorf("%w: %d under %q is beyond 2^53, which JSON rounds: store it as a string", ErrInvalidUser, n, string(k))
	}
	return strconv.FormatInt(n, 10), nil
}

func (k userKey) uintUser(n uint64) (string, error) {
	if n > maxExactInt {
		return "", fmt.Errorf("%w: %d under %q is beyond 2^53, which JSON rounds: store it as a string", ErrInvalidUser, n, string(k))
	}
	return strconv.FormatUint(n, 10), nil
}

// index writes the entry in a UserStore (other stores keep no index).
// spare, a rotation's old ID, which the rotation retires itself, stays in
// the index until then. The sessions trimmed are revoked where they are:
// a rotation marker there leads to a session with its own entry.
func (userKey) index(ctx context.Context, m *Manager, user, id string, ttl time.Duration, spare string) error {
	us, ok := m.cfg.Store.(UserStore)
	if !ok {
		return nil
	}
	trimmed, err := us.IndexSession(ctx, user, id, spare, ttl, maxUserSessions)
	if err != nil {
		return newError("Save", err)
	}
	if len(trimmed) > 0 {
		// Out of the index, they must end now: revoked with their own
		// deadline, whatever becomes of this request.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), destroyTimeout)
		defer cancel()
		_, _, _ = m.revokeIDs(ctx, us, user, trimmed, nil, false)
	}
	return nil
}

// unindex removes ids from the index in a UserStore.
func (userKey) unindex(ctx context.Context, m *Manager, user string, ids []string) {
	if us, ok := m.cfg.Store.(UserStore); ok {
		_ = us.UnindexSessions(ctx, user, ids)
	}
}
