//go:build !redisstore_nocluster

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// cluster is a Redis Cluster: a node (with its own pool) per server, and a
// map from each of the 16384 hash slots to the master serving it, read from
// CLUSTER SLOTS. Routing a command reads one atomic pointer.
type cluster struct {
	cfg   *Config
	log   Logger
	stats *counters

	slots [slotCount]atomic.Pointer[node] // nil: unknown

	refreshing  atomic.Bool  // a refresh is under way
	lastRefresh atomic.Int64 // UnixNano of the end of the last refresh

	stopped context.Context    // ends when close begins: background refreshes stop
	cancel  context.CancelFunc // ends stopped

	mu     sync.Mutex       // protects following fields
	byAddr map[string]*node // every node made, by address
	closed bool
	wg     sync.WaitGroup // background refreshes
}

// newCluster reads the slot map from the first seed node that answers.
func newCluster(ctx context.Context, cfg *Config, stats *counters) (topology, error) {
	c := &cluster{cfg: cfg, log: cfg.Logger, stats: stats, byAddr: make(map[string]*node)}
	c.stopped, c.cancel = context.WithCancel(context.Background())
	if err := c.refresh(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// nodeFor returns the master serving the slot of the key prefix+id.
func (c *cluster) nodeFor(prefix, id string) (*node, error) {
	if n := c.slots[KeySlot(prefix, id)].Load(); n != nil {
		return n, nil
	}
	return nil, errNoSlotOwner
}

// nodeAt returns the node at addr, making it when it is new.
func (c *cluster) nodeAt(addr string) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodeAtLocked(addr)
}

func (c *cluster) nodeAtLocked(addr string) (*node, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if n := c.byAddr[addr]; n != nil {
		return n, nil
	}
	n, err := newNode(c.cfg, "tcp", addr, c.stats)
	if err != nil {
		return nil, err
	}
	c.byAddr[addr] = n
	return n, nil
}

// moved points slot at n at once and refreshes the whole map in the
// background (the other slots of a resharding likely moved too).
func (c *cluster) moved(slot int, n *node) {
	c.slots[slot].Store(n)
	if !c.refreshDue() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.refreshing.Swap(true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(c.stopped, c.cfg.DialTimeout+c.cfg.ReadTimeout)
		defer cancel()
		if err := c.refresh(ctx); err != nil {
			c.log.Warn("redisstore: cluster slot map refresh failed", "err", err)
		}
	}()
}

// recover refreshes the slot map after a failure that may mean a master
// died or the cluster changed (at most one refresh per refreshInterval) and
// reports that the command may be retried.
func (c *cluster) recover(ctx context.Context, n *node, err error) bool {
	if se, ok := errors.AsType[resp.Error](err); ok && se.Kind != "CLUSTERDOWN" && se.Kind != "READONLY" {
		return true // LOADING, BUSY, TRYAGAIN, too many clients: wait
	}
	if !c.refreshDue() || c.refreshing.Swap(true) {
		return true
	}
	defer c.refreshing.Store(false)
	if rerr := c.refresh(ctx); rerr != nil {
		c.log.Warn("redisstore: cluster slot map refresh failed", "err", rerr)
	}
	return true
}

// refreshDue reports whether refreshInterval passed since the last refresh.
func (c *cluster) refreshDue() bool {
	return time.Since(time.Unix(0, c.lastRefresh.Load())) >= refreshInterval
}

// refresh asks the known masters, then the seed nodes, in turn for CLUSTER
// SLOTS, and installs the first answer.
func (c *cluster) refresh(ctx context.Context) error {
	defer c.lastRefresh.Store(time.Now().UnixNano())
	var errs []error
	for _, addr := range c.candidates() {
		ranges, err := c.askSlots(ctx, addr)
		if err == nil {
			return c.install(ranges)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("redisstore: no cluster node answers CLUSTER SLOTS: %w", errors.Join(errs...))
}

// candidates returns the addresses to ask for the slot map: the masters in
// the map, then the seeds.
func (c *cluster) candidates() []string {
	var addrs []string
	seen := make(map[string]bool)
	var prev *node
	for i := range c.slots {
		n := c.slots[i].Load()
		if n != nil && n != prev && !seen[n.addr] {
			seen[n.addr] = true
			addrs = append(addrs, n.addr)
		}
		prev = n
	}
	for _, a := range c.cfg.ClusterAddrs {
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// slotRange is one line of CLUSTER SLOTS: slots lo..hi served by master,
// and every node listed for them.
type slotRange struct {
	lo, hi int
	master string
	all    []string
}

// askSlots runs CLUSTER SLOTS on the node at addr.
func (c *cluster) askSlots(ctx context.Context, addr string) ([]slotRange, error) {
	cn, err := dial(ctx, c.cfg, "tcp", addr, false)
	if err != nil {
		return nil, err
	}
	defer cn.close()
	v, err := cn.call(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, fmt.Errorf("redisstore: CLUSTER SLOTS on %s: %w", addr, err)
	}
	ranges, err := parseSlots(v, addr)
	if err != nil {
		return nil, fmt.Errorf("redisstore: CLUSTER SLOTS on %s: %w", addr, err)
	}
	return ranges, nil
}

// parseSlots reads a CLUSTER SLOTS reply: [lo, hi, [host, port, id, ...],
// replicas...] per range. An empty or "?" host means the host of from, the
// node that answered.
func parseSlots(v resp.Value, from string) ([]slotRange, error) {
	fromHost, _, _ := net.SplitHostPort(from)
	var ranges []slotRange
	for _, r := range v.Elems {
		if len(r.Elems) < 3 {
			return nil, errors.New("short slot range")
		}
		lo, hi := int(r.Elems[0].Int), int(r.Elems[1].Int)
		if lo < 0 || hi >= slotCount || lo > hi {
			return nil, fmt.Errorf("slot range %d-%d", lo, hi)
		}
		sr := slotRange{lo: lo, hi: hi}
		for i, nv := range r.Elems[2:] {
			if len(nv.Elems) < 2 {
				return nil, errors.New("short node entry")
			}
			host, port := nv.Elems[0].Str, nv.Elems[1].Int
			if host == "" || host == "?" {
				host = fromHost
			}
			if port <= 0 || port > 65535 {
				return nil, fmt.Errorf("port %d", port)
			}
			a := joinHostPort(host, strconv.FormatInt(port, 10))
			if i == 0 {
				sr.master = a
			}
			sr.all = append(sr.all, a)
		}
		ranges = append(ranges, sr)
	}
	if len(ranges) == 0 {
		return nil, errors.New("no slot is served")
	}
	return ranges, nil
}

// install points every slot at its master and closes the nodes the map no
// longer lists at all (neither as master nor as replica).
func (c *cluster) install(ranges []slotRange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	var next [slotCount]*node
	listed := make(map[string]bool)
	for _, r := range ranges {
		n, err := c.nodeAtLocked(r.master)
		if err != nil {
			return err
		}
		for s := r.lo; s <= r.hi; s++ {
			next[s] = n
		}
		for _, a := range r.all {
			listed[a] = true
		}
	}
	for i := range c.slots {
		c.slots[i].Store(next[i])
	}
	for addr, n := range c.byAddr {
		if !listed[addr] {
			delete(c.byAddr, addr)
			c.log.Info("redisstore: cluster node left the slot map", "addr", addr)
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				n.close()
			}()
		}
	}
	return nil
}

func (c *cluster) nodes() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := make([]*node, 0, len(c.byAddr))
	for _, n := range c.byAddr {
		ns = append(ns, n)
	}
	return ns
}

// close closes every node, after ending the background refreshes.
func (c *cluster) close() error {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	ns := make([]*node, 0, len(c.byAddr))
	for _, n := range c.byAddr {
		ns = append(ns, n)
	}
	c.mu.Unlock()
	c.wg.Wait()
	for _, n := range ns {
		n.beginClose()
	}
	var errs []error
	for _, n := range ns {
		errs = append(errs, n.finishClose())
	}
	return errors.Join(errs...)
}
