package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// maxSaveAttempts bounds the conditional writes of one save: each conflict
// re-applies the request's changes to what another request stored and
// tries again. With n requests of one session saving at once the last one
// needs n attempts.
const maxSaveAttempts = 100

// maxForwards bounds the rotation markers followed from one ID.
const maxForwards = 3

// loadVersioned loads id from vs, following an automatic rotation's marker
// within the grace. It returns nils for an ID that holds nothing usable,
// and a session in phaseEnded for an ID retired within the grace.
func (m *Manager) loadVersioned(r *http.Request, vs VersionedStore, id string, now time.Time) (*Session, *tracked, error) {
	forwarded := false
	for hops := 0; ; hops++ {
		got, err := vs.LoadVersion(r.Context(), id)
		if errors.Is(err, ErrInvalidSession) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if mk := got.Marker; mk != nil {
			switch {
			case now.Sub(mk.At) > m.grace():
				if m.cfg.StaleIDHandler != nil {
					m.cfg.StaleIDHandler(r)
				}
				return nil, nil, nil
			case mk.MovedTo == "":
				sess, err := m.fresh("Load")
				if err != nil {
					return nil, nil, err
				}
				return sess, &tracked{phase: phaseEnded}, nil
			case hops == maxForwards || !validID(mk.MovedTo):
				return nil, nil, nil
			}
			id, forwarded = mk.MovedTo, true
			continue
		}
		if got.Value == nil {
			return nil, nil, nil
		}
		sess := new(Session)
		if err := sess.UnmarshalJSON(got.Value); err != nil || sess.ID != id || m.pastLimits(sess, now) {
			return nil, nil, nil // another ID's, past its absolute timeout or dated in the future
		}
		if sess.Data == nil {
			sess.Data = make(map[string]interface{})
		}
		st := &tracked{phase: phaseStored, storedID: id, snapshot: snapshotOf(sess),
			version: got.Version, ttl: got.TTL, forwarded: forwarded}
		return sess, st, nil
	}
}

// grace returns how long a rotated-away ID serves requests.
func (m *Manager) grace() time.Duration {
	switch g := m.cfg.RotationGrace; {
	case g == 0:
		return defaultRotationGrace
	case g < 0:
		return 0
	default:
		return g
	}
}

// markerTTL is how long a rotation marker stays: the grace, then as long
// again as RotationInterval (or the grace, if longer) to tell stale IDs
// from unknown ones.
func (m *Manager) markerTTL() time.Duration {
	return m.grace() + max(m.grace(), m.cfg.RotationInterval, time.Second)
}

// saveVersioned is save with a VersionedStore: a fresh session is created
// only if its ID is free; a stored one is written, touched or rotated only
// if the store still holds what this request loaded, and otherwise rebased
// on what it holds now (see rebase).
func (m *Manager) saveVersioned(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, rotate bool, now time.Time) error {
	if st.phase == phaseFresh {
		if len(sess.Data) == 0 {
			return nil
		}
		return m.create(ctx, vs, h, sess, st, now)
	}
	if rotate {
		joined, err := m.rotateVersioned(ctx, vs, h, sess, st, now)
		if err != nil || !joined {
			return err
		}
	}
	for range maxSaveAttempts {
		data, err := marshalData(sess.Data)
		if err != nil {
			return newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
		}
		lifetime := m.lifetime(sess, now)
		refresh := m.touchDue(st, lifetime)
		var got Stored
		var ok bool
		switch {
		case !bytes.Equal(data, st.snapshot):
			// A write keeps the key's TTL unless the idle refresh is
			// due: the TTL changes only with a Set-Cookie (see KeepTTL).
			ttl := KeepTTL
			if refresh {
				ttl = lifetime
			}
			value, err := m.encode(sess, now)
			if err != nil {
				return err
			}
			got, ok, err = vs.SaveVersion(ctx, sess.ID, value, st.version, ttl)
			if err != nil {
				return newError("Save", err)
			}
			if ok {
				sess.UpdatedAt = now
				st.version, st.snapshot = got.Version, data
			}
		case refresh:
			got, ok, err = vs.TouchVersion(ctx, sess.ID, st.version, lifetime)
			if err != nil {
				return newError("Save", err)
			}
		default:
			ok = true
		}
		if ok {
			if refresh {
				st.ttl = lifetime
			}
			if h != nil && (refresh || st.forwarded) {
				st.forwarded = false
				setCookie(h, m.cookie(sess.ID, lifetime))
			}
			return nil
		}
		if err := m.rebase(ctx, vs, sess, st, got); err != nil {
			return err
		}
	}
	return newError("Save", ErrConflict)
}

// encode returns the JSON of sess as it will be stored, written at now.
func (m *Manager) encode(sess *Session, now time.Time) ([]byte, error) {
	previous := sess.UpdatedAt
	sess.UpdatedAt = now
	value, err := sess.MarshalJSON()
	sess.UpdatedAt = previous
	if err != nil {
		return nil, newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
	}
	return value, nil
}

// create writes a fresh session under its ID if the ID is free.
func (m *Manager) create(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, now time.Time) error {
	if !validID(sess.ID) {
		return newError("Save", fmt.Errorf("%w: malformed ID", ErrInvalidSession))
	}
	data, err := marshalData(sess.Data)
	if err != nil {
		return newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
	}
	value, err := m.encode(sess, now)
	if err != nil {
		return err
	}
	lifetime := m.lifetime(sess, now)
	got, ok, err := vs.SaveVersion(ctx, sess.ID, value, nil, lifetime)
	if err != nil {
		return newError("Save", err)
	}
	if !ok {
		return newError("Save", errIDTaken)
	}
	sess.UpdatedAt = now
	st.phase, st.storedID, st.snapshot, st.version, st.ttl = phaseStored, sess.ID, data, got.Version, lifetime
	if h != nil {
		setCookie(h, m.cookie(sess.ID, lifetime))
	}
	return nil
}

// errIDTaken reports a new session whose random ID is already stored: it
// takes a broken random source, or a store that answers for every ID.
var errIDTaken = errors.New("session: new session ID already in use")

// rotateVersioned moves a stored session to sess.ID (explicit Rotate) or a
// new ID (automatic rotation): it creates the new ID, then retires the old
// one with a marker if it still holds what this request loaded. When
// another request changed the old session, this one's changes are
// re-applied and the new ID rewritten; when another request already
// rotated it automatically, an automatic rotation joins that one's new ID
// instead (joined: the caller then saves there as usual), so parallel
// requests make one new ID; an explicit one rotates away from it.
func (m *Manager) rotateVersioned(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, now time.Time) (joined bool, err error) {
	explicit := st.rotate
	newID := sess.ID
	if !explicit {
		if newID, err = newIDFor("Save"); err != nil {
			return false, err
		}
	}
	var written []byte // what this request stored under newID
	defer func() {
		if err != nil && !explicit {
			sess.ID = st.storedID
		}
	}()
	for range maxSaveAttempts {
		sess.ID, sess.RotatedAt = newID, now
		data, err := marshalData(sess.Data)
		if err != nil {
			return false, newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
		}
		value, err := m.encode(sess, now)
		if err != nil {
			return false, err
		}
		lifetime := m.lifetime(sess, now)
		got, ok, err := vs.SaveVersion(ctx, newID, value, written, lifetime)
		if err != nil {
			return false, newError("Save", err)
		}
		if !ok {
			return false, newError("Save", errIDTaken)
		}
		written = got.Version
		marker := Marker{At: now}
		if !explicit {
			marker.MovedTo = newID
		}
		got, ok, err = vs.Retire(ctx, st.storedID, st.version, marker, m.markerTTL())
		if err != nil {
			return false, newError("Rotate", err)
		}
		if ok {
			sess.UpdatedAt = now
			st.storedID, st.version, st.snapshot, st.ttl, st.rotate = newID, written, data, lifetime, false
			if h != nil {
				setCookie(h, m.cookie(newID, lifetime))
			}
			return false, nil
		}
		if mk := got.Marker; mk != nil && mk.MovedTo != "" && !explicit {
			// Another request rotated first: drop this ID, join its.
			_ = storeDelete(ctx, vs, newID)
			sess.ID = st.storedID
			return true, m.rebase(ctx, vs, sess, st, got)
		}
		if err := m.rebase(ctx, vs, sess, st, got); err != nil {
			if errors.Is(err, ErrSessionEnded) {
				_ = storeDelete(ctx, vs, newID)
			}
			return false, err
		}
	}
	return false, newError("Save", ErrConflict)
}

// newIDFor is newID with the error wrapped for op.
func newIDFor(op string) (string, error) {
	id, err := newID()
	return id, newError(op, err)
}

// rebase moves this request's changes onto got, what the store holds now
// under the session's stored ID instead of the version it loaded:
//   - another version of the session: the request's changes (see
//     dataChanges) are applied to its Data, which becomes sess.Data;
//   - an automatic rotation's marker: the session is loaded from its new
//     ID, which becomes sess.ID and the stored ID, and the changes go
//     there (the response sends the new cookie);
//   - nothing, or an explicit rotation's marker: the session ended; it
//     is never written again and rebase returns ErrSessionEnded.
func (m *Manager) rebase(ctx context.Context, vs VersionedStore, sess *Session, st *tracked, got Stored) error {
	changes, err := dataChanges(st.snapshot, sess.Data)
	if err != nil {
		return newError("Save", err)
	}
	for hops := 0; got.Marker != nil; hops++ {
		to := got.Marker.MovedTo
		if to == "" || hops == maxForwards || !validID(to) {
			break
		}
		if got, err = vs.LoadVersion(ctx, to); err != nil && !errors.Is(err, ErrInvalidSession) {
			return newError("Save", err)
		}
		st.storedID, st.forwarded = to, true
		if !st.rotate {
			sess.ID = to
		}
	}
	var base Session
	if got.Value == nil || base.UnmarshalJSON(got.Value) != nil || base.ID != st.storedID {
		st.phase = phaseEnded
		return newError("Save", ErrSessionEnded)
	}
	if base.Data == nil {
		base.Data = make(map[string]interface{})
	}
	st.snapshot, st.version, st.ttl = snapshotOf(&base), got.Version, got.TTL
	applyChanges(base.Data, changes)
	sess.Data, sess.CreatedAt = base.Data, base.CreatedAt
	if !st.rotate {
		sess.RotatedAt = base.RotatedAt
	}
	return nil
}
