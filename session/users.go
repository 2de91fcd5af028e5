package session

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// ErrUnsupported is what UserSessions, RevokeUser and RevokeSession return
// (wrapped) from a manager that keeps no user index: without WithUserKey,
// with a store that is not a UserStore, or with no store (sealed cookies).
// A UserStore's IndexSession returns it too when its server cannot keep an
// index (Redis refusing scripts), and so does Save of a session whose
// entry it must write. It matches errors.ErrUnsupported as well.
var ErrUnsupported error = unsupportedError{}

// unsupportedError is ErrUnsupported's type: a value set without init
// code, which programs that never use the index would run.
type unsupportedError struct{}

func (unsupportedError) Error() string        { return "session: user index: unsupported operation" }
func (unsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// ErrInvalidUser reports a user that cannot name an index: empty, longer
// than MaxUserLength bytes, not UTF-8, holding ASCII control characters,
// or a Data
// value under the user key that is neither a string, a Go number nor a
// json.Number (or an integer beyond 2^53, which JSON would bring back
// rounded). It is returned before any I/O.
var ErrInvalidUser = errors.New("session: invalid user")

// MaxUserLength is the longest user a user index accepts, in bytes.
const MaxUserLength = 256

// maxUserSessions bounds a user's index: when a save adds a session beyond
// it, the sessions that expire first (the least recently active) are
// revoked. It bounds what UserSessions reads too.
const maxUserSessions = 1000

// UserStore is a VersionedStore that keeps an index of each user's
// sessions, for the manager's UserSessions, RevokeUser and RevokeSession
// (see "Log out everywhere" in the package doc). redisstore's RedisStore
// implements it, on a single server, Sentinel and Cluster alike.
//
// The manager writes an entry before the session's value, so no session
// escapes the index; entries may outlive their session or name one that
// passed to another user, and the manager checks each session it reads
// through the index.
type UserStore interface {
	VersionedStore
	// IndexSession records id in user's index until ttl (zero: the store's
	// own) from now at least, and keeps the index within max entries: it
	// removes those that expire first beyond max (other than id and
	// spare, a rotation's old ID) and returns their IDs, whose sessions
	// the manager revokes.
	IndexSession(ctx context.Context, user, id, spare string, ttl time.Duration, max int) (trimmed []string, err error)
	// UnindexSessions removes ids from user's index.
	UnindexSessions(ctx context.Context, user string, ids []string) error
	// IndexedSessions returns at most max IDs from user's index, those
	// that expire last first.
	IndexedSessions(ctx context.Context, user string, max int) ([]string, error)
}

// CheckUser returns an error matching ErrInvalidUser when user cannot name
// a user index: empty, longer than MaxUserLength bytes, not UTF-8 (JSON
// would store another string), or holding a control character.
func CheckUser(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: empty", ErrInvalidUser)
	case len(user) > MaxUserLength:
		return fmt.Errorf("%w: %d bytes, over %d", ErrInvalidUser, len(user), MaxUserLength)
	case !utf8.ValidString(user):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidUser)
	}
	for i := 0; i < len(user); i++ {
		if b := user[i]; b < ' ' || b == 0x7f {
			return fmt.Errorf("%w: control byte %#x at %d", ErrInvalidUser, b, i)
		}
	}
	return nil
}

// userStore returns the manager's UserStore, or an error matching
// ErrUnsupported for op, after checking user.
func (m *Manager) userStore(op, user string) (UserStore, error) {
	us, ok := m.cfg.Store.(UserStore)
	switch {
	case m.cfg.Store == nil:
		return nil, newError(op, fmt.Errorf("%w: sessions are sealed in cookies, with no store", ErrUnsupported))
	case !ok:
		return nil, newError(op, fmt.Errorf("%w: the store %T keeps no user index", ErrUnsupported, m.cfg.Store))
	case m.cfg.users == nil:
		return nil, newError(op, fmt.Errorf("%w: no user key (WithUserKey)", ErrUnsupported))
	}
	if err := CheckUser(user); err != nil {
		return nil, newError(op, err)
	}
	return us, nil
}

// SessionInfo describes one of a user's sessions, for a list of the
// user's devices.
type SessionInfo struct {
	// Handle names the session for RevokeSession. It stays the same when
	// the session's ID rotates, and is neither the session's ID nor
	// enough to compute it (an HMAC under the manager's key).
	Handle string
	// CreatedAt is when the session began (its first request, before
	// any login).
	CreatedAt time.Time
	// UpdatedAt is when the session was last saved with a change.
	UpdatedAt time.Time

	m  *Manager
	id [sha256.Size]byte // a digest of the session's ID, for Current
}

// Current reports whether the session is the one of r: the session the
// manager's middleware loaded for r, or the one r's cookie names.
func (i SessionInfo) Current(r *http.Request) bool {
	if i.m == nil {
		return false
	}
	if sess := i.m.requestSession(r); sess != nil {
		if sha256.Sum256([]byte(sess.ID)) == i.id {
			return true
		}
		if st := i.m.sessions.lookup(sess); st != nil && st.storedID != "" && sha256.Sum256([]byte(st.storedID)) == i.id {
			return true
		}
	}
	var buf [maxCookieValues]string
	for _, v := range i.m.cookieValues(r, buf[:0]) {
		if sha256.Sum256([]byte(v)) == i.id {
			return true
		}
	}
	return false
}

// handle is the Handle of user's session created at created.
func (m *Manager) handle(user string, created time.Time) string {
	mac := hmac.New(sha256.New, m.cfg.SecretKey)
	mac.Write([]byte("sessionx session handle\x00"))
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write(created.UTC().AppendFormat(nil, time.RFC3339Nano))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// UserSessions returns the live sessions of user, newest first: those the
// index names that still hold the user under the user key. It reads the
// index and each session (at most 1,000), and writes nothing. With no
// user index it returns an error matching ErrUnsupported; for a user
// CheckUser rejects, one matching ErrInvalidUser.
func (m *Manager) UserSessions(ctx context.Context, user string) ([]SessionInfo, error) {
	us, err := m.userStore("UserSessions", user)
	if err != nil {
		return nil, err
	}
	found, err := m.userSessions(ctx, us, user)
	if err != nil {
		return nil, newError("UserSessions", err)
	}
	infos := make([]SessionInfo, len(found))
	for i, f := range found {
		infos[i] = f.info
	}
	return infos, nil
}

// userSession is a session found through a user's index.
type userSession struct {
	id   string
	info SessionInfo
}

// userSessions reads user's index and the sessions it names, and returns
// those of user, newest first.
func (m *Manager) userSessions(ctx context.Context, us UserStore, user string) ([]userSession, error) {
	ids, err := us.IndexedSessions(ctx, user, maxUserSessions)
	if err != nil {
		return nil, err
	}
	now := nowFunc()
	found := make([]*userSession, len(ids))
	err = eachID(ids, func(i int, id string) error {
		if !validID(id) {
			return nil // not the manager's
		}
		got, err := us.LoadVersion(ctx, id)
		if err != nil {
			if errors.Is(err, ErrInvalidSession) {
				return nil
			}
			return err
		}
		if sess := m.userSession(got, id, user, now); sess != nil {
			found[i] = &userSession{id: id, info: SessionInfo{
				Handle: m.handle(user, sess.CreatedAt), CreatedAt: sess.CreatedAt, UpdatedAt: sess.UpdatedAt,
				m: m, id: sha256.Sum256([]byte(id)),
			}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var list []userSession
	for _, f := range found {
		if f != nil {
			list = append(list, *f)
		}
	}
	slices.SortFunc(list, func(a, b userSession) int {
		return cmp.Or(b.info.CreatedAt.Compare(a.info.CreatedAt), cmp.Compare(a.info.Handle, b.info.Handle))
	})
	return list, nil
}

// userSession decodes got, read under id, when it is a live session of
// user; nil otherwise.
func (m *Manager) userSession(got Stored, id, user string, now time.Time) *Session {
	if got.Value == nil {
		return nil
	}
	sess := new(Session)
	if err := sess.UnmarshalJSON(got.Value); err != nil || sess.ID != id || m.pastLimits(sess, now) {
		return nil
	}
	if u, err := m.userOf(sess.Data); err != nil || u != user {
		return nil
	}
	return sess
}

// RevokeUser ends every session of user but keep (nil: all of them) and
// returns how many it ended: after a password change, keep the session of
// the request that changed it; after a ban, keep none. Each session ends
// as with Destroy: its requests under way cannot save it back, and its
// next request finds itself logged out.
//
// The sessions are those of user's index: every session of the index
// saved with the user under the user key before the call began is ended
// (or had already ended); a session saved with it while the call runs
// either is ended or was added after the call read the index. Sessions
// saved before WithUserKey was turned on join the index later (see "Log
// out everywhere" in the package doc). It reads and ends at most 2,000
// sessions; the index keeps 1,000.
func (m *Manager) RevokeUser(ctx context.Context, user string, keep *Session) (int, error) {
	us, err := m.userStore("RevokeUser", user)
	if err != nil {
		return 0, err
	}
	ids, err := us.IndexedSessions(ctx, user, 2*maxUserSessions)
	if err != nil {
		return 0, newError("RevokeUser", err)
	}
	n, ended, err := m.revokeIDs(ctx, us, user, ids, keep, true)
	m.unindex(ctx, user, ended...)
	return n, newError("RevokeUser", err)
}

// RevokeSession ends the session of user whose SessionInfo has handle
// ("log out that device"), as with Destroy. It returns an error matching
// ErrNotFound when no live session of user has it.
func (m *Manager) RevokeSession(ctx context.Context, user, handle string) error {
	us, err := m.userStore("RevokeSession", user)
	if err != nil {
		return err
	}
	found, err := m.userSessions(ctx, us, user)
	if err != nil {
		return newError("RevokeSession", err)
	}
	var ids []string
	for _, f := range found {
		if hmac.Equal([]byte(f.info.Handle), []byte(handle)) {
			ids = append(ids, f.id)
		}
	}
	if len(ids) == 0 {
		return newError("RevokeSession", fmt.Errorf("%w: no session of the user has this handle", ErrNotFound))
	}
	_, ended, err := m.revokeIDs(ctx, us, user, ids, nil, true)
	m.unindex(ctx, user, ended...)
	return newError("RevokeSession", err)
}

// revokeIDs ends the sessions of user under ids but keep (see revoke),
// following automatic rotations' markers when follow is set, and returns
// how many sessions it ended and the IDs that ended, now or before, which
// can leave the index.
func (m *Manager) revokeIDs(ctx context.Context, us UserStore, user string, ids []string, keep *Session, follow bool) (int, []string, error) {
	rv := &revocation{m: m, us: us, user: user, follow: follow, revoked: make(map[int64]bool)}
	if keep != nil {
		rv.keep = append(rv.keep, keep.ID)
		if st := m.sessions.lookup(keep); st != nil && st.storedID != "" {
			rv.keep = append(rv.keep, st.storedID)
		}
		rv.kept = &keep.CreatedAt
	}
	err := eachID(ids, func(_ int, id string) error { return rv.revoke(ctx, id, 0) })
	return len(rv.revoked), rv.ended, err
}

// revocation is one RevokeUser, RevokeSession or trim of an index.
type revocation struct {
	m      *Manager
	us     UserStore
	user   string
	keep   []string   // IDs never revoked
	kept   *time.Time // CreatedAt of the session kept, under whatever ID a rotation gives it
	follow bool       // follow automatic rotations' markers to the new ID

	mu      sync.Mutex     // protects the following
	ended   []string       // IDs that ended, now or before
	revoked map[int64]bool // sessions this call ended, by CreatedAt: a rotation under way holds one under two IDs
}

// revoke ends the session of the user under id unless it is the kept one:
// if id still holds that session (one that passed to another user is
// left alone), or nothing (a session about to be created: its index
// entry comes first), it is replaced with a retired marker, as Destroy
// does. An automatic rotation's marker leads to the session's new ID,
// which ends too when rv.follow is set.
func (rv *revocation) revoke(ctx context.Context, id string, hops int) error {
	if slices.Contains(rv.keep, id) || !validID(id) {
		return nil
	}
	got, err := rv.us.LoadVersion(ctx, id)
	if errors.Is(err, ErrInvalidSession) {
		return nil // not a session: nothing to end
	}
	for range maxSaveAttempts {
		if err != nil {
			return err
		}
		now := nowFunc()
		var sess *Session
		switch mk := got.Marker; {
		case mk != nil:
			rv.done(id, nil)
			if mk.MovedTo != "" && rv.follow && hops < maxForwards {
				return rv.revoke(ctx, mk.MovedTo, hops+1)
			}
			return nil
		case got.Value != nil:
			if sess = rv.m.userSession(got, id, rv.user, now); sess == nil {
				return nil // another user's now, or not a live session
			}
			if rv.kept != nil && sess.CreatedAt.Equal(*rv.kept) {
				return nil // the kept session, rotated by a parallel request
			}
		}
		var ok bool
		got, ok, err = rv.us.Retire(ctx, id, got.Version, Marker{At: now}, rv.m.markerTTL())
		switch {
		case errors.Is(err, ErrInvalidSession):
			return nil // replaced by something else: nothing to end
		case err == nil && ok:
			rv.done(id, sess)
			return nil
		}
	}
	return ErrConflict
}

// done records that id ended, and sess (if not nil) with it.
func (rv *revocation) done(id string, sess *Session) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.ended = append(rv.ended, id)
	if sess != nil {
		rv.revoked[sess.CreatedAt.UnixNano()] = true
	}
}

// eachID calls fn for each of ids, a few at a time (the store's client
// pipelines their commands), and returns the first error.
func eachID(ids []string, fn func(i int, id string) error) error {
	const workers = 8
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(workers, len(ids)) {
		wg.Go(func() {
			for first.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if err := fn(i, ids[i]); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return nil
}
