package client

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
	"github.com/sessionx-redis/redisstore/resp"
)

// A pipe multiplexes the commands of many callers over one connection.
// Callers append their commands to a shared write buffer, and the first of
// them writes it (so commands that arrive while a write is under way go out
// together in the next write); one reader goroutine per pipe reads the
// replies in order and hands each to its caller. Under load this pipelines
// commands without any caller waiting for another's reply, and the server
// reads many commands per system call.
//
// A caller whose context ends stops waiting at once; its reply is still read
// and dropped, so the stream never goes out of sync and nobody else is
// delayed. A reply that does not arrive within ReadTimeout, a write that does
// not finish within WriteTimeout, or any protocol error fails the pipe: every
// call in flight on it gets the error and the connection is closed.
type pipe struct {
	c            *conn
	res          *pool.Resource[*conn] // given back (closed) when the pipe ends
	node         *node
	readTimeout  time.Duration
	writeTimeout time.Duration
	idleTimeout  time.Duration    // zero: never retire an idle pipe
	maxLifetime  time.Duration    // zero: never retire an old pipe
	onPush       func(resp.Value) // Config.OnPush, or a no-op

	dead   atomic.Bool   // set when the pipe takes no more calls
	served atomic.Uint64 // replies read, so a failure of a used pipe is told from a new one's
	done   chan struct{} // closed when the reader goroutine has exited

	mu      sync.Mutex // protects following fields
	wbuf    []byte     // commands appended but not yet written
	spare   []byte     // the other write buffer, swapped with wbuf on each write
	queue   []*call    // calls whose replies are awaited, oldest at queue[head]
	head    int
	writing bool      // a caller is writing; others only append to wbuf
	armed   time.Time // the connection's read deadline
	sent    time.Time // when the last call was sent, for IdleTimeout
	err     error     // why the pipe takes no more calls; nil while it does
	closing bool      // Close: end once the calls in flight are answered
}

// call is one batch in flight. Calls are recycled through callPool; a call
// its caller gave up on is recycled by the pipe instead.
type call struct {
	n       int                // commands sent
	kinds   [MaxCmds]ReplyKind // how each reply is read
	idx     [MaxCmds]uint8     // the batch's index of each command sent
	asking  bool               // each command follows an ASKING
	replies [MaxCmds]Reply     // read by the pipe; Bulk buffers are reused
	err     error              // the pipe's failure, if any
	due     time.Time          // when the reply is overdue: sent + ReadTimeout
	done    chan struct{}      // receives once the outcome is set, for a waiting caller
	state   atomic.Int32       // callPending, callDone or callAbandoned
}

const (
	callPending int32 = iota
	callDone
	callAbandoned
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// finish sets the call's outcome and wakes its caller, or recycles the call
// when the caller already gave up.
func (cl *call) finish(err error) {
	cl.err = err
	if cl.state.CompareAndSwap(callPending, callDone) {
		cl.done <- struct{}{}
		return
	}
	cl.recycle()
}

// recycle resets the call, keeping its reply buffers, and pools it.
func (cl *call) recycle() {
	for i := range cl.n {
		cl.replies[i].reset()
	}
	cl.n, cl.asking, cl.err = 0, false, nil
	cl.state.Store(callPending)
	callPool.Put(cl)
}

// read reads the replies of the call's commands, each after ASKING's +OK
// when asking. The error returned means the stream is broken.
func (cl *call) read(rd *resp.Reader) error {
	for i := range cl.n {
		var askErr error
		if cl.asking {
			if askErr = rd.ReadOK(); !resp.Usable(askErr) {
				return askErr
			}
		}
		if err := readReply(rd, cl.kinds[i], &cl.replies[i]); err != nil {
			return err
		}
		if askErr != nil {
			cl.replies[i].Err = askErr
		}
	}
	return nil
}

// newPipe starts the reader of a pipe over the pooled connection res.
func newPipe(n *node, res *pool.Resource[*conn], cfg *Config) *pipe {
	p := &pipe{
		c:            res.Value(),
		res:          res,
		node:         n,
		readTimeout:  cfg.ReadTimeout,
		writeTimeout: cfg.WriteTimeout,
		idleTimeout:  cfg.IdleTimeout,
		maxLifetime:  cfg.MaxLifetime,
		done:         make(chan struct{}),
		wbuf:         make([]byte, 0, 4096),
		spare:        make([]byte, 0, 4096),
		queue:        make([]*call, 0, 64),
	}
	p.onPush = cfg.OnPush
	if p.onPush == nil {
		p.onPush = func(resp.Value) {}
	}
	p.c.rd.SetPushHandler(p.onPush) // pushes that come between replies
	p.sent = time.Now()
	p.armLocked(p.sent.Add(p.readTimeout))
	go p.readLoop()
	return p
}

// send queues the commands of b and makes sure they get written. The
// returned call's done channel receives when the replies have been read.
func (p *pipe) send(b *Batch, asking bool) (*call, error) {
	cl := callPool.Get().(*call)
	cl.asking = asking
	for i := range b.n {
		if b.done&(1<<i) == 0 {
			cl.kinds[cl.n], cl.idx[cl.n] = b.cmds[i].kind, uint8(i)
			cl.n++
		}
	}

	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		cl.recycle()
		return nil, err
	}
	if asking || b.done != 0 {
		for _, i := range cl.idx[:cl.n] {
			if asking {
				p.wbuf = append(p.wbuf, askingCmd...)
			}
			p.wbuf = append(p.wbuf, b.buf[b.cmds[i].start:b.cmds[i].end]...)
		}
	} else {
		p.wbuf = append(p.wbuf, b.buf...)
	}
	p.sent = time.Now()
	cl.due = p.sent.Add(p.readTimeout)
	if cl.due.Before(p.armed) {
		p.armLocked(cl.due)
	}
	p.queue = append(p.queue, cl)
	if p.writing {
		p.mu.Unlock()
		return cl, nil
	}
	p.writing = true
	p.flushLocked()
	return cl, nil
}

// askingCmd is ASKING in RESP.
const askingCmd = "*1\r\n$6\r\nASKING\r\n"

// flushLocked writes wbuf, again and again while callers keep appending to
// it. It is called with p.mu held and p.writing set, and returns with p.mu
// released and p.writing cleared.
func (p *pipe) flushLocked() {
	// A closing pipe still writes what its calls in flight appended.
	for len(p.wbuf) > 0 && (p.err == nil || p.err == errPipeClosing) {
		buf := p.wbuf
		p.wbuf = p.spare
		p.mu.Unlock()
		p.c.nc.SetWriteDeadline(time.Now().Add(p.writeTimeout))
		_, err := p.c.nc.Write(buf)
		p.mu.Lock()
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 4096) // do not pin a huge value
		}
		p.spare = buf[:0]
		if err != nil {
			p.failLocked(err)
		}
	}
	p.wbuf = p.wbuf[:0]
	p.writing = false
	p.mu.Unlock()
}

// failLocked stops the pipe taking calls and closes its connection, which
// ends the reader; the reader fails the calls in flight.
func (p *pipe) failLocked(err error) {
	if p.err == nil || p.err == errPipeClosing {
		p.err = err
	}
	p.dead.Store(true)
	p.c.nc.Close()
}

// readLoop reads replies in order and finishes their calls until the pipe
// fails, closes, or retires.
//
// The read deadline is kept lazily, so that a busy pipe sets none per
// command: it may strike early, and then the loop re-arms it for the oldest
// call's due time (or, idle, for the end of IdleTimeout); send pulls it in
// only when it lies beyond the new call's due time.
func (p *pipe) readLoop() {
	defer close(p.done)
	defer p.node.pool.Put(p.res, false)
	for {
		// Block until a reply byte arrives, even with nothing in flight, so
		// a connection the server closed is noticed before anyone uses it.
		first, err := p.c.br.Peek(1)
		p.mu.Lock()
		if err != nil && isTimeout(err) && (p.err == nil || p.err == errPipeClosing) {
			now := time.Now()
			if p.head < len(p.queue) {
				if due := p.queue[p.head].due; now.Before(due) {
					p.armLocked(due) // struck early
					p.mu.Unlock()
					continue
				}
			} else {
				if p.idleTimeout > 0 && now.Sub(p.sent) >= p.idleTimeout {
					p.endLocked(errPipeRetired)
					return
				}
				p.armLocked(p.nextIdleCheck(now))
				p.mu.Unlock()
				continue
			}
		}
		if err == nil && p.head == len(p.queue) && first[0] == byte(resp.TypePush) {
			// A push with no command in flight (an invalidation, say):
			// it is no reply, and goes where pushes go.
			p.mu.Unlock()
			v, perr := p.c.rd.ReadPush()
			if perr == nil {
				p.onPush(v)
				continue
			}
			p.mu.Lock()
			err = perr
		}
		if err != nil || p.head == len(p.queue) {
			if err == nil {
				err = &resp.ProtocolError{Reason: "reply with no command in flight"}
			}
			p.endLocked(err)
			return
		}
		cl := p.queue[p.head]
		if p.armed.Before(cl.due) && time.Until(p.armed) < p.readTimeout/2 {
			// A deadline left from an earlier call must not strike in the
			// middle of this reply; far-off ones are left alone, so a busy
			// pipe rarely pays for the system call.
			p.armLocked(cl.due)
		}
		p.mu.Unlock()

		err = cl.read(p.c.rd)

		p.mu.Lock()
		if !resp.Usable(err) {
			p.endLocked(err) // fails cl and every call behind it
			return
		}
		p.queue[p.head] = nil
		p.head++
		p.served.Add(1)
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			var end error
			switch {
			case p.closing:
				end = ErrClosed
			case p.maxLifetime > 0 && time.Since(p.res.CreatedAt()) >= p.maxLifetime:
				end = errPipeRetired
			}
			if end != nil {
				p.endLocked(end)
				cl.finish(err)
				return
			}
		} else if p.head >= 64 && 2*p.head >= len(p.queue) {
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		p.mu.Unlock()
		cl.finish(err)
	}
}

// armLocked sets the connection's read deadline.
func (p *pipe) armLocked(t time.Time) {
	p.armed = t
	p.c.nc.SetReadDeadline(t)
}

// nextIdleCheck is when an idle pipe next looks whether IdleTimeout passed.
func (p *pipe) nextIdleCheck(now time.Time) time.Time {
	if p.idleTimeout > 0 {
		return p.sent.Add(p.idleTimeout)
	}
	return now.Add(time.Hour)
}

// endLocked fails the pipe with err (or the cause it already failed with),
// fails every call in flight, and releases p.mu.
func (p *pipe) endLocked(err error) {
	first := p.err == nil || p.err == errPipeClosing
	p.failLocked(err)
	err = p.err
	failed := p.queue[p.head:]
	p.queue, p.head = nil, 0
	p.mu.Unlock()
	for _, cl := range failed {
		cl.finish(err)
	}
	if first && err != errPipeRetired && err != ErrClosed {
		p.node.log.Warn("redisstore: connection failed", "addr", p.node.addr, "in flight", len(failed), "err", err)
	}
}

// close stops the pipe taking calls and ends it once the calls in flight are
// answered (within ReadTimeout), then waits for its reader to exit.
func (p *pipe) close() {
	p.mu.Lock()
	p.dead.Store(true)
	if p.err == nil {
		p.err = errPipeClosing
	}
	if p.head == len(p.queue) {
		p.endLocked(ErrClosed)
	} else {
		p.closing = true
		p.mu.Unlock()
	}
	<-p.done
}
