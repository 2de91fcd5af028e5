package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// Client runs batches of commands on a single server, the master of a
// Sentinel group or a Redis Cluster. It is safe for concurrent use.
type Client struct {
	cfg    *Config
	topo   topology // which server runs each batch
	log    Logger
	closed atomic.Bool
	stats  counters
}

// New connects as cfg says (asking the sentinels for the master, or a seed
// node for the cluster's slot map) and pings, within DialTimeout +
// ReadTimeout; it fails fast with a clear error.
func New(cfg Config) (*Client, error) {
	c := &Client{cfg: cfg.WithDefaults()}
	c.log = c.cfg.Logger
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DialTimeout+c.cfg.ReadTimeout)
	defer cancel()
	var err error
	switch {
	case len(c.cfg.SentinelAddrs) > 0:
		c.topo, err = newSentinel(ctx, c.cfg, &c.stats)
	case len(c.cfg.ClusterAddrs) > 0:
		c.topo, err = newCluster(ctx, c.cfg, &c.stats)
	default:
		var n *node
		n, err = newNode(c.cfg, c.cfg.Network, c.cfg.Addr, &c.stats)
		c.topo = single{n}
	}
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		c.topo.close()
		return nil, err
	}
	return c, nil
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	var b Batch
	b.Idempotent = true
	b.Add(ReplyAny, "PING") // +PONG in RESP2 and RESP3
	return c.Do(ctx, &b)
}

// Close closes every connection. Calls after Close return ErrClosed; calls
// in flight finish, within ReadTimeout; dials and Sentinel rediscoveries
// under way are abandoned. Close is idempotent and leaves no goroutine.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.topo.close()
}

// Addrs returns the addresses of the servers in use: the single server,
// the current Sentinel master, or every Cluster node known.
func (c *Client) Addrs() []string {
	var addrs []string
	for _, n := range c.topo.nodes() {
		addrs = append(addrs, n.addr)
	}
	return addrs
}

// Do sends the batch to the server that holds its first key (any server
// for a batch without keys) and fills b.Replies. It returns the first
// command's error reply among them, wrapped with the command names and the
// server's address, or why the batch could not run. The first attempt
// allocates nothing; failures go to retry. An empty batch is done at once.
func (c *Client) Do(ctx context.Context, b *Batch) error {
	defer b.release()
	switch {
	case c.closed.Load():
		return ErrClosed
	case b.n == 0:
		return nil
	case b.refused != "":
		return fmt.Errorf("redisstore: %s would change the state of a connection other callers share", b.refused)
	}
	c.stats.commands.Add(uint64(b.n))
	b.start = time.Now()
	n, err := c.topo.nodeFor(b.prefix, b.id)
	if err == nil {
		if err = n.do(ctx, b); err == nil {
			return nil
		}
	}
	return c.retry(ctx, b, n, err, b.start)
}

// CallBound is how long a call whose context has no deadline may take in
// all: DialTimeout (to wait for a connection, dial and shake hands) plus
// ReadTimeout (for the reply, and for retries).
func (c *Config) CallBound() time.Duration { return c.DialTimeout + c.ReadTimeout }

// Redirection and retry limits of Do.
const (
	// MaxRedirects is how many MOVED or ASK replies Do follows per batch.
	MaxRedirects = 3
	minBackoff   = 10 * time.Millisecond  // first wait before a retry
	maxBackoff   = 200 * time.Millisecond // longest wait between retries
)

// retry handles the failure err of b on n (nil when no node was found): it
// follows MOVED and ASK redirections (at most MaxRedirects), loads scripts
// the server lacks (NOSCRIPT, once), retries transient server errors
// (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, too many clients) and
// topology changes (a dead or demoted master) with exponential backoff
// until ctx's deadline, or ReadTimeout after the first failure when ctx has
// none (and never past CallBound after start). Other errors return at
// once. After a server's reply only the commands it says did not run are
// sent again (Batch.settle).
func (c *Client) retry(ctx context.Context, b *Batch, n *node, err error, start time.Time) error {
	giveUp, ok := ctx.Deadline()
	if !ok {
		giveUp = time.Now().Add(c.cfg.ReadTimeout)
		if bound := start.Add(c.cfg.CallBound()); bound.Before(giveUp) {
			giveUp = bound
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, giveUp) // bounds redials and rediscoveries too
		defer cancel()
	}
	backoff := minBackoff
	redirects := 0
	asking := false // the last redirection was an ASK: n is the importing node
	for {
		if c.closed.Load() {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return c.fail(b, n, err)
		}
		class := classify(err)
		if _, reply := errors.AsType[resp.Error](err); reply && class != classFatal {
			b.settle() // what ran is done; err's own command did not run
		}
		switch class {
		case classScript:
			if !b.useEval() {
				return c.fail(b, n, err)
			}
			if err = n.doAsking(ctx, b, asking); err == nil {
				return nil
			}
			continue
		case classRedirect:
			se, _ := errors.AsType[resp.Error](err)
			slot, addr, ok := se.Redirect()
			if !ok {
				return c.fail(b, n, err)
			}
			if redirects++; redirects > MaxRedirects {
				return c.fail(b, n, fmt.Errorf("%w (%d), the last: %w", ErrTooManyRedirects, MaxRedirects, err))
			}
			target, terr := c.topo.nodeAt(redirectAddr(addr, n))
			if terr != nil {
				c.log.Warn("redisstore: cannot follow redirection", "reply", se.Msg, "err", terr)
				return c.fail(b, n, err)
			}
			asking = se.Kind == "ASK"
			if !asking {
				c.topo.moved(slot, target)
				n.forget() // what it served of the slot may have moved on
			}
			n = target
			if err = n.doAsking(ctx, b, asking); err == nil {
				return nil
			}
			continue
		case classTransient:
			c.topo.recover(ctx, n, err)
		case classTopology:
			if !c.topo.recover(ctx, n, err) {
				return c.fail(b, n, err)
			}
		default:
			return c.fail(b, n, err)
		}
		if !sleepUntil(ctx, backoff, giveUp) {
			return c.fail(b, n, err)
		}
		backoff = min(2*backoff, maxBackoff)
		next, nerr := c.topo.nodeFor(b.prefix, b.id)
		if nerr != nil {
			err = nerr
			continue
		}
		n, asking = next, false
		if err = n.do(ctx, b); err == nil {
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

// fail counts err and wraps it with the commands and the server's address.
func (c *Client) fail(b *Batch, n *node, err error) error {
	c.stats.countError(err)
	if err == ErrClosed {
		return err
	}
	if n == nil {
		return fmt.Errorf("redisstore: %s: %w", b.names(), err)
	}
	return fmt.Errorf("redisstore: %s on %s: %w", b.names(), n.addr, err)
}
