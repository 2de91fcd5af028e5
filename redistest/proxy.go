package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxQueued bounds the bytes a Proxy holds per direction of a connection,
// like a TCP window: a reader stops reading (and the kernel's buffers then
// fill and block the sender) while its writer has that much to deliver.
const maxQueued = 4 << 20

// Proxy forwards the TCP connections it accepts on a loopback port to a
// target address, a real redis-server or a Server, and simulates the
// network in between: a one-way delay (SetDelay), a silent partition
// (Partition, Heal) and connection resets (Reset). Its methods are safe for
// concurrent use.
//
// Each accepted connection dials the target (once no partition holds it)
// and is served by a reader and a writer goroutine per direction. The
// reader stamps every chunk it reads with its arrival time and queues it;
// the writer delivers each chunk in order at its arrival plus the delay, so
// pipelined bytes travel together and are not serialised behind each
// other's delays. During a partition readers stop reading, so the bytes a
// sender writes meanwhile wait in the kernel's buffers (at most a chunk per
// direction that was already being read waits in the writer's queue), and
// writers stop writing; both wait on a channel that Heal closes, not in a
// loop. An end of stream travels like data: an EOF from one side becomes a
// half-close (FIN) of the other after the delay, an error such as a reset
// becomes a reset of the other. A connection ends when both directions
// have ended, or by Reset or Close.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // canceled by Close; the parent of every connection's ctx
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection's run

	accepted   atomic.Int64
	toServer   atomic.Int64
	toClient   atomic.Int64
	dialErrors atomic.Int64

	mu       sync.Mutex // protects following fields
	closed   bool
	conns    map[*proxyConn]struct{}
	delay    time.Duration
	delayed  chan struct{} // closed and replaced by SetDelay: writers recompute
	healed   chan struct{} // non-nil during a partition; closed by Heal
	lastHeal time.Time     // when the last partition ended
}

// ProxyStats describes a Proxy's connections and traffic since it started.
type ProxyStats struct {
	// Accepted counts the client connections accepted.
	Accepted int64
	// Open is the number of client connections not yet ended.
	Open int64
	// BytesToServer counts the bytes delivered from clients to the target.
	BytesToServer int64
	// BytesToClient counts the bytes delivered from the target to clients.
	BytesToClient int64
	// DialErrors counts the connections whose dial to the target failed;
	// their clients were reset.
	DialErrors int64
}

// NewProxy starts a Proxy to target ("host:port") on a free 127.0.0.1
// port. Close stops it. The target is dialed for each connection the proxy
// accepts, not here.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:  target,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		conns:   make(map[*proxyConn]struct{}),
		delayed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// StartProxy is NewProxy for tests: it fails tb when the proxy cannot start
// and closes the proxy in tb.Cleanup.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := NewProxy(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// Addr returns the proxy's "127.0.0.1:port", for clients to dial instead
// of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay sets a fixed one-way delay added in each direction, so a round
// trip takes at least 2*d more; zero, the default, forwards at once. Every
// chunk of bytes is delivered at its arrival plus d, in order, so the delay
// does not limit throughput (up to 4 MiB in flight per direction, like a
// TCP window). The new delay applies at once, also to bytes already held.
//
// Bytes are never delivered early, but late by the granularity of Go's
// timers: on Linux the runtime waits for them in epoll, with millisecond
// resolution. Measured on a 2-core VM with Go 1.26, a 100 µs timer fires
// after 1.10 ms (median; 90% by 1.15 ms, 99% by 2 ms), a 1 ms timer after
// 1.11 ms, a 2 ms timer after 2.2 ms (99% by 4 ms); a PING round trip
// through the proxy took 60 µs (median) without delay, 2.3 ms with a delay
// of 100 µs or 1 ms, and 4.5 ms (99% by 6.2 ms) with 2 ms. So a delay
// under 1 ms acts as about 1 ms while the process is idle (it can be more
// precise while the process is busy), and a delay of d ms as d+0.1 to
// d+0.3 ms. The proxy does not spin to do better: closing a 1 ms gap would
// mean spinning for up to 1 ms per chunk.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
	close(p.delayed)
	p.delayed = make(chan struct{})
}

// Partition starts a silent partition: from now on nothing is forwarded in
// either direction, and no FIN or RST is sent, on every connection,
// including those accepted during the partition (the kernel completes the
// handshake, so a client's dial succeeds, but the target is not dialed
// until Heal, so a HELLO hangs). Bytes written meanwhile are held, not
// dropped, as TCP's retransmissions would deliver them late. Partitioning
// a partitioned proxy changes nothing.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.healed == nil {
		p.healed = make(chan struct{})
	}
}

// Heal ends a partition: forwarding resumes on every connection, and the
// bytes held flow in order, each delay after the heal. A connection whose
// client or server side closed or reset meanwhile is then closed or reset
// on the other side too. Healing a proxy without a partition changes
// nothing.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.healed != nil {
		close(p.healed)
		p.healed = nil
		p.lastHeal = time.Now()
	}
}

// Reset closes every current connection with an RST (SO_LINGER 0) on both
// its client and its server side, as a stateful middlebox that lost its
// state would, and returns how many it closed. The proxy keeps accepting.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if c.kill(true) {
			n++
		}
	}
	return n
}

// Close stops accepting, closes every connection on both sides, also
// during a partition, and waits until every goroutine of the proxy has
// exited. Close is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	p.cancel()
	for c := range p.conns {
		c.kill(false)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Stats returns the proxy's connection and byte counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	open := int64(len(p.conns))
	p.mu.Unlock()
	return ProxyStats{
		Accepted:      p.accepted.Load(),
		Open:          open,
		BytesToServer: p.toServer.Load(),
		BytesToClient: p.toClient.Load(),
		DialErrors:    p.dialErrors.Load(),
	}
}

// accept starts a connection for each client until Close.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond): // e.g. EMFILE: retry
				continue
			}
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		c := &proxyConn{p: p, client: nc}
		c.ctx, c.cancel = context.WithCancel(p.ctx)
		p.conns[c] = struct{}{}
		p.accepted.Add(1)
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run()
	}
}

// waitHealed returns at once without a partition; during one it waits for
// Heal and reports false if ctx ends first.
func (p *Proxy) waitHealed(ctx context.Context) bool {
	for {
		p.mu.Lock()
		healed := p.healed
		p.mu.Unlock()
		if healed == nil {
			return true
		}
		select {
		case <-healed:
		case <-ctx.Done():
			return false
		}
	}
}

// proxyConn is one client connection and its connection to the target.
type proxyConn struct {
	p      *Proxy
	client net.Conn
	ctx    context.Context // canceled by kill: every wait of the connection ends
	cancel context.CancelFunc

	mu     sync.Mutex // protects following fields
	server net.Conn   // nil until dialed
	killed bool
}

// kill closes both sides, with an RST if rst, and reports whether the
// connection was not already killed.
func (c *proxyConn) kill(rst bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed {
		return false
	}
	c.killed = true
	c.cancel()
	for _, nc := range []net.Conn{c.client, c.server} {
		if nc == nil {
			continue
		}
		if rst {
			setLingerZero(nc)
		}
		nc.Close()
	}
	return true
}

// run dials the target once no partition holds the connection, forwards
// both directions until both have ended, then closes both sides.
func (c *proxyConn) run() {
	p := c.p
	defer p.wg.Done()
	defer func() {
		c.kill(false)
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if !p.waitHealed(c.ctx) {
		return
	}
	var d net.Dialer
	server, err := d.DialContext(c.ctx, "tcp", p.target)
	if err != nil {
		if c.ctx.Err() == nil {
			p.dialErrors.Add(1)
			c.kill(true) // as a refused SYN would
		}
		return
	}
	c.mu.Lock()
	if c.killed {
		c.mu.Unlock()
		server.Close()
		return
	}
	c.server = server
	c.mu.Unlock()

	up := newFlow(c, c.client, server, &p.toServer)
	down := newFlow(c, server, c.client, &p.toClient)
	var readers, writers sync.WaitGroup
	for _, f := range []*flow{up, down} {
		readers.Go(f.read)
		writers.Go(f.write)
	}
	writers.Wait()
	c.kill(false) // ends a reader still waiting for bytes
	readers.Wait()
}

// An end says how a stream ended: not (a data chunk), by EOF or otherwise.
type end int

const (
	endNone  end = iota // a chunk of data
	endEOF              // the source half-closed: half-close the destination
	endReset            // the source failed or was reset: reset the destination
)

// chunk is bytes read from a source, or its end, with the arrival time.
type chunk struct {
	b   []byte
	at  time.Time
	end end
}

// flow is one direction of a connection: src's bytes go to dst.
type flow struct {
	c        *proxyConn
	src, dst net.Conn
	count    *atomic.Int64 // bytes delivered, in Proxy
	ready    chan struct{} // one slot: the queue got a chunk
	space    chan struct{} // one slot: the queue shrank

	mu     sync.Mutex // protects following fields
	queue  []chunk
	queued int // bytes in queue
}

func newFlow(c *proxyConn, src, dst net.Conn, count *atomic.Int64) *flow {
	return &flow{c: c, src: src, dst: dst, count: count,
		ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// signal wakes the goroutine waiting on ch, if any, without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// read queues src's bytes, stamped with their arrival, until src ends. It
// does not read during a partition nor while the queue is full.
func (f *flow) read() {
	ctx := f.c.ctx
	buf := make([]byte, 32<<10)
	for {
		if !f.c.p.waitHealed(ctx) || !f.waitSpace() {
			return
		}
		n, err := f.src.Read(buf)
		if n > 0 {
			f.push(chunk{b: append([]byte(nil), buf[:n]...), at: time.Now()})
		}
		if err != nil {
			if ctx.Err() != nil {
				return // killed: nothing more to deliver
			}
			e := endReset
			if errors.Is(err, io.EOF) {
				e = endEOF
			}
			f.push(chunk{at: time.Now(), end: e})
			return
		}
	}
}

// waitSpace waits until the queue holds less than maxQueued bytes and
// reports false if the connection was killed first.
func (f *flow) waitSpace() bool {
	for {
		f.mu.Lock()
		full := f.queued >= maxQueued
		f.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-f.space:
		case <-f.c.ctx.Done():
			return false
		}
	}
}

func (f *flow) push(ch chunk) {
	f.mu.Lock()
	f.queue = append(f.queue, ch)
	f.queued += len(ch.b)
	f.mu.Unlock()
	signal(f.ready)
}

// pop waits for the oldest chunk and reports false if the connection was
// killed first.
func (f *flow) pop() (chunk, bool) {
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			ch := f.queue[0]
			f.queue[0] = chunk{}
			f.queue = f.queue[1:]
			f.queued -= len(ch.b)
			f.mu.Unlock()
			signal(f.space)
			return ch, true
		}
		f.mu.Unlock()
		select {
		case <-f.ready:
		case <-f.c.ctx.Done():
			return chunk{}, false
		}
	}
}

// write delivers the queued chunks to dst in order, each when it is due
// and no partition holds it, until the end of the stream. After a failed
// write, data is dropped: the other direction carries the failure back.
func (f *flow) write() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	failed := false
	for {
		ch, ok := f.pop()
		if !ok || !f.due(ch.at, t) {
			return
		}
		switch ch.end {
		case endNone:
			if !failed {
				n, err := f.dst.Write(ch.b)
				f.count.Add(int64(n))
				failed = err != nil
			}
			continue
		case endEOF:
			if cw, ok := f.dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				f.dst.Close()
			}
		case endReset:
			setLingerZero(f.dst)
			f.dst.Close()
		}
		return
	}
}

// due waits until a chunk that arrived at at may be delivered: no partition
// holds it and the delay since its arrival, or since the partition that
// held it healed, has passed. It reports false if the connection was
// killed first.
func (f *flow) due(at time.Time, t *time.Timer) bool {
	p := f.c.p
	for {
		if !p.waitHealed(f.c.ctx) {
			return false
		}
		p.mu.Lock()
		delay, delayed := p.delay, p.delayed
		if at.Before(p.lastHeal) {
			at = p.lastHeal // held by a partition: sent again after it
		}
		p.mu.Unlock()
		wait := time.Until(at.Add(delay))
		if wait <= 0 {
			return true
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-delayed:
			t.Stop()
		case <-f.c.ctx.Done():
			return false
		}
		// Loop: a partition may have begun, or the delay changed.
	}
}

// setLingerZero makes Close send an RST instead of a FIN.
func setLingerZero(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}
