package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"sync/atomic"

	"github.com/sessionx-redis/redisstore/resp"
)

// Timing of the Sentinel and Cluster topologies.
const (
	// refreshInterval is the shortest time between two rediscoveries of a
	// Sentinel master, or two refreshes of a Cluster slot map, that failures
	// cause.
	refreshInterval = 100 * time.Millisecond
	// watchInterval is how often a Sentinel store asks a sentinel for the
	// master, so that it follows a failover in which the old master stays up
	// and keeps accepting writes for a while (SENTINEL FAILOVER).
	watchInterval = 100 * time.Millisecond
)

// sentinel is the master of a Sentinel group. It asks the sentinels (in
// turn, the last one that answered first) for the master's address, checks
// with ROLE that the server named is a master, and keeps one node for it.
// When a command fails in a way that says the master changed (READONLY, a
// dead connection, a refused dial) or the watcher sees a new address, it
// rediscovers, switches to the new master and closes the old one's pool.
type sentinel struct {
	cfg   *config // the data nodes'
	scfg  *config // the sentinels': their credentials, database 0
	log   Logger
	stats *counters

	master atomic.Pointer[node] // never nil after newSentinel

	mu     sync.Mutex // protects following fields; held during a switch
	addrs  []string   // the sentinels, the one that answered last first
	last   time.Time  // when the last rediscovery ended
	closed bool

	stop chan struct{}  // closed by close: ends the watcher
	wg   sync.WaitGroup // the watcher and closes of old masters
}

// newSentinel finds the master of cfg.MasterName through cfg.SentinelAddrs.
func newSentinel(ctx context.Context, cfg *config, log Logger, stats *counters) (*sentinel, error) {
	scfg := *cfg
	scfg.Username, scfg.Password, scfg.DB = cfg.SentinelUsername, cfg.SentinelPassword, 0
	s := &sentinel{
		cfg: cfg, scfg: &scfg, log: log, stats: stats,
		addrs: append([]string(nil), cfg.SentinelAddrs...),
		stop:  make(chan struct{}),
	}
	addr, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkMaster(ctx, addr); err != nil {
		return nil, err
	}
	n, err := newNode(cfg, "tcp", addr, log, stats)
	if err != nil {
		return nil, err
	}
	s.master.Store(n)
	s.wg.Add(1)
	go s.watch()
	return s, nil
}

func (s *sentinel) nodeFor(string, string) (*node, error) { return s.master.Load(), nil }

func (s *sentinel) nodeAt(string) (*node, error) {
	return nil, errors.New("redisstore: redirection from a Sentinel master (is it a Redis Cluster node? use ClusterAddrs)")
}

func (s *sentinel) moved(int, *node) {}

// recover rediscovers the master after a failure on n, unless another
// caller already replaced n, a rediscovery is under way, or the last one
// ended less than refreshInterval ago. Busy and loading masters are waited
// out, not rediscovered.
func (s *sentinel) recover(ctx context.Context, n *node, err error) bool {
	var se resp.Error
	if errors.As(err, &se) && se.Kind != "READONLY" && se.Kind != "MASTERDOWN" {
		return true // LOADING, BUSY, too many clients: the same master, later
	}
	if s.master.Load() != n {
		return true
	}
	if !s.mu.TryLock() {
		return true // another caller is rediscovering
	}
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.master.Load() != n || time.Since(s.last) < refreshInterval {
		return true
	}
	s.switchLocked(ctx)
	return true
}

// switchLocked asks the sentinels for the master and, when they name
// another server that says it is a master, makes it the current one.
func (s *sentinel) switchLocked(ctx context.Context) {
	defer func() { s.last = time.Now() }()
	addr, err := s.discover(ctx)
	if err != nil {
		s.log.Warn("redisstore: Sentinel rediscovery failed", "err", err)
		return
	}
	old := s.master.Load()
	if addr == old.addr {
		return // the sentinels have not failed over (yet)
	}
	if err := s.checkMaster(ctx, addr); err != nil {
		s.log.Warn("redisstore: Sentinel names a server that is not a master yet", "addr", addr, "err", err)
		return
	}
	n, err := newNode(s.cfg, "tcp", addr, s.log, s.stats)
	if err != nil {
		s.log.Warn("redisstore: Sentinel master", "addr", addr, "err", err)
		return
	}
	s.master.Store(n)
	s.log.Warn("redisstore: Sentinel master changed", "name", s.cfg.MasterName, "from", old.addr, "to", addr)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		old.close() // waits for the calls in flight on the old master
	}()
}

// discover asks the sentinels in turn for the master's address and moves
// the first that answers to the front.
func (s *sentinel) discover(ctx context.Context) (string, error) {
	var errs []error
	for i, sa := range s.addrs {
		addr, err := s.askSentinel(ctx, sa)
		if err == nil {
			copy(s.addrs[1:i+1], s.addrs[:i])
			s.addrs[0] = sa
			return addr, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("redisstore: no sentinel names master %q: %w", s.cfg.MasterName, errors.Join(errs...))
}

// askSentinel asks the sentinel at sa for the master's address.
func (s *sentinel) askSentinel(ctx context.Context, sa string) (string, error) {
	c, err := dial(ctx, s.scfg, "tcp", sa)
	if err != nil {
		return "", err
	}
	defer c.close()
	return masterAddr(ctx, c, sa, s.cfg.MasterName)
}

// masterAddr runs SENTINEL get-master-addr-by-name on c.
func masterAddr(ctx context.Context, c *conn, sa, name string) (string, error) {
	v, err := c.call(ctx, "SENTINEL", "get-master-addr-by-name", name)
	if err != nil {
		return "", fmt.Errorf("redisstore: sentinel %s: %w", sa, err)
	}
	if v.Null || len(v.Elems) != 2 || v.Elems[0].Str == "" || v.Elems[1].Str == "" {
		return "", fmt.Errorf("redisstore: sentinel %s does not know master %q", sa, name)
	}
	return joinHostPort(v.Elems[0].Str, v.Elems[1].Str), nil
}

// checkMaster connects to addr and checks that ROLE says master.
func (s *sentinel) checkMaster(ctx context.Context, addr string) error {
	c, err := dial(ctx, s.cfg, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.close()
	v, err := c.call(ctx, "ROLE")
	if err != nil {
		return fmt.Errorf("redisstore: ROLE on %s: %w", addr, err)
	}
	if len(v.Elems) == 0 || v.Elems[0].Str != "master" {
		role := "?"
		if len(v.Elems) > 0 {
			role = v.Elems[0].Str
		}
		return fmt.Errorf("redisstore: %s has role %q, not master", addr, role)
	}
	return nil
}

// watch asks a sentinel for the master every watchInterval over one
// connection (moving on to the next sentinel when it fails) and switches
// when the answer changes.
func (s *sentinel) watch() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	var c *conn
	var sa string
	next := 0
	for {
		select {
		case <-s.stop:
			if c != nil {
				c.close()
			}
			return
		case <-t.C:
		}
		if c == nil {
			s.mu.Lock()
			sa = s.addrs[next%len(s.addrs)]
			s.mu.Unlock()
			next++
			var err error
			if c, err = dial(ctx, s.scfg, "tcp", sa); err != nil {
				c = nil
				continue
			}
		}
		addr, err := masterAddr(ctx, c, sa, s.cfg.MasterName)
		if err != nil {
			c.close()
			c = nil
			continue
		}
		if cur := s.master.Load(); cur != nil && cur.addr != addr {
			s.mu.Lock()
			if !s.closed {
				s.switchLocked(ctx)
			}
			s.mu.Unlock()
		}
	}
}

func (s *sentinel) nodes() []*node { return []*node{s.master.Load()} }

// close stops the watcher and closes the master's node.
func (s *sentinel) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	err := s.master.Load().close()
	s.wg.Wait()
	return err
}
