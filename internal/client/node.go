package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
)

// node is one Redis server: a pool of connections and the pipes that share
// them among callers.
type node struct {
	network, addr string
	cfg           *Config
	pool          *pool.Pool[*conn]
	log           Logger
	stats         *counters // the client's

	slots   []pipeSlot         // fixed at New: shared pipes, then the bulk pipe if any
	shared  int                // slots[:shared] take the batches up to bigBatch bytes
	next    atomic.Uint32      // round robin over slots
	closed  atomic.Bool        // set by close: no more pipes are dialed
	closing context.Context    // ends when close begins: dials in progress stop
	cancel  context.CancelFunc // ends closing
	backoff dialBackoff        // paces dials while they fail
	big     chan struct{}      // a slot per big batch in flight (bigToken)

	warnedUntracked atomic.Bool // the server's refusal to track was logged
}

// pipeSlot holds one pipe of a node and redials it when it fails.
type pipeSlot struct {
	cur atomic.Pointer[pipe] // nil until first used

	mu      sync.Mutex    // protects following fields
	dialing chan struct{} // non-nil while a dial is under way; closed after
	err     error         // the last dial's error
}

// newNode makes the pool of connections to addr; it dials nothing yet
// (except MinIdle connections, in the background).
func newNode(cfg *Config, network, addr string, stats *counters) (*node, error) {
	n := &node{network: network, addr: addr, cfg: cfg, log: cfg.Logger, stats: stats}
	n.closing, n.cancel = context.WithCancel(context.Background())
	p, err := pool.New(pool.Config[*conn]{
		Dial:  n.dial,
		Close: (*conn).close,
		Check: func(ctx context.Context, c *conn) error {
			_, err := c.call(ctx, "PING")
			return err
		},
		MaxOpen:     cfg.PoolSize,
		MaxIdle:     cfg.MaxIdle,
		MinIdle:     cfg.MinIdle,
		IdleTimeout: cfg.IdleTimeout,
		MaxLifetime: cfg.MaxLifetime,
		WaitTimeout: cfg.PoolTimeout,
	})
	if err != nil {
		n.cancel()
		return nil, err
	}
	n.pool = p
	n.shared = cfg.pipesPerNode()
	n.big = make(chan struct{}, maxBigInFlight)
	bulk := 0
	if cfg.PoolSize > n.shared {
		bulk = 1 // a pipe of its own for big batches, dialed at the first
	}
	n.slots = make([]pipeSlot, n.shared+bulk)
	return n, nil
}

// dial connects to the node for its pool, unless the last dial failed and
// its pause has not passed (then it fails at once with that failure). ctx
// is the node's closing (node.dialPipe) or the pool's (MinIdle refills):
// it ends only when they close.
func (n *node) dial(ctx context.Context) (*conn, error) {
	turn, err := n.backoff.admit(time.Now())
	if err != nil {
		n.stats.dialsRefused.Add(1)
		return nil, err
	}
	c, err := dial(ctx, n.cfg, n.network, n.addr, n.cfg.Tracker != nil)
	if err != nil && ctx.Err() != nil {
		n.backoff.abandon(turn) // Close: says nothing of the server
		return nil, err
	}
	if d := n.backoff.done(turn, err, time.Now()); err != nil {
		n.log.Warn("redisstore: dial failed", "addr", n.addr, "retry in", d, "err", err)
	}
	if err == nil {
		n.warnUntracked(c)
	}
	return c, err
}

// close ends every pipe (after the calls in flight, within ReadTimeout) and
// the pool; a dial in progress is abandoned.
func (n *node) close() error {
	n.beginClose()
	return n.finishClose()
}

// beginClose makes every pipe of the node refuse calls at once, after the
// dials under way have been abandoned; finishClose waits for the calls in
// flight (within ReadTimeout) and closes the pool. Closing several nodes,
// begin them all before finishing any, so that the bound holds for all.
func (n *node) beginClose() {
	n.closed.Store(true) // before the slots: pipe checks it under each slot's mu
	n.cancel()
	for i := range n.slots {
		s := &n.slots[i]
		s.mu.Lock()
		dialing := s.dialing
		s.mu.Unlock()
		if dialing != nil {
			<-dialing
		}
		if p := s.cur.Load(); p != nil {
			p.beginClose()
		}
	}
}

func (n *node) finishClose() error {
	for i := range n.slots {
		if p := n.slots[i].cur.Load(); p != nil {
			p.wait()
		}
	}
	return n.pool.Close()
}

// do runs b on one of the node's pipes.
func (n *node) do(ctx context.Context, b *Batch) error { return n.doAsking(ctx, b, false) }

// doAsking runs the commands of b not done yet on one of the node's pipes,
// each after ASKING when asking (a Cluster ASK redirection). When the pipe
// turns out dead before any reply byte arrived for a connection that served
// before (the server closed it while idle), an Idempotent batch is sent
// once more on a new connection. A pipe that ended (retired, failed)
// before b reached it refuses b unwritten: b goes to another pipe, for
// CallBound and past maxRefused failed pipes at most. A server error reply
// is never retried here. It returns the first command's error reply, or
// why the batch failed, unwrapped; an *uncertainError when it failed after
// the write and is not Idempotent.
func (n *node) doAsking(ctx context.Context, b *Batch, asking bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	refused, retried := 0, false
	var firstRefusal time.Time
	for {
		big := len(b.buf) > bigBatch
		p, err := n.pipe(ctx, big, n.pick(b))
		if err != nil {
			return err
		}
		if testHookPipeChosen != nil {
			testHookPipeChosen(p)
		}
		var token chan struct{}
		if big {
			if token, err = n.bigToken(ctx, b.start); err != nil {
				return err
			}
		}
		reused := p.served.Load() > 0
		written, err := p.roundTrip(ctx, b, asking, token)
		if err == nil {
			return b.firstErr()
		}
		if !written && err != errPipeClosing && ctx.Err() == nil {
			if err != errPipeRetired {
				refused++
			}
			// The pipe ended as b arrived: its slot dials a new one. A
			// retired pipe served its callers, so retirements, however
			// quick, are no fault to give up on within CallBound.
			if firstRefusal.IsZero() {
				firstRefusal = time.Now()
			}
			if refused <= maxRefused && time.Since(firstRefusal) < n.cfg.CallBound() {
				continue
			}
		}
		if retried || !reused || !b.Idempotent || !staleConnError(err) || ctx.Err() != nil {
			if err == errPipeClosing {
				err = ErrClosed
			}
			if written && !b.Idempotent {
				err = &uncertainError{err}
			}
			return err
		}
		retried = true
		n.stats.retries.Add(1)
		n.log.Info("redisstore: retrying on a new connection", "addr", n.addr, "command", b.names(), "err", err)
	}
}

// testHookPipeChosen, when set by a test, runs between choosing a pipe
// for a batch and sending the batch on it.
var testHookPipeChosen func(*pipe)

// maxBigInFlight bounds the batches over bigBatch bytes in flight to one
// server. Without it every caller of a big value would queue its bytes at
// once, and the burst of callers each reply wakes would delay everyone's
// deadline; beyond it, callers wait for a turn within their context.
const maxBigInFlight = 4

// bigToken takes a turn to send a big batch, waiting until ctx ends or,
// when it has no deadline, until CallBound after start; the call that
// sends the batch gives the turn back when its replies are read or it
// fails.
func (n *node) bigToken(ctx context.Context, start time.Time) (chan struct{}, error) {
	select {
	case n.big <- struct{}{}:
		return n.big, nil
	default:
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(n.cfg.CallBound()))
		defer cancel()
	}
	select {
	case n.big <- struct{}{}:
		return n.big, nil
	case <-ctx.Done():
		err := ctx.Err()
		if err == context.DeadlineExceeded {
			err = fmt.Errorf("%w: no turn to send a value over %d KiB within %v", ErrPoolTimeout, bigBatch>>10, n.cfg.CallBound())
		}
		return nil, err
	case <-n.closing.Done():
		return nil, ErrClosed
	}
}

// roundTrip sends b on p and waits for its replies or the end of ctx,
// reporting whether b was handed to the connection. The error is the
// pipe's; the commands' own are in b.Replies. A non-nil token is a turn of
// bigToken, which the call gives back.
func (p *pipe) roundTrip(ctx context.Context, b *Batch, asking bool, token chan struct{}) (written bool, err error) {
	cl, err := p.send(ctx, b, asking, token)
	if err != nil {
		return false, err
	}
	if done := ctx.Done(); done == nil {
		<-cl.done
	} else {
		select {
		case <-cl.done:
		case <-done:
			if cl.state.CompareAndSwap(callPending, callAbandoned) {
				return true, ctx.Err() // the pipe reads and drops the replies
			}
			<-cl.done
		}
	}
	err = cl.err
	if err == nil {
		for j, i := range cl.idx[:cl.n] {
			cl.replies[j].copyTo(&b.Replies[i])
		}
	}
	cl.recycle()
	return true, err
}

// pipe returns a live pipe, dialing one when the chosen slot has none.
// A big batch goes to the bulk pipe when there is one, so that small
// batches never queue behind big values on their connection (Redis still
// runs one command at a time).
//
// The dial runs in a goroutine of its own, bounded by DialTimeout and
// Close but by no caller: the callers of a slot wait for one dial, each
// within its own context, and one that gives up leaves the dial to the
// others, so its outcome (and the backoff that records it) says what the
// server did, not how patient a caller was.
func (n *node) pipe(ctx context.Context, big bool, pick uint32) (*pipe, error) {
	var s *pipeSlot
	if big && len(n.slots) > n.shared {
		s = &n.slots[n.shared]
	} else {
		s = &n.slots[pick%uint32(n.shared)] // uint32: an int would turn negative on 32-bit platforms
	}
	if p := s.cur.Load(); p != nil && !p.dead.Load() {
		return p, nil
	}
	s.mu.Lock()
	if p := s.cur.Load(); p != nil && !p.dead.Load() {
		s.mu.Unlock()
		return p, nil
	}
	wait := s.dialing
	if wait == nil {
		if n.closed.Load() {
			// A caller past Client.Do's check (in a retry's backoff, say)
			// must not dial a pipe that would outlive Close.
			s.mu.Unlock()
			return nil, ErrClosed
		}
		wait = make(chan struct{})
		s.dialing = wait
		go n.dialPipe(s, wait)
	}
	s.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	p, err := s.cur.Load(), s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return p, nil
}

// dialPipe gets a connection for slot s from the pool, makes it the
// slot's pipe, and closes wait.
func (n *node) dialPipe(s *pipeSlot, wait chan struct{}) {
	var p *pipe
	res, err := n.pool.Get(n.closing)
	switch {
	case err == nil:
		p = newPipe(n, res, n.cfg)
	case errors.Is(err, pool.ErrClosed), n.closing.Err() != nil:
		err = ErrClosed
	}
	s.mu.Lock()
	if p != nil {
		s.cur.Store(p)
	}
	s.dialing, s.err = nil, err
	s.mu.Unlock()
	close(wait)
}
