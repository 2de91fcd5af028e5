package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"reflect"
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
// An expired session is deleted from the store. A session due for rotation
// (RotationInterval) gets a new ID now; the old one is deleted when the
// session is saved.
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
	ctx := r.Context()
	now := nowFunc()
	sess, err := m.loadCookie(ctx, r)
	if err != nil {
		return nil, newError("Load", err)
	}
	if sess == nil {
		return m.fresh("Load")
	}
	if m.expired(sess, now) {
		if m.cfg.Store != nil {
			if err := storeDelete(ctx, m.cfg.Store, sess.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, newError("Load", err)
			}
		}
		return m.fresh("Load")
	}
	snapshot, err := marshalData(sess.Data)
	if err != nil {
		snapshot = nil // cannot happen for decoded JSON; nil makes it dirty
	}
	st := &tracked{storedID: sess.ID, snapshot: snapshot}
	if m.rotationDue(sess, now) {
		id, err := newID()
		if err != nil {
			return nil, newError("Load", err)
		}
		sess.ID, sess.RotatedAt = id, now
	}
	m.sessions.track(sess, st)
	return sess, nil
}

// loadCookieValue returns the session one cookie value names, or nil when
// there is none to use; an error only for a store failure.
func (m *Manager) loadCookieValue(ctx context.Context, value string) (*Session, error) {
	if m.cfg.Store == nil {
		plain, err := m.open(value)
		if err != nil {
			return nil, nil
		}
		var sess Session
		if err := sess.UnmarshalJSON(plain); err != nil || !validID(sess.ID) {
			return nil, nil
		}
		if sess.Data == nil {
			sess.Data = make(map[string]interface{})
		}
		return &sess, nil
	}
	if !validID(value) {
		return nil, nil
	}
	sess, err := storeLoad(ctx, m.cfg.Store, value)
	switch {
	case err == nil && sess != nil:
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidSession):
		return nil, nil
	default:
		return nil, err
	}
	if sess.ID == "" {
		sess.ID = value
	}
	if sess.ID != value {
		return nil, nil // the store answered for another ID: do not use it
	}
	if sess.Data == nil {
		sess.Data = make(map[string]interface{})
	}
	return sess, nil
}

// maxClockSkew is how far in the future a session's CreatedAt or UpdatedAt
// may be (clocks of several servers disagree a little) before expired
// refuses it.
const maxClockSkew = time.Minute

// expired reports whether sess is past its idle or absolute timeout. A
// session whose CreatedAt or UpdatedAt is more than maxClockSkew after now
// (a clock that went back, a tampered value) is expired too: a date in the
// future would stretch both timeouts by as much.
func (m *Manager) expired(sess *Session, now time.Time) bool {
	if sess.CreatedAt.Sub(now) > maxClockSkew || sess.UpdatedAt.Sub(now) > maxClockSkew {
		return true
	}
	if m.cfg.MaxAge > 0 && now.Sub(sess.UpdatedAt) > m.cfg.MaxAge {
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
		m.sessions.track(sess, &tracked{fresh: true, err: err})
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
	m.sessions.track(sess, &tracked{fresh: true})
	return sess, nil
}

// Save writes sess and sets its cookie on w, when it needs it: its Data
// changed since Load (detected by content, see the package doc), it was
// rotated, it is new and holds data, or its idle timeout is due to be pushed
// forward. Otherwise Save writes nothing and returns nil. A session the
// manager did not hand out is always written.
//
// After a rotation Save deletes the old ID from the store once the new one
// is saved. Save uses a background context; SaveContext takes one. Errors
// are *SessionError wrapping the store's error, ErrMarshalFailed,
// ErrEncryptionFailed, ErrCookieTooLarge or ErrRandomFailed.
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
		return m.save(ctx, nil, sess)
	}
	return m.save(ctx, w.Header(), sess)
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
// dropped, as in sessionx.
func (m *Manager) save(ctx context.Context, h http.Header, sess *Session) error {
	st := m.sessions.lookup(sess)
	if st != nil && st.err != nil {
		return st.err
	}
	if h == nil && (m.cfg.Store == nil || st == nil || st.fresh || st.storedID != sess.ID) {
		return nil
	}
	now := nowFunc()
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
	previous := sess.UpdatedAt
	sess.UpdatedAt = now
	value, err := m.write(ctx, sess, lifetime)
	if err != nil {
		sess.UpdatedAt = previous
		return newError("Save", err)
	}
	if h != nil {
		setCookie(h, m.cookie(value, lifetime))
	}
	old := st.storedID
	st.storedID, st.snapshot, st.fresh = sess.ID, data, false
	if m.cfg.Store != nil && old != "" && old != sess.ID {
		if err := storeDelete(ctx, m.cfg.Store, old); err != nil && !errors.Is(err, ErrNotFound) {
			return newError("Rotate", err)
		}
	}
	return nil
}

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

// Destroy ends the request's session: it deletes it from the store
// (returning the store's error, wrapped) and sets an expiring cookie with
// the same Name, Path, Domain, Secure, HttpOnly and SameSite as the session
// cookie, even when the delete failed. The cookie is cleared in any case.
// Inside the middleware the request's session is then reset to a fresh one
// with a new ID and no data, so anything put into it afterwards (a flash)
// starts a new session rather than reviving the old one.
func (m *Manager) Destroy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var ids []string
	sess := m.requestSession(r)
	var st *tracked
	if sess != nil {
		st = m.sessions.lookup(sess)
		switch {
		case st != nil && st.storedID != "":
			ids = append(ids, st.storedID)
		case st == nil && validID(sess.ID):
			ids = append(ids, sess.ID)
		}
	}
	if c, err := r.Cookie(m.cfg.CookieName); err == nil && validID(c.Value) && (len(ids) == 0 || ids[0] != c.Value) {
		ids = append(ids, c.Value)
	}
	var firstErr error
	if m.cfg.Store != nil {
		for _, id := range ids {
			if err := storeDelete(ctx, m.cfg.Store, id); err != nil && !errors.Is(err, ErrNotFound) && firstErr == nil {
				firstErr = newError("Destroy", err)
			}
		}
	}
	setCookie(w.Header(), m.expiredCookie())
	if sess != nil {
		now := nowFunc()
		fresh := &tracked{fresh: true}
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
// ID, sets the cookie and then deletes the old ID from the store, so the old
// cookie loads nothing. If the random source fails, sess's ID is cleared and
// its next save returns an error matching ErrRandomFailed.
func (m *Manager) Rotate(sess *Session) {
	st := m.sessions.lookup(sess)
	if st == nil {
		st = &tracked{}
		if validID(sess.ID) {
			st.storedID = sess.ID
		}
		m.sessions.track(sess, st)
	}
	id, err := newID()
	if err != nil {
		sess.ID = ""
		st.err = newError("Rotate", err)
		return
	}
	sess.ID, sess.RotatedAt = id, nowFunc()
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
