package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/session"
)

// MaxIDLength is the longest session ID Load, Save and Delete accept.
const MaxIDLength = 256

// Store persists sessions of type S as JSON under Prefix+ID with a TTL
// (sealed, and under hashed keys, when Options asks).
// It is safe for concurrent use. A Store[json.RawMessage] stores values
// that are already JSON as they are (after checking them with json.Valid)
// and loads them without decoding. Its method set meets sessionx's Store
// interface when S is sessionx's Session, without importing sessionx.
type Store[S any] struct {
	cfg   *config
	id    func(*S) string // the session's ID
	codec codec[S]        // the session's JSON
	ttl   atomic.Int64    // time.Duration of later Saves; SetTTL changes it
	c     *client.Client
	seal  *sealer     // nil: values in plain JSON
	cache *localCache // nil: no client-side cache

	// What the server allows of casScript (see cas).
	evalOnly    atomic.Bool  // EVALSHA refused, EVAL allowed
	plainUntil  atomic.Int64 // scripts refused: plain writes until this UnixNano
	warnedPlain atomic.Bool  // the refusal was logged
}

// RedisStore is the store of this module's session.Session, for
// session.Manager.
type RedisStore = Store[session.Session]

// Compile-time checks that RedisStore fits the session manager.
var (
	_ session.Store          = (*RedisStore)(nil)
	_ session.ContextStore   = (*RedisStore)(nil)
	_ session.TTLStore       = (*RedisStore)(nil)
	_ session.VersionedStore = (*RedisStore)(nil)
)

// NewRedisStore returns a store of session.Session, as sessionx's
// NewRedisStore does: it pings Redis and fails when Redis is unreachable.
func NewRedisStore(opts Options) (*RedisStore, error) {
	return newStore(opts, func(s *session.Session) string { return s.ID }, sessionCodec)
}

// New returns a store of sessions of type S, whose ID id returns. It
// validates opts, connects and pings Redis, and fails fast with a clear error
// when any of that goes wrong.
func New[S any](opts Options, id func(*S) string) (*Store[S], error) {
	return newStore(opts, id, jsonCodec[S]())
}

func newStore[S any](opts Options, id func(*S) string, codec codec[S]) (*Store[S], error) {
	if id == nil {
		return nil, errors.New("redisstore: nil ID function")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	seal, err := newSealer(opts.EncryptionKeys, cfg.ReadPlaintext, cfg.HashKeys, cfg.client.Logger)
	if err != nil {
		return nil, err
	}
	lc, err := newLocalCache(cfg.CacheSize, cfg.CacheTTL)
	if err != nil {
		return nil, err
	}
	ccfg := *cfg.client
	if lc != nil {
		ccfg.Tracker = lc
	}
	c, err := client.New(ccfg)
	if err != nil {
		return nil, err
	}
	s := &Store[S]{cfg: cfg, id: id, codec: codec, c: c, seal: seal, cache: lc}
	s.ttl.Store(int64(cfg.TTL))
	if err := seal.checkKeyFormat(c, cfg.Prefix); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// Load returns the session stored under id, ErrSessionNotFound when there is
// none, or ErrInvalidSession when the stored value is not JSON of S, does
// not open (with EncryptionKeys), or the key holds another Redis type (a
// WRONGTYPE reply, which it wraps).
func (s *Store[S]) Load(id string) (*S, error) {
	return s.LoadContext(context.Background(), id)
}

// Save stores sess under its ID for the store's TTL.
func (s *Store[S]) Save(sess *S) error {
	return s.SaveContext(context.Background(), sess)
}

// Delete removes the session stored under id; deleting a missing session is
// not an error.
func (s *Store[S]) Delete(id string) error {
	return s.DeleteContext(context.Background(), id)
}

// bufPool holds Load's reply buffers: the value is copied out of the
// pipelined call, which is recycled at once, and decoded from here.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// LoadContext is Load within ctx.
func (s *Store[S]) LoadContext(ctx context.Context, id string) (*S, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	key := s.key(id)
	if v, _, ok := s.cached(key); ok {
		if err := ctx.Err(); err != nil {
			return nil, err // as without a cache
		}
		return s.decode(key, id, v, false) // the cache's bytes: opened into a copy
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var b client.Batch
	b.Idempotent = true
	s.addRead(&b, key, false)
	b.Replies[0].Bulk = *bp
	err := s.c.Do(ctx, &b)
	if err != nil && s.pttlRefused(&b) {
		err = nil
	}
	r := &b.Replies[0]
	if cap(r.Bulk) <= 1<<20 {
		*bp = r.Bulk[:0] // keep a grown buffer, unless it grew huge
	}
	if err != nil {
		return nil, loadError(id, err)
	}
	if r.Null {
		return nil, ErrSessionNotFound
	}
	return s.decode(key, id, r.Bulk, true)
}

// decode opens v, the value under key, the key of id (in place when
// inPlace, else into a copy), and decodes it.
func (s *Store[S]) decode(key redisKey, id string, v []byte, inPlace bool) (*S, error) {
	v, err := s.seal.openValue(key, id, v, inPlace)
	if err != nil {
		return nil, err
	}
	if isMarker(v) {
		return nil, ErrSessionNotFound // the session rotated away
	}
	sess := new(S)
	if err := s.codec.decode(v, sess); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidSession, id, err)
	}
	return sess, nil
}

// SaveContext is Save within ctx.
func (s *Store[S]) SaveContext(ctx context.Context, sess *S) error {
	return s.SaveTTL(ctx, sess, time.Duration(s.ttl.Load()))
}

// SaveTTL stores sess for ttl instead of the store's TTL (the session
// manager uses it for absolute timeouts). A ttl under a millisecond is
// raised to one millisecond.
func (s *Store[S]) SaveTTL(ctx context.Context, sess *S, ttl time.Duration) error {
	if sess == nil {
		return errors.New("redisstore: Save of a nil session")
	}
	id := s.id(sess)
	if err := checkID(id); err != nil {
		return err
	}
	value, err := s.codec.encode(sess)
	if err != nil {
		return fmt.Errorf("redisstore: encoding session %q: %w", id, err)
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	key := s.key(id)
	if value, err = s.seal.sealValue(key, value); err != nil {
		return err
	}
	var b client.Batch
	b.Idempotent = true
	b.Hook = s.dropHook(key)
	if ttl%time.Second == 0 {
		b.Add(client.ReplyOK, "SET", key.arg(), client.Bytes(value), client.Str("EX"), client.Int(int64(ttl/time.Second)))
	} else {
		b.Add(client.ReplyOK, "SET", key.arg(), client.Bytes(value), client.Str("PX"), client.Int(int64(ttl/time.Millisecond)))
	}
	return s.write(ctx, &b, key)
}

// DeleteContext is Delete within ctx.
func (s *Store[S]) DeleteContext(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	key := s.key(id)
	var b client.Batch
	b.Idempotent = true
	b.Hook = s.dropHook(key)
	b.Add(client.ReplyInt, "DEL", key.arg())
	return s.write(ctx, &b, key)
}

// Ping checks that Redis answers.
func (s *Store[S]) Ping(ctx context.Context) error { return s.c.Ping(ctx) }

// SetTTL sets the TTL of later Saves. A d under a millisecond restores the
// configured TTL (Options.TTL, 24h by default) rather than storing sessions
// forever.
func (s *Store[S]) SetTTL(d time.Duration) {
	if d < time.Millisecond {
		d = s.cfg.TTL
	}
	s.ttl.Store(int64(d))
}

// Close closes every connection. Calls after Close return ErrClosed; calls
// in flight finish, within ReadTimeout; a dial under way is abandoned.
// Close is idempotent and leaves no goroutine behind.
func (s *Store[S]) Close() error { return s.c.Close() }

// Stats returns a snapshot of the store's counters.
func (s *Store[S]) Stats() Stats {
	st := s.c.Stats()
	st.UnopenedValues = s.seal.unopenedValues()
	if s.cache != nil {
		st.Cache = s.cache.Stats()
	}
	return st
}

// key returns the Redis key of the session id: Prefix+id, or with
// HashKeys Prefix+base64url(SHA-256(id)).
func (s *Store[S]) key(id string) redisKey { return redisKey{s.cfg.Prefix, s.seal.keyName(id)} }

// loadError is err from a read of id: a key of another type than a string
// (WRONGTYPE) is an invalid value, which the session manager replaces with
// a fresh session, not a failure of the store; the server's error stays
// in the chain.
func loadError(id string, err error) error {
	if wrongType(err) {
		return fmt.Errorf("%w %q: %w", ErrInvalidSession, id, err)
	}
	return err
}

// invalidValue is an error matching ErrInvalidSession for the value under id.
func invalidValue(id, why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidSession, id, why)
}

// checkID rejects IDs that are empty, too long, or hold spaces or control
// characters, before any network I/O.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes, over %d", ErrInvalidID, len(id), MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b <= ' ' || b == 0x7f {
			return fmt.Errorf("%w: byte %#x at %d", ErrInvalidID, b, i)
		}
	}
	return nil
}

// redisKey is a Redis key: prefix + name.
type redisKey struct{ prefix, name string }

// arg is the key as a command's argument.
func (k redisKey) arg() client.Arg { return client.Key(k.prefix, k.name) }

// appendTo appends the key to b.
func (k redisKey) appendTo(b []byte) []byte { return append(append(b, k.prefix...), k.name...) }
