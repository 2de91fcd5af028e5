package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// MaxIDLength is the longest session ID Load, Save and Delete accept.
const MaxIDLength = 256

// Store persists sessions of type S as JSON under Prefix+ID with a TTL.
// It is safe for concurrent use. Its method set meets sessionx's Store
// interface when S is sessionx's Session, without importing sessionx.
type Store[S any] struct {
	cfg    *config
	id     func(*S) string // the session's ID
	ttl    atomic.Int64    // time.Duration of later Saves; SetTTL changes it
	node   *node
	log    *slog.Logger
	closed atomic.Bool
	stats  counters
}

// RedisStore is the store of this module's session.Session, for
// session.Manager.
type RedisStore = Store[session.Session]

// Compile-time checks that RedisStore fits the session manager.
var (
	_ session.Store        = (*RedisStore)(nil)
	_ session.ContextStore = (*RedisStore)(nil)
	_ session.TTLStore     = (*RedisStore)(nil)
)

// NewRedisStore returns a store of session.Session, as sessionx's
// NewRedisStore does: it pings Redis and fails when Redis is unreachable.
func NewRedisStore(opts Options) (*RedisStore, error) {
	return New(opts, func(s *session.Session) string { return s.ID })
}

// New returns a store of sessions of type S, whose ID id returns. It
// validates opts, connects and pings Redis, and fails fast with a clear error
// when any of that goes wrong.
func New[S any](opts Options, id func(*S) string) (*Store[S], error) {
	if id == nil {
		return nil, errors.New("redisstore: nil ID function")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store[S]{cfg: cfg, id: id, log: log}
	s.ttl.Store(int64(cfg.TTL))
	s.node, err = newNode(cfg, cfg.network, cfg.Addr, log, &s.stats)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout+cfg.ReadTimeout)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		s.node.close()
		return nil, err
	}
	return s, nil
}

// Load returns the session stored under id, ErrSessionNotFound when there is
// none, or ErrInvalidSession when the stored value is not JSON of S.
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

// bufPool holds reply buffers for Load, so decoding happens after the
// connection went back to its pool.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// LoadContext is Load within ctx.
func (s *Store[S]) LoadContext(ctx context.Context, id string) (*S, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	cmd := command{kind: cmdGet, prefix: s.cfg.Prefix, id: id, buf: *bp}
	err := s.do(ctx, &cmd)
	if cap(cmd.buf) <= 1<<20 {
		*bp = cmd.buf[:0] // keep a grown buffer, unless it grew huge
	}
	if err != nil {
		return nil, err
	}
	if cmd.null {
		return nil, ErrSessionNotFound
	}
	sess := new(S)
	if err := json.Unmarshal(cmd.buf, sess); err != nil {
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
	value, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("redisstore: encoding session %q: %w", id, err)
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	cmd := command{kind: cmdSet, prefix: s.cfg.Prefix, id: id, value: value, ttl: ttl}
	return s.do(ctx, &cmd)
}

// DeleteContext is Delete within ctx.
func (s *Store[S]) DeleteContext(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	cmd := command{kind: cmdDel, prefix: s.cfg.Prefix, id: id}
	return s.do(ctx, &cmd)
}

// Ping checks that Redis answers.
func (s *Store[S]) Ping(ctx context.Context) error {
	cmd := command{kind: cmdPing}
	return s.do(ctx, &cmd)
}

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
// in flight finish. Close is idempotent.
func (s *Store[S]) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.node.close()
}

// do runs cmd on the server that holds its key.
func (s *Store[S]) do(ctx context.Context, cmd *command) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.stats.commands.Add(1)
	n := s.node
	if err := n.do(ctx, cmd); err != nil {
		return s.fail(cmd, n, err)
	}
	return nil
}

// fail counts err and wraps it with the command and the server's address.
func (s *Store[S]) fail(cmd *command, n *node, err error) error {
	s.stats.countError(err)
	if err == ErrClosed {
		return err
	}
	return fmt.Errorf("redisstore: %s on %s: %w", cmd.kind, n.addr, err)
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

// errKind names the class of an error for Stats.Errors.
func errKind(err error) string {
	var se resp.Error
	var pe *resp.ProtocolError
	switch {
	case errors.As(err, &se):
		return se.Kind
	case errors.Is(err, pool.ErrTimeout):
		return "pool timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout"
	case errors.As(err, &pe):
		return "protocol"
	case errors.Is(err, ErrClosed):
		return "closed"
	default:
		return "network"
	}
}
