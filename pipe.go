package redisstore

import (
	"errors"
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
	idleTimeout  time.Duration // zero: never retire an idle pipe
	maxLifetime  time.Duration // zero: never retire an old pipe

	dead   atomic.Bool   // set when the pipe takes no more calls
	served atomic.Uint64 // replies read, so a failure of a used pipe is told from a new one's
	done   chan struct{} // closed when the reader goroutine has exited

	mu      sync.Mutex // protects following fields
	wbuf    []byte     // commands appended but not yet written
	spare   []byte     // the other write buffer, swapped with wbuf on each write
	queue   []*call    // calls whose replies are awaited, oldest at queue[head]
	head    int
	writing bool      // a caller is writing; others only append to wbuf
	due     time.Time // when the oldest reply in flight times out
	err     error     // why the pipe takes no more calls; nil while it does
	closing bool      // Close: end once the calls in flight are answered
}

// call is one command in flight. Calls are recycled through callPool; a call
// its caller gave up on is recycled by the pipe instead.
type call struct {
	cmd   command       // what was sent; cmd.buf receives a GET's value
	err   error         // the outcome
	done  chan struct{} // receives once the outcome is set, for a waiting caller
	state atomic.Int32  // callPending, callDone or callAbandoned
}

const (
	callPending int32 = iota
	callDone
	callAbandoned
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// errPipeClosing refuses new calls on a pipe that closes with the store.
var errPipeClosing = errors.New("redisstore: connection closing")

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

// recycle resets the call, keeping its reply buffer, and pools it.
func (cl *call) recycle() {
	buf := cl.cmd.buf
	if cap(buf) > 1<<20 {
		buf = nil // do not pin a huge reply
	}
	cl.cmd = command{buf: buf[:0]}
	cl.err = nil
	cl.state.Store(callPending)
	callPool.Put(cl)
}

// newPipe starts the reader of a pipe over the pooled connection res.
func newPipe(n *node, res *pool.Resource[*conn], cfg *config) *pipe {
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
	p.c.nc.SetReadDeadline(p.idleDeadline(time.Now()))
	go p.readLoop()
	return p
}

// send queues cmd and makes sure it gets written. The returned call's done
// channel receives when the reply has been read.
func (p *pipe) send(cmd *command) (*call, error) {
	cl := callPool.Get().(*call)
	buf := cl.cmd.buf
	cl.cmd = *cmd
	cl.cmd.buf = buf[:0]
	cl.cmd.value = nil // written below; not kept

	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		cl.recycle()
		return nil, err
	}
	p.wbuf = cmd.appendTo(p.wbuf)
	if p.head == len(p.queue) {
		// The first call in flight: its reply is due within ReadTimeout.
		p.due = time.Now().Add(p.readTimeout)
		p.c.nc.SetReadDeadline(p.due)
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

// flushLocked writes wbuf, again and again while callers keep appending to
// it. It is called with p.mu held and p.writing set, and returns with p.mu
// released and p.writing cleared.
func (p *pipe) flushLocked() {
	for len(p.wbuf) > 0 && p.err == nil {
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
func (p *pipe) readLoop() {
	defer close(p.done)
	defer p.node.pool.Put(p.res, false)
	for {
		// Block until a reply byte arrives, even with nothing in flight, so
		// a connection the server closed is noticed before anyone uses it.
		_, err := p.c.br.Peek(1)
		p.mu.Lock()
		if err != nil && p.head < len(p.queue) && isTimeout(err) && time.Now().Before(p.due) {
			// The idle deadline struck just as a call arrived and set a
			// later one: wait for its reply.
			p.mu.Unlock()
			continue
		}
		if err != nil || p.head == len(p.queue) {
			if err == nil {
				err = &resp.ProtocolError{Reason: "reply with no command in flight"}
			} else if p.head == len(p.queue) && isTimeout(err) && p.err == nil {
				err = errPipeRetired // idle for IdleTimeout
			}
			p.endLocked(err)
			return
		}
		cl := p.queue[p.head]
		p.mu.Unlock()

		err = cl.cmd.readReply(p.c.rd)

		p.mu.Lock()
		p.queue[p.head] = nil
		p.head++
		if !resp.Usable(err) {
			p.queue = append(p.queue[:0], cl) // fail it with the rest
			p.head = 0
			p.endLocked(err)
			return
		}
		p.served.Add(1)
		now := time.Now()
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			switch {
			case p.closing:
				p.endLocked(ErrClosed)
				cl.finish(err)
				return
			case p.maxLifetime > 0 && now.Sub(p.res.CreatedAt()) >= p.maxLifetime:
				p.endLocked(errPipeRetired)
				cl.finish(err)
				return
			}
			p.c.nc.SetReadDeadline(p.idleDeadline(now))
		} else {
			if p.head >= 64 && 2*p.head >= len(p.queue) {
				n := copy(p.queue, p.queue[p.head:])
				clear(p.queue[n:])
				p.queue, p.head = p.queue[:n], 0
			}
			p.due = now.Add(p.readTimeout)
			p.c.nc.SetReadDeadline(p.due)
		}
		p.mu.Unlock()
		cl.finish(err)
	}
}

// errPipeRetired ends a pipe that idled for IdleTimeout or lived for
// MaxLifetime; no call ever sees it.
var errPipeRetired = errors.New("redisstore: connection retired")

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

// idleDeadline is the read deadline while nothing is in flight.
func (p *pipe) idleDeadline(now time.Time) time.Time {
	if p.idleTimeout > 0 {
		return now.Add(p.idleTimeout)
	}
	return time.Time{}
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
