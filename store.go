package redisstore

import (
	"context"
	"errors"
	"fmt"
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
// It is safe for concurrent use. A Store[json.RawMessage] stores values
// that are already JSON as they are (after checking them with json.Valid)
// and loads them without decoding. Its method set meets sessionx's Store
// interface when S is sessionx's Session, without importing sessionx.
type Store[S any] struct {
	cfg    *config
	id     func(*S) string // the session's ID
	ttl    atomic.Int64    // time.Duration of later Saves; SetTTL changes it
	topo   topology        // which server runs each command
	log    Logger
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
		log = discard{}
	}
	s := &Store[S]{cfg: cfg, id: id, log: log}
	s.ttl.Store(int64(cfg.TTL))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout+cfg.ReadTimeout)
	defer cancel()
	switch {
	case len(cfg.SentinelAddrs) > 0:
		s.topo, err = newSentinel(ctx, cfg, log, &s.stats)
	case len(cfg.ClusterAddrs) > 0:
		s.topo, err = newCluster(ctx, cfg, log, &s.stats)
	default:
		var n *node
		n, err = newNode(cfg, cfg.network, cfg.Addr, log, &s.stats)
		s.topo = single{n}
	}
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.topo.close()
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

// bufPool holds Load's reply buffers: the value is copied out of the
// pipelined call, which is recycled at once, and decoded from here.
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
	if err := decode(cmd.buf, sess); err != nil {
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
	value, err := encode(sess)
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
	return s.topo.close()
}

// do runs cmd on the server that holds its key. The first attempt allocates
// nothing; failures go to retry.
func (s *Store[S]) do(ctx context.Context, cmd *command) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.stats.commands.Add(1)
	n, err := s.topo.nodeFor(cmd.prefix, cmd.id)
	if err == nil {
		if err = n.do(ctx, cmd); err == nil {
			return nil
		}
	}
	return s.retry(ctx, cmd, n, err)
}

// Redirection and retry limits of Store.do.
const (
	maxRedirects = 3                      // MOVED or ASK replies followed per command
	minBackoff   = 10 * time.Millisecond  // first wait before a retry
	maxBackoff   = 200 * time.Millisecond // longest wait between retries
)

// retry handles the failure err of cmd on n (nil when no node was found):
// it follows MOVED and ASK redirections (at most maxRedirects), retries
// transient server errors (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN,
// too many clients) and topology changes (a dead or demoted master) with
// exponential backoff until ctx's deadline, or ReadTimeout after the first
// failure when ctx has none. Other errors return at once.
func (s *Store[S]) retry(ctx context.Context, cmd *command, n *node, err error) error {
	giveUp, ok := ctx.Deadline()
	if !ok {
		giveUp = time.Now().Add(s.cfg.ReadTimeout)
	}
	backoff := minBackoff
	redirects := 0
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return s.fail(cmd, n, err)
		}
		switch classify(err) {
		case classRedirect:
			var se resp.Error
			errors.As(err, &se)
			slot, addr, ok := se.Redirect()
			if !ok {
				return s.fail(cmd, n, err)
			}
			if redirects++; redirects > maxRedirects {
				return s.fail(cmd, n, fmt.Errorf("%w (%d), the last: %w", ErrTooManyRedirects, maxRedirects, err))
			}
			target, terr := s.topo.nodeAt(redirectAddr(addr, n))
			if terr != nil {
				s.log.Warn("redisstore: cannot follow redirection", "reply", se.Msg, "err", terr)
				return s.fail(cmd, n, err)
			}
			if se.Kind == "MOVED" {
				s.topo.moved(slot, target)
			} else {
				cmd.asking = true
			}
			n = target
			err = n.do(ctx, cmd)
			cmd.asking = false
			if err == nil {
				return nil
			}
			continue
		case classTransient:
			s.topo.recover(ctx, n, err)
		case classTopology:
			if !s.topo.recover(ctx, n, err) {
				return s.fail(cmd, n, err)
			}
		default:
			return s.fail(cmd, n, err)
		}
		if !sleepUntil(ctx, backoff, giveUp) {
			return s.fail(cmd, n, err)
		}
		backoff = min(2*backoff, maxBackoff)
		next, nerr := s.topo.nodeFor(cmd.prefix, cmd.id)
		if nerr != nil {
			err = nerr
			continue
		}
		n = next
		if err = n.do(ctx, cmd); err == nil {
			return nil
		}
	}
}

// sleepUntil waits d, unless ctx ends first or d would pass giveUp, and
// reports whether it waited.
func sleepUntil(ctx context.Context, d time.Duration, giveUp time.Time) bool {
	if time.Now().Add(d).After(giveUp) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail counts err and wraps it with the command and the server's address.
func (s *Store[S]) fail(cmd *command, n *node, err error) error {
	s.stats.countError(err)
	if err == ErrClosed {
		return err
	}
	if n == nil {
		return fmt.Errorf("redisstore: %s: %w", cmd.kind, err)
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
