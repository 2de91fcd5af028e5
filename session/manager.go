package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"reflect"
	"slices"
	"time"
)

// nowFunc is the clock; tests replace it.
var nowFunc = time.Now

// Manager loads, saves, rotates and destroys sessions for HTTP requests. It
// is safe for concurrent use; a Session is not, and belongs to one request.
type Manager struct {
	cfg      Config
	aead     cipher.AEAD // seals cookies when cfg.Store is nil
	sessions tracker     // state of sessions handed out by Load and New
}

// NewManager checks cfg and returns a Manager. It fails with an error
// matching ErrInvalidSecretKey when SecretKey is not 16, 24 or 32 bytes, and
// rejects a cookie name net/http would not send and cookie settings that
// browsers drop silently: a "__Host-" name without Secure, with a Domain or
// with a Path other than "/", a "__Secure-" name without Secure, SameSite
// None without Secure, a Domain that is not a host name or IPv4 address.
// The key is copied.
func NewManager(cfg Config) (*Manager, error) {
	switch len(cfg.SecretKey) {
	case 16, 24, 32:
	default:
		return nil, newError("NewManager", ErrInvalidSecretKey)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "sessionx"
	}
	if err := (&http.Cookie{Name: cfg.CookieName}).Valid(); err != nil {
		return nil, newError("NewManager", fmt.Errorf("session: invalid cookie name %q: %w", cfg.CookieName, err))
	}
	if err := checkCookieSettings(cfg); err != nil {
		return nil, newError("NewManager", err)
	}
	cfg.SecretKey = append([]byte(nil), cfg.SecretKey...)
	block, err := aes.NewCipher(cfg.SecretKey)
	if err != nil {
		return nil, newError("NewManager", fmt.Errorf("%w: %w", ErrInvalidSecretKey, err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, newError("NewManager", err)
	}
	return &Manager{cfg: cfg, aead: aead}, nil
}

// Load returns the request's session. A request without a usable cookie
// (none, not a well-formed ID, not sealed by this manager, unknown to the
// store, expired) gets a fresh session with a new random ID: an ID chosen by
// the client is never adopted, and a malformed one never reaches the store.
// Every cookie with the session's name is tried, in the order the request
// sends them, so a stray one (set from a sibling domain, say) does not hide
// the user's own. An expired session is deleted from a store without
// versions; a VersionedStore's TTL ends it.
//
// With a VersionedStore an ID rotated away within RotationGrace leads to
// the session's new ID (automatic rotation) or to an empty session that is
// never saved (explicit Rotate); see "Concurrent requests" in the package
// doc. A session due for rotation (RotationInterval) gets its new ID when
// it is saved.
//
// A store failure is not a fresh session: Load returns a nil session and an
// error wrapping the store's error, so an outage does not log everyone out
// or overwrite their data. Load passes r's context to a ContextStore.
//
// Inside this manager's Middleware, Load returns the session the middleware
// loaded (the one Get returns, unless another manager's middleware is nested
// inside), so that the handler and the middleware save one session, not two.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	if sess := m.requestSession(r); sess != nil && m.sessions.lookup(sess) != nil {
		return sess, nil
	}
	sess, st, err := m.loadCookies(r)
	if err != nil {
		return nil, newError("Load", err)
	}
	if sess == nil {
		return m.fresh("Load")
	}
	m.sessions.track(sess, st)
	return sess, nil
}

// loadCookies returns the session the first usable cookie names and its
// state, or nils when there is none; an error only for a store failure.
func (m *Manager) loadCookies(r *http.Request) (*Session, *tracked, error) {
	var ended *Session // a retired ID within the grace, if nothing better
	var buf [maxCookieValues]string
	for _, value := range m.cookieValues(r, buf[:0]) {
		sess, st, err := m.loadValue(r, value)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case sess == nil:
		case st.phase == phaseEnded:
			ended = sess
		default:
			return sess, st, nil
		}
	}
	if ended != nil {
		return ended, &tracked{phase: phaseEnded}, nil
	}
	return nil, nil, nil
}

// loadValue returns the session one cookie value names, or nils.
func (m *Manager) loadValue(r *http.Request, value string) (*Session, *tracked, error) {
	ctx := r.Context()
	now := nowFunc()
	if m.cfg.Store == nil || m.cfg.CookieMigration && !validID(value) {
		sess := m.unseal(value, now)
		if sess == nil {
			return nil, nil, nil
		}
		if m.cfg.Store != nil { // migrating: saved as a new session
			return m.migrated(sess, value), &tracked{phase: phaseFresh, migrated: true, snapshot: snapshotOf(sess)}, nil
		}
		return sess, &tracked{phase: phaseStored, storedID: sess.ID, snapshot: snapshotOf(sess)}, nil
	}
	if !validID(value) {
		return nil, nil, nil
	}
	if vs, ok := m.cfg.Store.(VersionedStore); ok {
		return m.loadVersioned(r, vs, value, now)
	}
	sess, err := storeLoad(ctx, m.cfg.Store, value)
	switch {
	case err == nil && sess != nil:
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidSession):
		return nil, nil, nil
	default:
		return nil, nil, err
	}
	if sess.ID == "" {
		sess.ID = value
	}
	if sess.ID != value {
		return nil, nil, nil // the store answered for another ID: do not use it
	}
	if m.expired(sess, now) {
		if err := storeDelete(ctx, m.cfg.Store, value); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	if sess.Data == nil {
		sess.Data = make(map[string]interface{})
	}
	return sess, &tracked{phase: phaseStored, storedID: value, snapshot: snapshotOf(sess)}, nil
}

// unseal opens a sealed cookie value into a session that has not expired,
// or returns nil.
func (m *Manager) unseal(value string, now time.Time) *Session {
	plain, err := m.open(value)
	if err != nil {
		return nil
	}
	var sess Session
	if err := sess.UnmarshalJSON(plain); err != nil || !validID(sess.ID) || m.expired(&sess, now) {
		return nil
	}
	if sess.Data == nil {
		sess.Data = make(map[string]interface{})
	}
	return &sess
}

// migrated turns a session opened from the sealed cookie value into a
// fresh one for the store: its Data and times kept, and an ID derived from
// the cookie (HMAC-SHA256 under the secret key), so that parallel requests
// carrying the same sealed cookie all take over one session, not one
// each, and nobody without the key can tell the ID from the cookie.
func (m *Manager) migrated(sess *Session, sealed string) *Session {
	mac := hmac.New(sha256.New, m.cfg.SecretKey)
	mac.Write([]byte("sessionx cookie migration\x00"))
	mac.Write([]byte(sealed))
	sess.ID = base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:idBytes])
	return sess
}

// snapshotOf returns the JSON of sess.Data, taken at Load to detect changes.
func snapshotOf(sess *Session) []byte {
	snapshot, err := marshalData(sess.Data)
	if err != nil {
		return nil // cannot happen for decoded JSON; nil makes it dirty
	}
	return snapshot
}

// maxClockSkew is how far in the future a session's CreatedAt or UpdatedAt
// may be (clocks of several servers disagree a little) before expired
// refuses it.
const maxClockSkew = time.Minute

// expired reports whether sess is past its idle or absolute timeout (see
// pastLimits).
func (m *Manager) expired(sess *Session, now time.Time) bool {
	return m.cfg.MaxAge > 0 && now.Sub(sess.UpdatedAt) > m.cfg.MaxAge || m.pastLimits(sess, now)
}

// pastLimits reports whether sess is past its absolute timeout, or dated
// more than maxClockSkew after now (a clock that went back, a tampered
// value: a date in the future would stretch both timeouts by as much). In
// a VersionedStore the idle timeout is the store's TTL, which a touch
// pushes forward without rewriting UpdatedAt, so only these are checked.
func (m *Manager) pastLimits(sess *Session, now time.Time) bool {
	if sess.CreatedAt.Sub(now) > maxClockSkew || sess.UpdatedAt.Sub(now) > maxClockSkew {
		return true
	}
	return m.cfg.AbsoluteTimeout > 0 && now.Sub(sess.CreatedAt) >= m.cfg.AbsoluteTimeout
}

// rotationDue reports whether RotationInterval has passed since sess was
// last rotated, or created if never.
func (m *Manager) rotationDue(sess *Session, now time.Time) bool {
	if m.cfg.RotationInterval <= 0 {
		return false
	}
	last := sess.RotatedAt
	if last.IsZero() {
		last = sess.CreatedAt
	}
	return now.Sub(last) >= m.cfg.RotationInterval
}

// New returns a fresh session with a new random ID and empty Data. It is
// saved (and its cookie set) only once Data holds something. If the random
// source fails, New returns a session with an empty ID whose Save returns
// an error matching ErrRandomFailed: never a weak ID.
func (m *Manager) New() *Session {
	sess, err := m.fresh("New")
	if err != nil {
		now := nowFunc()
		sess = &Session{Data: make(map[string]interface{}), CreatedAt: now, UpdatedAt: now}
		m.sessions.track(sess, &tracked{phase: phaseFresh, err: err})
	}
	return sess
}

// fresh makes and tracks a new session, or fails if the random source does.
func (m *Manager) fresh(op string) (*Session, error) {
	id, err := newID()
	if err != nil {
		return nil, newError(op, err)
	}
	now := nowFunc()
	sess := &Session{ID: id, Data: make(map[string]interface{}), CreatedAt: now, UpdatedAt: now}
	m.sessions.track(sess, &tracked{phase: phaseFresh})
	return sess, nil
}

// Save writes sess and sets its cookie on w, when it needs it: its Data
// changed since Load (detected by content, see the package doc), it was
// rotated or is due for rotation, it is new and holds data, or its idle
// timeout is due to be pushed forward. Otherwise Save writes nothing and
// returns nil. A session the manager did not hand out is always written.
//
// With a VersionedStore the write is conditional: a session changed by
// other requests since Load gets this request's changes re-applied to what
// they stored, and one that ended meanwhile (logout, explicit rotation) is
// not written: Save returns an error matching ErrSessionEnded and sets no
// cookie. After a rotation the old ID keeps a marker for the grace (see
// Config.RotationGrace); with other stores it is deleted once the new one
// is saved.
//
// Save uses a background context; SaveContext takes one. Errors are
// *SessionError wrapping the store's error, ErrSessionEnded, ErrConflict,
// ErrMarshalFailed, ErrEncryptionFailed, ErrCookieTooLarge,
// ErrRandomFailed, or with WithUserKey ErrInvalidUser and ErrUnsupported.
func (m *Manager) Save(w http.ResponseWriter, sess *Session) error {
	return m.SaveContext(context.Background(), w, sess)
}

// SaveContext is Save with a context passed to a ContextStore or TTLStore.
//
// Through the middleware's writer after the response started, a cookie can
// no longer be set: Save then writes the session only if the client's
// cookie already names it, as the middleware does, and a rotation waits for
// a later response (the old ID stays valid).
func (m *Manager) SaveContext(ctx context.Context, w http.ResponseWriter, sess *Session) error {
	if responseStarted(w) {
		return m.save(ctx, nil, sess, false)
	}
	return m.save(ctx, w.Header(), sess, false)
}

// responseStarted reports whether w is, or wraps, the middleware's writer
// of a response that has started.
func responseStarted(w http.ResponseWriter) bool {
	for {
		if sw, ok := w.(*sessionWriter); ok {
			return sw.committed
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// save implements Save. A nil h means the response has started: a session
// is then written only if the client's cookie already names it (store mode,
// same ID, saved before); other changes cannot reach the client and are
// dropped, as in sessionx. hijacked means the connection was taken over:
// the cookie cannot be sent, so nothing rotates.
func (m *Manager) save(ctx context.Context, h http.Header, sess *Session, hijacked bool) error {
	st := m.sessions.lookup(sess)
	if st != nil && st.err != nil {
		return st.err
	}
	if st != nil && st.phase == phaseEnded {
		return newError("Save", ErrSessionEnded)
	}
	if h == nil && (m.cfg.Store == nil || st == nil || st.phase != phaseStored || st.storedID != sess.ID) {
		return nil
	}
	if st != nil && st.rotate && hijacked {
		return newError("Save", errRotateHijacked)
	}
	now := nowFunc()
	rotate := st != nil && (st.rotate || h != nil && !hijacked && st.phase == phaseStored && m.rotationDue(sess, now))
	if vs, ok := m.cfg.Store.(VersionedStore); ok && st != nil && (st.phase != phaseStored || st.version != nil) {
		return m.saveVersioned(ctx, vs, h, sess, st, rotate, now)
	}
	if rotate && !st.rotate {
		id, err := newID()
		if err != nil {
			return newError("Save", err)
		}
		sess.ID, sess.RotatedAt = id, now
	}
	dirty, data, err := m.dirty(sess, st, now)
	if err != nil {
		return newError("Save", fmt.Errorf("%w: %w", ErrMarshalFailed, err))
	}
	if !dirty {
		return nil
	}
	if st == nil {
		st = &tracked{}
		m.sessions.track(sess, st)
	}
	lifetime := m.lifetime(sess, now)
	if m.cfg.Store != nil {
		// A session the manager did not load: indexed at each write,
		// for the TTL write gives it.
		user, err := m.userOf(sess.Data)
		if err != nil {
			return newError("Save", err)
		}
		var ttl time.Duration
		if m.cfg.AbsoluteTimeout > 0 {
			ttl = lifetime
		}
		if err := m.index(ctx, user, sess.ID, ttl, ""); err != nil {
			return err
		}
	}
	previous := sess.UpdatedAt
	sess.UpdatedAt = now
	value, err := m.write(ctx, sess, lifetime)
	if err != nil {
		sess.UpdatedAt = previous
		if rotate && !st.rotate {
			sess.ID = st.storedID // the next save rotates again
		}
		return newError("Save", err)
	}
	if h != nil {
		setCookie(h, m.cookie(value, lifetime))
	}
	old := st.storedID
	st.phase, st.storedID, st.snapshot, st.rotate = phaseStored, sess.ID, data, false
	if m.cfg.Store != nil && old != "" && old != sess.ID {
		if err := storeDelete(ctx, m.cfg.Store, old); err != nil && !errors.Is(err, ErrNotFound) {
			return newError("Rotate", err)
		}
	}
	return nil
}

// errRotateHijacked is returned by a save after Rotate on a connection
// taken over (Hijack): the new cookie could not reach the client.
var errRotateHijacked = errors.New("session: cannot rotate the session of a hijacked connection")

// lifetime returns how long sess may live from now: the smaller of MaxAge
// and what remains of the absolute timeout (at least a second when the
// latter has run out during the request); zero means unlimited.
func (m *Manager) lifetime(sess *Session, now time.Time) time.Duration {
	d := max(m.cfg.MaxAge, 0)
	if m.cfg.AbsoluteTimeout > 0 {
		left := max(sess.CreatedAt.Add(m.cfg.AbsoluteTimeout).Sub(now), time.Second)
		if d == 0 || left < d {
			d = left
		}
	}
	return d
}

// write saves sess to the store, or seals it, and returns the cookie value.
func (m *Manager) write(ctx context.Context, sess *Session, lifetime time.Duration) (string, error) {
	if m.cfg.Store != nil {
		if !validID(sess.ID) {
			return "", fmt.Errorf("%w: malformed ID", ErrInvalidSession)
		}
		var ttl time.Duration
		if m.cfg.AbsoluteTimeout > 0 {
			ttl = lifetime
		}
		if err := storeSave(ctx, m.cfg.Store, sess, ttl); err != nil {
			return "", err
		}
		return sess.ID, nil
	}
	// MarshalJSON's output is what json.Marshal(sess) would return: compact
	// and HTML-escaped already, so its second pass would change nothing.
	// The error is wrapped as json.Marshal would wrap it.
	plain, err := sess.MarshalJSON()
	if err != nil {
		err = &json.MarshalerError{Type: reflect.TypeFor[*Session](), Err: err}
		return "", fmt.Errorf("%w: %w", ErrMarshalFailed, err)
	}
	value, err := m.seal(plain)
	if err != nil {
		return "", err
	}
	if n := len(m.cookie(value, lifetime).String()); n > maxCookieSize {
		return "", fmt.Errorf("%w: %d bytes", ErrCookieTooLarge, n)
	}
	return value, nil
}

// destroyTimeout bounds Destroy's store deletes, which do not end when the
// request's context does: a user who clicks "log out" and closes the tab is
// still logged out.
const destroyTimeout = 10 * time.Second

// Destroy ends the request's session: it deletes it from the store
// (returning the store's error, wrapped) and sets an expiring cookie with
// the same Name, Path, Domain, Secure, HttpOnly and SameSite as the session
// cookie, even when the delete failed. The delete runs with the request's
// context values but not its cancellation, within destroyTimeout (10s), so
// a client that goes away does not keep its session alive. With a
// VersionedStore the session is replaced by a retired marker (see
// RotationGrace), and the ID an automatic rotation moved it to, found
// through the old ID's marker, ends too. Inside the
// middleware the request's session is then reset to a fresh one with a new
// ID and no data, so anything put into it afterwards (a flash) starts a
// new session rather than reviving the old one; requests of the old session
// still under way cannot save it again (with a VersionedStore).
func (m *Manager) Destroy(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), destroyTimeout)
	defer cancel()
	var ids []string
	var derived string // a migrated session's ID, retired even where nothing is stored yet
	sess := m.requestSession(r)
	var st *tracked
	if sess != nil {
		st = m.sessions.lookup(sess)
		switch {
		case st != nil && st.storedID != "":
			ids = append(ids, st.storedID)
		case st != nil && st.migrated:
			// A migrated session's ID is derived from its sealed cookie
			// (kept in retire once Rotate gave it another): a parallel
			// request may have stored it already, or may yet.
			derived = sess.ID
			if st.retire != "" {
				derived = st.retire
			}
			ids = append(ids, derived)
		case st == nil && validID(sess.ID):
			ids = append(ids, sess.ID)
		}
	}
	var buf [maxCookieValues]string
	for _, value := range m.cookieValues(r, buf[:0]) {
		if validID(value) && !slices.Contains(ids, value) {
			ids = append(ids, value)
		}
	}
	var firstErr error
	var ended []string // the IDs Revoke ended
	vs, versioned := m.cfg.Store.(VersionedStore)
	for i := 0; m.cfg.Store != nil && i < len(ids); i++ {
		var err error
		if versioned {
			// A retired marker, not a plain delete: a request of the
			// session under way cannot save it back nor create it again
			// (a migration), and a later request with the cookie gets an
			// empty session for the grace, then is a stale ID.
			// A rotation moved the session on: it ends there too. Where
			// it went is read before (Revoke's answer is lost when its
			// reply is, and a retry answers with the marker it wrote) and
			// from Revoke's answer (a rotation that ran in between); one
			// that retires ids[i] after this finds the marker and drops
			// its new ID itself.
			pre, _ := vs.LoadVersion(ctx, ids[i])
			var got Stored
			got, err = vs.Revoke(ctx, ids[i], Marker{At: nowFunc()}, m.markerTTL(), ids[i] == derived)
			for _, mk := range []*Marker{pre.Marker, got.Marker} {
				if mk != nil && validID(mk.MovedTo) && !slices.Contains(ids, mk.MovedTo) && len(ids) <= 2*maxForwards {
					ids = append(ids, mk.MovedTo)
				}
			}
			if err == nil {
				ended = append(ended, ids[i])
			}
		} else {
			err = storeDelete(ctx, m.cfg.Store, ids[i])
		}
		if err != nil && !errors.Is(err, ErrNotFound) && firstErr == nil {
			firstErr = newError("Destroy", err)
		}
	}
	if sess != nil {
		// The IDs that ended leave the user's index (one whose Revoke
		// failed may still be live).
		user := m.loadedUser(sess.Data)
		if st != nil && st.user != "" {
			user = st.user
		}
		m.unindex(ctx, user, ended...)
	}
	setCookie(w.Header(), m.expiredCookie())
	if sess != nil {
		now := nowFunc()
		fresh := &tracked{phase: phaseFresh}
		id, err := newID()
		if err != nil {
			fresh.err = newError("Destroy", err)
		}
		*sess = Session{ID: id, Data: make(map[string]interface{}), CreatedAt: now, UpdatedAt: now}
		m.sessions.track(sess, fresh)
	}
	return firstErr
}

// Rotate gives sess a new random ID and sets RotatedAt to now. Call it when
// privileges change (login). The next save writes the session under the new
// ID and sets the cookie; the old ID is then retired (a marker for the
// grace, with a VersionedStore) or deleted, so the old cookie never leads
// to the new session. If the random source fails, sess's ID is cleared and
// its next save returns an error matching ErrRandomFailed.
func (m *Manager) Rotate(sess *Session) {
	st := m.sessions.lookup(sess)
	if st == nil {
		st = &tracked{}
		if validID(sess.ID) {
			st.phase, st.storedID = phaseStored, sess.ID
		}
		m.sessions.track(sess, st)
	}
	id, err := newID()
	if err != nil {
		sess.ID = ""
		st.err = newError("Rotate", err)
		return
	}
	if st.migrated && st.phase == phaseFresh && st.retire == "" {
		st.retire = sess.ID
	}
	sess.ID, sess.RotatedAt = id, nowFunc()
	if st.phase == phaseEnded {
		// A login on a session that ended (a retired ID within the
		// grace, say) starts a new one.
		st.phase = phaseFresh
	}
	st.rotate = st.phase == phaseStored
}

// HandleError answers r with the configured error handler (WithErrorHandler),
// or with a plain-text 503 Service Unavailable and a log line by default
// (the error, the method and the quoted URL path).
// Adapters for other routers call it where the middleware would.
func (m *Manager) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	log.Printf("%v (%s %q)", err, r.Method, r.URL.Path) // quoted: a %0a in the path must not start a forged log line
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}
