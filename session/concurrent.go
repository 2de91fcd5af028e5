package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
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
			case !m.inGrace(got, now):
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
		if !m.ownTTL(got.TTL) && m.expired(sess, now) {
			// Idle too long by UpdatedAt, the TTL not being the
			// manager's: deleted, as with stores without versions.
			if err := storeDelete(r.Context(), vs, id); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, nil, err
			}
			return nil, nil, nil
		}
		if sess.Data == nil {
			sess.Data = make(map[string]interface{})
		}
		st := &tracked{phase: phaseStored, storedID: id, snapshot: snapshotOf(sess),
			version: got.Version, ttl: got.TTL, noTTL: got.TTL == 0, forwarded: forwarded, user: m.loadedUser(sess.Data)}
		return sess, st, nil
	}
}

// inGrace reports whether a marker is within the grace. Its age is read
// from its TTL, by Redis's clock, which the app servers share (their own
// may disagree): past the grace, no more than the stale window is left.
// A marker that is not one of ours (a TTL longer than a marker gets, a
// date in the future) is past the grace, so that it locks nobody out.
func (m *Manager) inGrace(got Stored, now time.Time) bool {
	const slack = time.Second // TTLs are set in milliseconds, configs may differ a little
	return got.TTL > m.staleWindow() && got.TTL <= m.markerTTL()+slack &&
		got.Marker.At.Sub(now) <= maxClockSkew
}

// ownTTL reports whether ttl, what remained of a session's TTL at load,
// can be one the manager set: then the TTL is the idle timeout. A session
// without a TTL, or with one longer than MaxAge (written by Save or
// sessionx with the store's TTL, before an upgrade), has its idle timeout
// checked by UpdatedAt, and its TTL set at its next save.
func (m *Manager) ownTTL(ttl time.Duration) bool {
	return m.cfg.MaxAge <= 0 || ttl > 0 && ttl <= m.cfg.MaxAge+time.Second
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

// markerTTL is how long a rotation marker stays: the grace, then the stale
// window, to tell stale IDs from unknown ones.
func (m *Manager) markerTTL() time.Duration { return m.grace() + m.staleWindow() }

// staleWindow is how long a marker stays after the grace: RotationInterval,
// or the grace if longer, and at least a second. A marker with no more
// than that left of its TTL is past the grace.
func (m *Manager) staleWindow() time.Duration {
	return max(m.grace(), m.cfg.RotationInterval, time.Second)
}

// saveVersioned is save with a VersionedStore: a fresh session is created
// only if its ID is free; a stored one is written, touched or rotated only
// if the store still holds what this request loaded, and otherwise rebased
// on what it holds now (see rebase). A session found ended is never
// written, and a cookie this response set for it is taken back.
func (m *Manager) saveVersioned(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, rotate bool, now time.Time) error {
	err := m.saveVersionedSteps(ctx, vs, h, sess, st, rotate, now)
	if errors.Is(err, ErrSessionEnded) && h != nil {
		dropCookie(h, m.cfg.CookieName)
	}
	return err
}

func (m *Manager) saveVersionedSteps(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, rotate bool, now time.Time) error {
	if st.phase == phaseFresh && len(sess.Data) == 0 {
		return nil
	}
	if _, err := m.userOf(sess.Data); err != nil {
		return newError("Save", err) // before any I/O
	}
	if st.phase == phaseFresh {
		if done, err := m.create(ctx, vs, h, sess, st, now); done || err != nil {
			return err
		}
	} else if rotate {
		joined, err := m.rotateVersioned(ctx, vs, h, sess, st, now)
		if err != nil || !joined {
			return err
		}
	}
	var indexed string // the user and ID this request indexed
	for range maxSaveAttempts {
		data, err := marshalData(sess.Data)
		if err != nil {
			return newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
		}
		user, err := m.userOf(sess.Data)
		if err != nil {
			return newError("Save", err)
		}
		lifetime := m.lifetime(sess, now)
		refresh := m.touchDue(st, lifetime)
		changed := !bytes.Equal(data, st.snapshot)
		// A write keeps the key's TTL unless the idle refresh is due:
		// the TTL changes only with a Set-Cookie. Without MaxAge the
		// cookie lives as long as the browser and every write sets the
		// store's TTL, as before; a key seen without a TTL (st.ttl zero:
		// PERSISTed, copied) gets one.
		keep := !refresh && m.cfg.MaxAge > 0 && st.ttl > 0
		if user != "" && indexed != user+"\x00"+sess.ID && (user != st.user || refresh || changed && !keep) {
			// A new user, or an expiry that moves: the index first.
			if err := m.index(ctx, user, sess.ID, lifetime, ""); err != nil {
				return err
			}
			indexed = user + "\x00" + sess.ID
		}
		var got Stored
		var ok bool
		switch {
		case changed:
			value, err := m.encode(sess, now)
			if err != nil {
				return err
			}
			got, ok, err = vs.SaveVersion(ctx, sess.ID, value, st.version, lifetime, keep)
			if err != nil {
				return m.storeError(st, err)
			}
			if ok {
				sess.UpdatedAt = now
				st.version, st.snapshot = got.Version, data
			}
		case refresh:
			got, ok, err = vs.TouchVersion(ctx, sess.ID, st.version, lifetime)
			if err != nil {
				return m.storeError(st, err)
			}
			if ok && got.Version != nil {
				st.version = got.Version // the store wrote the value again
			}
		default:
			ok = true
		}
		if ok {
			st.user = user
			if refresh || changed && !keep {
				st.ttl, st.noTTL = lifetime, false
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

// storeError is the error of a conditional write. A value under the
// session's key that is neither a session nor a marker (written by
// something else) means the session is no longer there: it ended.
func (m *Manager) storeError(st *tracked, err error) error {
	if errors.Is(err, ErrInvalidSession) {
		st.phase = phaseEnded
		return newError("Save", fmt.Errorf("%w: %w", ErrSessionEnded, err))
	}
	return newError("Save", err)
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

// create writes a fresh session under its ID if the ID is free. A
// session migrated from a sealed cookie whose ID another request of it
// created first (the migrated ID is derived from the cookie) is rebased on
// that one instead: done is false, and the caller saves it as a stored
// session.
func (m *Manager) create(ctx context.Context, vs VersionedStore, h http.Header, sess *Session, st *tracked, now time.Time) (done bool, err error) {
	if !validID(sess.ID) {
		return true, newError("Save", fmt.Errorf("%w: malformed ID", ErrInvalidSession))
	}
	data, err := marshalData(sess.Data)
	if err != nil {
		return true, newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
	}
	if st.retire != "" {
		// A login on a migrated session: its derived ID is retired
		// first, so that no request of it saves or creates it again. A
		// logout already there ends this session; a parallel migration
		// that stored it gives its changes to this one.
		got, err := vs.Revoke(ctx, st.retire, Marker{At: now}, m.markerTTL(), true)
		if err != nil {
			return true, newError("Rotate", err)
		}
		if err := m.joinDerived(ctx, vs, sess, st, got); err != nil {
			return true, err
		}
		if data, err = marshalData(sess.Data); err != nil {
			return true, newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
		}
	}
	value, err := m.encode(sess, now)
	if err != nil {
		return true, err
	}
	lifetime := m.lifetime(sess, now)
	user, err := m.userOf(sess.Data)
	if err != nil {
		return true, newError("Save", err)
	}
	if err := m.index(ctx, user, sess.ID, lifetime, ""); err != nil {
		return true, err
	}
	got, ok, err := vs.SaveVersion(ctx, sess.ID, value, nil, lifetime, false)
	switch {
	case err != nil:
		return true, m.storeError(st, err)
	case !ok && got.Marker != nil && got.Marker.MovedTo == "":
		// Revoked (RevokeUser) between its index entry and its value.
		st.phase = phaseEnded
		return true, newError("Save", ErrSessionEnded)
	case !ok && st.migrated:
		st.phase, st.storedID, st.forwarded = phaseStored, sess.ID, true
		return false, m.rebase(ctx, vs, sess, st, got)
	case !ok:
		return true, newError("Save", errIDTaken)
	}
	sess.UpdatedAt = now
	st.phase, st.storedID, st.snapshot, st.version, st.ttl, st.retire, st.user = phaseStored, sess.ID, data, got.Version, lifetime, "", user
	if h != nil {
		setCookie(h, m.cookie(sess.ID, lifetime))
	}
	return true, nil
}

// joinDerived handles what a migrated session's derived ID held when it
// was retired: nothing (this request migrates first), an explicit marker
// (a logout: the session ended) or a session stored by a parallel request,
// whose Data this one's changes are re-applied to.
func (m *Manager) joinDerived(ctx context.Context, vs VersionedStore, sess *Session, st *tracked, got Stored) error {
	switch {
	case got.Marker != nil:
		st.phase = phaseEnded
		return newError("Save", ErrSessionEnded)
	case got.Value == nil:
		return nil
	}
	id, rotatedAt := sess.ID, sess.RotatedAt
	st.storedID = st.retire
	err := m.rebase(ctx, vs, sess, st, got)
	st.storedID, sess.ID, sess.RotatedAt = "", id, rotatedAt
	return err
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
// requests make one new ID; an explicit one rotates away from it. A new ID
// that is not retired to in the end is deleted, with its own deadline, so
// no second copy of the session outlives a failure or a logout.
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
		if err != nil || joined {
			if written != nil {
				m.deleteDetached(ctx, vs, newID)
			}
			if !explicit || joined {
				sess.ID = st.storedID
			}
		}
	}()
	retried := false
	var indexed string // user and new ID this request indexed
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
		user, err := m.userOf(sess.Data)
		if err != nil {
			return false, newError("Save", err)
		}
		if user != "" && indexed != user+"\x00"+newID {
			// Indexed for its full lifetime, which extend gives it.
			if err := m.index(ctx, user, newID, lifetime, st.storedID); err != nil {
				return false, err
			}
			indexed = user + "\x00" + newID
		}
		// Until the old ID is retired the new one lives pendingTTL: a
		// rotation cut short (a dead network) leaves no copy of the
		// session for long, even where the delete cannot reach Redis.
		got, ok, err := vs.SaveVersion(ctx, newID, value, written, pending(lifetime), false)
		if err != nil {
			return false, m.storeError(st, err)
		}
		if !ok && written == nil && got.Marker != nil && got.Marker.MovedTo == "" {
			// Revoked (RevokeUser) between its index entry and its value.
			st.phase = phaseEnded
			return false, newError("Save", ErrSessionEnded)
		}
		if !ok {
			if written != nil || retried {
				return false, newError("Save", errIDTaken)
			}
			// Taken: a new ID left by an earlier failed attempt of this
			// request, or a collision. Another one.
			retried = true
			if newID, err = newIDFor("Save"); err != nil {
				return false, err
			}
			continue
		}
		written = got.Version
		marker := Marker{At: now}
		if !explicit {
			marker.MovedTo = newID
		}
		got, ok, err = vs.Retire(ctx, st.storedID, st.version, marker, m.markerTTL())
		if err != nil && !errors.Is(err, ErrInvalidSession) {
			// The retire may have run and its reply been lost: look.
			var known bool
			if ok, known = m.retired(ctx, vs, st.storedID, marker); !known {
				// Nobody can tell: the new ID may be the session now.
				// Kept, it lives pendingTTL unless a request forwarded
				// to it touches it.
				written = nil
			}
		}
		if err != nil && !ok {
			return false, m.storeError(st, err)
		}
		if ok {
			// The old ID ended: out of its user's index.
			m.unindex(ctx, st.user, st.storedID)
			sess.UpdatedAt = now
			st.storedID, st.version, st.snapshot, st.ttl, st.rotate, st.user = newID, written, data, pending(lifetime), false, user
			// The new ID gets its full lifetime. Should that fail, the
			// next request, finding its TTL short, touches it.
			if m.extend(ctx, vs, newID, written, lifetime) {
				st.ttl = lifetime
			}
			if h != nil {
				setCookie(h, m.cookie(newID, lifetime))
			}
			return false, nil
		}
		if mk := got.Marker; mk != nil && mk.MovedTo != "" && !explicit {
			// Another request rotated first: join its new ID.
			return true, m.rebase(ctx, vs, sess, st, got)
		}
		if err := m.rebase(ctx, vs, sess, st, got); err != nil {
			return false, err
		}
	}
	return false, newError("Save", ErrConflict)
}

// pendingTTL is how long a rotation's new ID lives until the old one is
// retired; then it gets the session's lifetime.
const pendingTTL = time.Minute

// pending returns the TTL of a new ID whose old one is not yet retired.
func pending(lifetime time.Duration) time.Duration {
	if lifetime > 0 && lifetime < pendingTTL {
		return lifetime
	}
	return pendingTTL
}

// settleTimeout bounds how long a failed Retire is looked into.
const settleTimeout = 3 * time.Second

// retired reports whether id holds marker: after a failed Retire, whether
// it ran all the same (its reply lost); known is false when the store
// could not be read. It reads even when ctx has ended, trying again while
// the store fails, within settleTimeout.
func (m *Manager) retired(ctx context.Context, vs VersionedStore, id string, marker Marker) (ok, known bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		got, err := vs.LoadVersion(ctx, id)
		if err == nil {
			mk := got.Marker
			return mk != nil && mk.MovedTo == marker.MovedTo && mk.At.UnixMilli() == marker.At.UnixMilli(), true
		}
		select {
		case <-ctx.Done():
			return false, false
		case <-time.After(wait):
		}
	}
}

// extend gives a rotation's new ID its lifetime, even when ctx has ended
// (the rotation is done: its new ID must not expire with the pending TTL).
func (m *Manager) extend(ctx context.Context, vs VersionedStore, id string, version []byte, lifetime time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), destroyTimeout)
	defer cancel()
	_, ok, err := vs.TouchVersion(ctx, id, version, lifetime)
	return err == nil && ok
}

// deleteDetached deletes id even when ctx has ended (a client that went
// away, a deadline that struck mid-rotation), within destroyTimeout.
func (m *Manager) deleteDetached(ctx context.Context, s Store, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), destroyTimeout)
	defer cancel()
	_ = storeDelete(ctx, s, id)
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
		if got, err = vs.LoadVersion(ctx, to); err != nil {
			// (ErrInvalidSession: not a session, so the session ended.)
			if !errors.Is(err, ErrInvalidSession) {
				return newError("Save", err)
			}
			got = Stored{}
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
	st.snapshot, st.version, st.user = snapshotOf(&base), got.Version, m.loadedUser(base.Data)
	if got.TTL > 0 { // a conflict's answer carries none: the key keeps its TTL, at most st.ttl
		st.ttl = got.TTL
	}
	// The handler may hold sess.Data: it stays the same map.
	if sess.Data == nil {
		sess.Data = make(map[string]interface{})
	}
	keepOwnValues(base.Data, sess.Data, changes)
	clear(sess.Data)
	maps.Copy(sess.Data, base.Data)
	applyChanges(sess.Data, changes)
	sess.CreatedAt = base.CreatedAt
	if !st.rotate {
		sess.RotatedAt = base.RotatedAt
	}
	return nil
}
