//go:build !redisstore_nosentinel

package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// Following a Sentinel failover in which the old master stays up (and keeps
// accepting writes for a while, as with SENTINEL FAILOVER): the client
// subscribes to +switch-master on one sentinel and switches on the event;
// it also asks a sentinel for the master every SentinelWatchInterval, in
// case an event was missed while no subscription was up.
var (
	resubscribeDelay  = 500 * time.Millisecond // before subscribing again after a failure
	switchMasterEvent = "+switch-master"
)

// sentinel is the master of a Sentinel group. It asks the sentinels (in
// turn, the last one that answered first) for the master's address, checks
// with ROLE that the server named is a master, and keeps one node for it.
// When a command fails in a way that says the master changed (READONLY, a
// dead connection, a refused dial) or the watcher sees a new address, it
// rediscovers, switches to the new master and closes the old one's pool.
type sentinel struct {
	cfg   *Config // the data nodes'
	scfg  *Config // the sentinels': their credentials, database 0
	log   Logger
	stats *counters

	master atomic.Pointer[node] // never nil after newSentinel

	mu     sync.Mutex // protects following fields; held during a switch
	addrs  []string   // the sentinels, the one that answered last first
	last   time.Time  // when the last rediscovery ended
	closed bool

	watchEvery time.Duration      // SentinelWatchInterval when the client was made
	stop       chan struct{}      // closed by close: ends the watcher and listener
	stopped    context.Context    // ends with stop, for their I/O
	cancel     context.CancelFunc // ends stopped
	wg         sync.WaitGroup     // the watcher, the listener and closes of old masters
}

// newSentinel finds the master of cfg.MasterName through cfg.SentinelAddrs.
func newSentinel(ctx context.Context, cfg *Config, stats *counters) (topology, error) {
	scfg := *cfg
	scfg.Username, scfg.Password, scfg.DB = cfg.SentinelUsername, cfg.SentinelPassword, 0
	s := &sentinel{
		cfg: cfg, scfg: &scfg, log: cfg.Logger, stats: stats,
		addrs:      append([]string(nil), cfg.SentinelAddrs...),
		watchEvery: SentinelWatchInterval,
		stop:       make(chan struct{}),
	}
	addr, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkMaster(ctx, addr); err != nil {
		return nil, err
	}
	n, err := newNode(cfg, "tcp", addr, stats)
	if err != nil {
		return nil, err
	}
	s.master.Store(n)
	s.stopped, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.watch()
	go s.listen()
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
// out, not rediscovered. The rediscovery ends with ctx (Client.retry bounds
// it) or when the client closes.
func (s *sentinel) recover(ctx context.Context, n *node, err error) bool {
	if se, ok := errors.AsType[resp.Error](err); ok && se.Kind != "READONLY" && se.Kind != "MASTERDOWN" {
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopped, cancel)()
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
	s.switchToLocked(ctx, addr)
}

// switchToLocked makes addr the current master if it is not already and
// ROLE there says master. It reports whether addr is the master now.
func (s *sentinel) switchToLocked(ctx context.Context, addr string) bool {
	old := s.master.Load()
	if addr == old.addr {
		return true // the sentinels have not failed over (yet)
	}
	if err := s.checkMaster(ctx, addr); err != nil {
		s.log.Warn("redisstore: Sentinel names a server that is not a master yet", "addr", addr, "err", err)
		return false
	}
	n, err := newNode(s.cfg, "tcp", addr, s.stats)
	if err != nil {
		s.log.Warn("redisstore: Sentinel master", "addr", addr, "err", err)
		return false
	}
	s.master.Store(n)
	s.log.Warn("redisstore: Sentinel master changed", "name", s.cfg.MasterName, "from", old.addr, "to", addr)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		old.close() // waits for the calls in flight on the old master
	}()
	return true
}

// discover asks every sentinel at once for the master's address, takes the
// first answer and moves the sentinel that gave it to the front; a silent
// sentinel delays nothing while another answers. It returns when every
// question ended, so no goroutine outlives it.
func (s *sentinel) discover(ctx context.Context) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i    int
		addr string
		err  error
	}
	answers := make(chan answer, len(s.addrs))
	for i, sa := range s.addrs {
		go func() {
			addr, err := s.askSentinel(ctx, sa)
			answers <- answer{i, addr, err}
		}()
	}
	var errs []error
	won := -1
	var addr string
	for range s.addrs {
		a := <-answers
		switch {
		case a.err == nil && won < 0:
			won, addr = a.i, a.addr
			cancel() // the others' answers are not needed
		case a.err != nil && won < 0:
			errs = append(errs, a.err)
		}
	}
	if won < 0 {
		return "", fmt.Errorf("redisstore: no sentinel names master %q: %w", s.cfg.MasterName, errors.Join(errs...))
	}
	sa := s.addrs[won]
	copy(s.addrs[1:won+1], s.addrs[:won])
	s.addrs[0] = sa
	return addr, nil
}

// askSentinel asks the sentinel at sa for the master's address.
func (s *sentinel) askSentinel(ctx context.Context, sa string) (string, error) {
	c, err := dial(ctx, s.scfg, "tcp", sa, false)
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
	c, err := dial(ctx, s.cfg, "tcp", addr, false)
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

// watch asks a sentinel for the master every watchEvery over one
// connection (moving on to the next sentinel when it fails) and switches
// when the answer changes.
func (s *sentinel) watch() {
	defer s.wg.Done()
	ctx := s.stopped
	t := time.NewTicker(s.watchEvery)
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
			if c, err = dial(ctx, s.scfg, "tcp", sa, false); err != nil {
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

// listen subscribes to +switch-master on one sentinel after another (the
// next one when a subscription fails) and switches to the new master when
// an event names ours.
func (s *sentinel) listen() {
	defer s.wg.Done()
	ctx := s.stopped
	for next := 0; ; next++ {
		s.mu.Lock()
		sa := s.addrs[next%len(s.addrs)]
		s.mu.Unlock()
		if c, err := dial(ctx, s.scfg, "tcp", sa, false); err == nil {
			err = s.follow(ctx, c)
			s.log.Info("redisstore: Sentinel subscription ended", "sentinel", sa, "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-time.After(resubscribeDelay):
		}
	}
}

// follow subscribes to +switch-master on c and handles its events until c
// fails or ctx ends (which closes c). Events arrive as RESP3 pushes or, on
// RESP2, as the replies ReadValue returns.
func (s *sentinel) follow(ctx context.Context, c *conn) error {
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()
	c.rd.SetPushHandler(func(v resp.Value) { s.onEvent(ctx, v) })
	c.setDeadlines(ctx)
	c.wbuf = resp.AppendCommand(c.wbuf[:0], "SUBSCRIBE", switchMasterEvent)
	if err := c.write(); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Time{}) // events come when they come; TCP keepalive notices a dead sentinel
	for {
		v, err := c.rd.ReadValue()
		if err != nil {
			return err
		}
		s.onEvent(ctx, v)
	}
}

// onEvent switches masters when v is a +switch-master message about ours:
// "message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>".
func (s *sentinel) onEvent(ctx context.Context, v resp.Value) {
	if len(v.Elems) != 3 || v.Elems[0].Str != "message" || v.Elems[1].Str != switchMasterEvent {
		return // the subscription's confirmation, or another message
	}
	f := strings.Fields(v.Elems[2].Str)
	if len(f) != 5 || f[0] != s.cfg.MasterName {
		return
	}
	addr := joinHostPort(f[3], f[4])
	if cur := s.master.Load(); cur != nil && cur.addr == addr {
		return
	}
	s.log.Info("redisstore: Sentinel announces a new master", "name", f[0], "addr", addr)
	// The event names the new master: it is switched to directly, since
	// the other sentinels (which discover might ask) can still name the
	// old one for a while. A new master whose promotion is not finished
	// (ROLE still says replica) is checked again, a few times.
	for wait := eventRetry; ; wait *= 2 {
		s.mu.Lock()
		done := s.closed || s.switchToLocked(ctx, addr)
		s.mu.Unlock()
		if done || wait > maxEventRetry {
			return
		}
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
	}
}

// eventRetry is the first wait before a +switch-master event's master is
// checked again; the waits double up to maxEventRetry (about 3 s in all).
const (
	eventRetry    = 50 * time.Millisecond
	maxEventRetry = 2 * time.Second
)

func (s *sentinel) nodes() []*node { return []*node{s.master.Load()} }

// close stops the watcher and closes the master's node. It first ends
// the I/O of a rediscovery under way, so that it waits for no dial.
func (s *sentinel) close() error {
	s.cancel()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	err := s.master.Load().close()
	s.wg.Wait()
	return err
}
