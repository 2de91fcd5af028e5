package client

import (
	"context"
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
// No caller waits for another's bytes: a caller writes inline only its own
// small batch, once, when no write is under way. What others append
// meanwhile, and any batch over bigBatch bytes (copied outside the lock into
// a segment of its own, so the lock is never held for a big copy), is
// written by the pipe's writer goroutine, started at the first such write
// and ended with the pipe; the caller meanwhile waits for its reply or the
// end of its context.
//
// An idle pipe sends PING every HealthCheckInterval, so a connection that
// died without a word (a silent partition, a server host gone) is found and
// closed within HealthCheckInterval + ReadTimeout, before a caller waits on
// it.
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
	healthEvery  time.Duration    // PING after this long idle; zero: never
	onPush       func(resp.Value) // Config.OnPush, or a no-op
	src          *Source          // the connection, as Config.Tracker sees it

	dead   atomic.Bool   // set when the pipe takes no more calls
	served atomic.Uint64 // replies read, so a failure of a used pipe is told from a new one's
	done   chan struct{} // closed when the reader goroutine has exited

	turn chan struct{} // one slot: held by the caller about to take mu in send

	mu      sync.Mutex // protects following fields
	pending [][]byte   // segments appended but not yet written, in order
	open    bool       // pending's last segment is a small buffer batches append to
	segs    [][]byte   // the other segment list, swapped with pending on each write
	free    [][]byte   // small buffers written, for reuse
	queue   []*call    // calls whose replies are awaited, oldest at queue[head]
	head    int
	writing bool          // a write is under way or handed to the writer; others only append
	kick    chan struct{} // wakes the writer goroutine; nil until it starts
	wdone   chan struct{} // closed when the writer goroutine has exited
	armed   time.Time     // the connection's read deadline
	sent    time.Time     // when the last caller's call was sent, for IdleTimeout
	active  time.Time     // when the last call, a health PING included, was sent
	err     error         // why the pipe takes no more calls; nil while it does
	closing bool          // Close: end once the calls in flight are answered
}

// call is one batch in flight. Calls are recycled through callPool; a call
// its caller gave up on is recycled by the pipe instead.
type call struct {
	n       int                // commands sent
	kinds   [MaxCmds]ReplyKind // how each reply is read
	idx     [MaxCmds]uint8     // the batch's index of each command sent
	asking  bool               // each command follows an ASKING
	hook    ReplyHook          // the batch's, when the call sends all of it
	replies [MaxCmds]Reply     // read by the pipe; Bulk buffers are reused
	err     error              // the pipe's failure, if any
	due     time.Time          // when the reply is overdue: sent + ReadTimeout
	token   chan struct{}      // a turn of node.bigToken, given back by finish
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
	cl.giveBack()
	if cl.state.CompareAndSwap(callPending, callDone) {
		cl.done <- struct{}{}
		return
	}
	cl.recycle()
}

// giveBack returns the call's turn to send a big batch, if it holds one.
func (cl *call) giveBack() {
	if cl.token != nil {
		<-cl.token
		cl.token = nil
	}
}

// recycle resets the call, keeping its reply buffers, and pools it.
func (cl *call) recycle() {
	for i := range cl.n {
		cl.replies[i].reset()
	}
	cl.n, cl.asking, cl.err, cl.hook = 0, false, nil, nil
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
		healthEvery:  max(cfg.HealthCheckInterval, 0),
		done:         make(chan struct{}),
		turn:         make(chan struct{}, 1),
		queue:        make([]*call, 0, 64),
	}
	p.onPush = cfg.OnPush
	if p.onPush == nil {
		p.onPush = func(resp.Value) {}
	}
	p.src = NewSource(p.c.tracking)
	p.c.rd.SetPushHandler(p.push) // pushes that come between replies
	p.sent = time.Now()
	p.active = p.sent
	p.armLocked(p.nextIdleCheck(p.sent))
	go p.readLoop()
	return p
}

// Write buffers.
const (
	// bigBatch is the size from which a batch is a segment of its own
	// (its buffer, or a copy made outside the pipe's lock), written by the
	// writer goroutine rather than by its caller. Batch.release never
	// pools a buffer this big, so the pipe may write it after its caller
	// returned.
	bigBatch = maxPooledBatch
	// maxKeptBuffer is the largest small write buffer kept for reuse.
	maxKeptBuffer = 1 << 20
	// maxFreeBuffers bounds the small write buffers kept for reuse.
	maxFreeBuffers = 4
)

// send queues the commands of b and makes sure they get written. The
// returned call's done channel receives when the replies have been read.
// The call gives token back (see node.bigToken), also when send fails.
// A caller that must wait for its turn at the pipe (many callers at once)
// gives up when ctx ends, its commands unwritten.
func (p *pipe) send(ctx context.Context, b *Batch, asking bool, token chan struct{}) (*call, error) {
	cl := callPool.Get().(*call)
	cl.asking, cl.token = asking, token
	if b.done == 0 {
		cl.hook = b.Hook
	}
	size := 0
	for i := range b.n {
		if b.done&(1<<i) == 0 {
			cl.kinds[cl.n], cl.idx[cl.n] = b.cmds[i].kind, uint8(i)
			cl.n++
			size += b.cmds[i].end - b.cmds[i].start
		}
	}
	var seg []byte
	switch {
	case size <= bigBatch:
	case !asking && b.done == 0:
		seg = b.buf // shared, not copied: a buffer this big is never reused (Batch.release)
	default:
		if asking {
			size += cl.n * len(askingCmd)
		}
		seg = appendBatch(make([]byte, 0, size), b, cl, asking)
	}

	ping := token == pingToken
	if ping {
		cl.token = nil
	}
	now := time.Now() // before the lock, which many callers may want at once
	cl.due = now.Add(p.readTimeout)

	select {
	case p.turn <- struct{}{}:
	default:
		if err := p.waitTurn(ctx); err != nil {
			cl.giveBack()
			cl.recycle()
			return nil, err
		}
	}
	p.mu.Lock()
	<-p.turn // p.mu now keeps the others out
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		cl.giveBack()
		cl.recycle()
		return nil, err
	}
	if seg != nil {
		p.pending = append(p.pending, seg)
		p.open = false
	} else {
		if !p.open {
			p.pending = append(p.pending, p.smallBufferLocked())
			p.open = true
		}
		last := len(p.pending) - 1
		p.pending[last] = appendBatch(p.pending[last], b, cl, asking)
	}
	p.active = now
	if !ping {
		p.sent = now
	}
	if cl.due.Before(p.armed) {
		p.armLocked(cl.due)
	}
	p.queue = append(p.queue, cl)
	switch {
	case p.writing:
		p.mu.Unlock()
	case seg != nil:
		p.writing = true
		p.kickLocked()
		p.mu.Unlock()
	default:
		p.writing = true
		p.writeOnceLocked()
	}
	return cl, nil
}

// waitTurn waits for the turn to queue a call, or for the end of ctx.
// Callers queue one at a time (the turn, then p.mu): a sync.Mutex that a
// thousand callers want hands itself over in FIFO order, and a caller
// waiting for it could not give up when its context ended.
func (p *pipe) waitTurn(ctx context.Context) error {
	done := ctx.Done()
	if done == nil {
		p.turn <- struct{}{}
		return nil
	}
	select {
	case p.turn <- struct{}{}:
		return nil
	case <-done:
		return ctx.Err()
	}
}

// appendBatch appends the commands of b that cl sends, each after ASKING
// when asking.
func appendBatch(dst []byte, b *Batch, cl *call, asking bool) []byte {
	if !asking && b.done == 0 {
		return append(dst, b.buf...)
	}
	for _, i := range cl.idx[:cl.n] {
		if asking {
			dst = append(dst, askingCmd...)
		}
		dst = append(dst, b.buf[b.cmds[i].start:b.cmds[i].end]...)
	}
	return dst
}

// askingCmd is ASKING in RESP.
const askingCmd = "*1\r\n$6\r\nASKING\r\n"

// smallBufferLocked returns an empty buffer for small batches.
func (p *pipe) smallBufferLocked() []byte {
	if n := len(p.free); n > 0 {
		buf := p.free[n-1]
		p.free = p.free[:n-1]
		return buf
	}
	return make([]byte, 0, 4096)
}

// writeOnceLocked writes what is pending, the caller's own small batch, and
// hands what others appended meanwhile to the writer goroutine. It is
// called with p.mu held and p.writing set, and releases p.mu.
func (p *pipe) writeOnceLocked() {
	p.writeLocked()
	if p.err != nil && p.err != errPipeClosing {
		p.recycleLocked(p.pending) // failed: nothing more is written
		p.pending, p.open = p.pending[:0], false
	}
	if len(p.pending) > 0 {
		p.kickLocked() // p.writing stays set: the writer clears it
	} else {
		p.writing = false
	}
	p.mu.Unlock()
}

// writeLocked writes the pending segments, releasing p.mu during the write.
// A closing pipe still writes what its calls in flight appended; a failed
// one drops it.
func (p *pipe) writeLocked() {
	if p.err != nil && p.err != errPipeClosing {
		p.recycleLocked(p.pending)
		p.pending, p.open = p.pending[:0], false
		return
	}
	segs := p.pending
	p.pending, p.segs, p.open = p.segs[:0], nil, false
	p.mu.Unlock()
	p.c.nc.SetWriteDeadline(time.Now().Add(p.writeTimeout))
	var err error
	for _, seg := range segs { // a segment is a big batch or many small ones: not worth a writev
		if _, err = p.c.nc.Write(seg); err != nil {
			break
		}
	}
	p.mu.Lock()
	p.recycleLocked(segs)
	p.segs = segs[:0]
	if err != nil {
		p.failLocked(err)
	}
}

// recycleLocked keeps the small buffers among segs for reuse. A segment
// over bigBatch may be a batch's own buffer, which its caller still owns
// (to send it again after LOADING, say): it is never reused here.
func (p *pipe) recycleLocked(segs [][]byte) {
	for i, seg := range segs {
		if len(seg) <= bigBatch && cap(seg) <= maxKeptBuffer && len(p.free) < maxFreeBuffers {
			p.free = append(p.free, seg[:0])
		}
		segs[i] = nil
	}
}

// kickLocked wakes the writer goroutine, starting it on first use.
func (p *pipe) kickLocked() {
	if p.kick == nil {
		p.kick, p.wdone = make(chan struct{}, 1), make(chan struct{})
		go p.writeLoop()
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// writeLoop writes what callers handed over until the pipe's reader exits.
func (p *pipe) writeLoop() {
	defer close(p.wdone)
	for {
		select {
		case <-p.kick:
		case <-p.done:
			return
		}
		p.mu.Lock()
		for len(p.pending) > 0 {
			p.writeLocked()
		}
		p.writing = false
		p.mu.Unlock()
	}
}

// failLocked stops the pipe taking calls and closes its connection, which
// ends the reader; the reader fails the calls in flight.
func (p *pipe) failLocked(err error) {
	if p.err == nil || p.err == errPipeClosing {
		p.err = err
	}
	p.dead.Store(true)
	p.src.live.Store(false)
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
				if p.healthEvery > 0 && now.Sub(p.active) >= p.healthEvery && p.err == nil {
					p.mu.Unlock()
					p.ping() // its reply, or its absence, is read like any other
					continue
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
				p.push(v)
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
		if p.armed.Before(cl.due) {
			// A deadline left from an earlier call must not strike in the
			// middle of this reply: a reply cut there cannot be resumed.
			p.armLocked(cl.due)
		}
		p.mu.Unlock()

		err = cl.read(p.c.rd)
		if err == nil && cl.hook != nil {
			cl.hook.Replied(p.src, cl.replies[:cl.n])
		}

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
			if check := p.active.Add(p.healthEvery); p.healthEvery > 0 && check.Before(p.armed) {
				// The deadline left is the last call's due time: a
				// health check due before it (HealthCheckInterval under
				// ReadTimeout) must not wait for it.
				p.armLocked(check)
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

// nextIdleCheck is when an idle pipe next looks whether IdleTimeout passed
// or a health check is due.
func (p *pipe) nextIdleCheck(now time.Time) time.Time {
	next := now.Add(time.Hour)
	if p.idleTimeout > 0 {
		next = p.sent.Add(p.idleTimeout)
	}
	if p.healthEvery > 0 {
		if t := p.active.Add(p.healthEvery); t.Before(next) {
			next = t
		}
	}
	return next
}

// pingToken marks the health check's call to send: it holds no turn, and
// leaves the time IdleTimeout counts from alone.
var pingToken = make(chan struct{})

// ping sends PING on an idle pipe and forgets the call: its reply is read
// and dropped, and when none comes within ReadTimeout the pipe fails like
// for any overdue reply.
func (p *pipe) ping() {
	var b Batch
	b.Add(ReplyAny, "PING")
	cl, err := p.send(context.Background(), &b, false, pingToken)
	b.release()
	if err == nil {
		cl.state.CompareAndSwap(callPending, callAbandoned) // only this goroutine finishes it
	}
	p.node.stats.healthChecks.Add(1)
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
	if t := p.node.cfg.Tracker; t != nil {
		t.Forget(p.src) // failLocked ended src
	}
	for _, cl := range failed {
		cl.finish(err)
	}
	if first && err != errPipeRetired && err != ErrClosed {
		p.node.log.Warn("redisstore: connection failed", "addr", p.node.addr, "in flight", len(failed), "err", err)
	}
}

// beginClose stops the pipe taking calls; it ends once the calls in flight
// are answered (within ReadTimeout). wait waits for that.
func (p *pipe) beginClose() {
	p.mu.Lock()
	p.dead.Store(true)
	p.src.live.Store(false) // what it read may be stale before its last reply is read
	if p.err == nil {
		p.err = errPipeClosing
	}
	if p.head == len(p.queue) {
		p.endLocked(ErrClosed)
	} else {
		p.closing = true
		p.mu.Unlock()
	}
}

// wait waits until the pipe has ended and its goroutines have exited.
func (p *pipe) wait() {
	<-p.done
	p.mu.Lock()
	wdone := p.wdone
	p.mu.Unlock()
	if wdone != nil {
		<-wdone
	}
}
