package session

import (
	"bytes"
	"runtime"
	"sync"
	"time"
	"weak"
)

// refreshFraction sets when an unchanged session is written back anyway:
// once MaxAge/refreshFraction has passed since it was last written. Without
// it MaxAge would count from the last change instead of the last request;
// with it the idle timeout falls between 90% and 100% of MaxAge after the
// last request, at the price of at most refreshFraction writes per MaxAge
// for a session that is read but never changed.
const refreshFraction = 10

// phase is where a tracked session is in its life.
type phase uint8

const (
	// phaseFresh: made by the manager and never saved; it is saved (created
	// in the store) once Data holds something.
	phaseFresh phase = iota
	// phaseStored: loaded from, or saved to, the store or a sealed cookie
	// under storedID.
	phaseStored
	// phaseEnded: the session ended after it was loaded (destroyed,
	// retired by an explicit rotation, expired), or it was loaded through
	// a retired ID within the grace; it is never saved again.
	phaseEnded
)

// tracked is what the manager remembers about a session it handed out,
// between Load (or New) and Save. It never points at the session, so that
// the session can be collected.
type tracked struct {
	phase phase
	// storedID is the ID the session is saved under (the one the client's
	// cookie holds); empty while the session was never saved. After an
	// explicit Rotate it differs from Session.ID until the save, which
	// then retires it.
	storedID string
	// snapshot is the JSON of Data as loaded or last saved.
	snapshot []byte
	// version is what a VersionedStore holds under storedID as loaded or
	// last written; ttl is what remained of its TTL at load.
	version []byte
	ttl     time.Duration
	// noTTL marks a session loaded from a key without a TTL (PERSISTed,
	// copied), which its next save gives one, even without MaxAge.
	noTTL bool
	// rotate marks an explicit Rotate, which the next save carries out.
	rotate bool
	// forwarded marks a session reached through an automatic rotation's
	// marker: the response sends its cookie again.
	forwarded bool
	// migrated marks a session taken over from a sealed cookie
	// (CookieMigration), whose ID is derived from that cookie.
	migrated bool
	// retire is an ID that parallel requests may still create, retired
	// once this session is created: a migrated session's derived ID after
	// Rotate (a login).
	retire string
	// user is the user whose index names storedID: the user key's value
	// as loaded or last saved ("" for none).
	user string
	// err is a failure to make an ID for this session (New, Rotate),
	// returned by its next save instead of writing a weak or stale ID.
	err error
}

// tracker maps sessions to their tracked state by weak pointer: a session
// that becomes unreachable (a caller that loads and never saves) drops out
// of the table through a runtime cleanup, so the table cannot leak.
type tracker struct {
	mu sync.Mutex // protects m; a tracked value is used by one request only
	m  map[weak.Pointer[Session]]*tracked
}

// track records st for sess, replacing what was recorded.
func (t *tracker) track(sess *Session, st *tracked) {
	wp := weak.Make(sess)
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[weak.Pointer[Session]]*tracked)
	}
	_, known := t.m[wp]
	t.m[wp] = st
	t.mu.Unlock()
	if !known {
		runtime.AddCleanup(sess, t.forgetPointer, wp)
	}
}

// lookup returns what is recorded for sess, or nil.
func (t *tracker) lookup(sess *Session) *tracked {
	wp := weak.Make(sess)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[wp]
}

// forget drops sess from the table (the middleware does so at the end of a
// request; the cleanup would do it later anyway).
func (t *tracker) forget(sess *Session) { t.forgetPointer(weak.Make(sess)) }

func (t *tracker) forgetPointer(wp weak.Pointer[Session]) {
	t.mu.Lock()
	delete(t.m, wp)
	t.mu.Unlock()
}

// len returns the number of tracked sessions (for tests).
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// dirty reports whether sess must be written back by a store without
// versions or a sealed cookie, and returns the JSON of its Data for the
// new snapshot (nil when not needed).
//
// Change detection compares the JSON encoding of Data with the snapshot
// taken at Load: what a store or the sealed cookie keeps is that encoding,
// next to the ID and times that only the manager changes (Rotate changes the
// ID, which is compared too), so equal encodings mean an equal stored
// session. The cost is one encoding of Data at Load and one per save
// attempt; a fresh session with empty Data costs nothing.
func (m *Manager) dirty(sess *Session, st *tracked, now time.Time) (bool, []byte, error) {
	if st != nil && st.phase == phaseFresh && len(sess.Data) == 0 {
		return false, nil, nil
	}
	data, err := marshalData(sess.Data)
	if err != nil {
		return false, nil, err
	}
	switch {
	case st == nil, st.phase == phaseFresh, sess.ID != st.storedID, !bytes.Equal(data, st.snapshot):
		return true, data, nil
	}
	return m.refreshDue(sess, now), data, nil
}

// refreshDue reports whether an unchanged session should be written back to
// push its idle timeout forward (see refreshFraction).
func (m *Manager) refreshDue(sess *Session, now time.Time) bool {
	return m.cfg.MaxAge > 0 && now.Sub(sess.UpdatedAt) >= m.cfg.MaxAge/refreshFraction
}

// touchDue reports whether a session in a VersionedStore should have its
// TTL pushed forward: when more than MaxAge/refreshFraction of lifetime
// has run out since the last write or touch, or when it still has the
// short TTL of a rotation whose extension failed (see pendingTTL).
func (m *Manager) touchDue(st *tracked, lifetime time.Duration) bool {
	if st.ttl <= 0 {
		// A key seen without a TTL gets one; with MaxAge, one written
		// with the store's TTL gets the manager's.
		return m.cfg.MaxAge > 0 || st.noTTL
	}
	if !m.ownTTL(st.ttl) {
		return true // longer than MaxAge: not the manager's, made its own
	}
	if st.ttl <= pendingTTL && (lifetime == 0 || lifetime > pendingTTL) {
		return true
	}
	return m.cfg.MaxAge > 0 && lifetime-st.ttl >= m.cfg.MaxAge/refreshFraction
}
