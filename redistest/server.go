package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// Config configures a Server. The zero value is a server without
// authentication.
type Config struct {
	// Password, when set, is required before any command but HELLO, AUTH
	// and QUIT: AUTH password, AUTH default password, or HELLO ... AUTH
	// default password. Zero: no authentication.
	Password string
	// Username is a further ACL user accepted with Password (AUTH Username
	// Password). Zero: only the default user.
	Username string
}

// Server is an in-process RESP server on a 127.0.0.1 port. Its methods are
// safe for concurrent use.
type Server struct {
	cfg  Config
	ln   net.Listener
	done chan struct{} // closed by Close; wakes delayed replies
	wg   sync.WaitGroup

	mu       sync.Mutex // protects following fields
	closed   bool
	rules    []*Rule
	fired    map[*Rule]int // how often each rule with Times fired
	counts   map[string]int64
	commands int64
	conns    map[int64]*serverConn
	nextID   int64
	peak     int
	dbs      map[int]map[string]entry
}

// Stats describes a Server's connections and commands since it started.
type Stats struct {
	// Accepted counts the connections accepted.
	Accepted int64
	// Open is the number of connections open now.
	Open int
	// PeakOpen is the largest number of connections open at once.
	PeakOpen int
	// Commands counts the commands received, matched by a rule or not.
	Commands int64
}

// ConnInfo describes one open connection.
type ConnInfo struct {
	// ID numbers the connection from 1 in order of acceptance, like Redis's
	// CLIENT ID.
	ID int64
	// RemoteAddr is the client's address.
	RemoteAddr string
	// Name is the name set with CLIENT SETNAME or HELLO SETNAME.
	Name string
	// Protocol is 2 or 3, as negotiated with HELLO.
	Protocol int
	// DB is the selected database.
	DB int
	// Commands counts the commands received on the connection.
	Commands int64
}

// NewServer starts a Server on a free 127.0.0.1 port. Close stops it.
func NewServer(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: listen: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		ln:     ln,
		done:   make(chan struct{}),
		fired:  make(map[*Rule]int),
		counts: make(map[string]int64),
		conns:  make(map[int64]*serverConn),
		dbs:    make(map[int]map[string]entry),
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Start is NewServer for tests: it fails tb when the server cannot start and
// closes the server in tb.Cleanup.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes every connection, cuts delayed replies short
// and waits until every goroutine of the server has exited. Close is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.done)
	for _, c := range s.conns {
		c.kill()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// accept serves each new connection on its own goroutine until Close.
func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.done:
				return
			case <-time.After(5 * time.Millisecond): // e.g. EMFILE: retry
				continue
			}
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.nextID++
		c := &serverConn{srv: s, nc: nc, id: s.nextID, proto: 2, closed: make(chan struct{}), killed: make(chan struct{})}
		s.conns[c.id] = c
		s.peak = max(s.peak, len(s.conns))
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Stats returns the server's connection and command counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Accepted: s.nextID, Open: len(s.conns), PeakOpen: s.peak, Commands: s.commands}
}

// Count returns how many commands named name (any case) the server
// received, whether a rule matched them or not.
func (s *Server) Count(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[strings.ToUpper(name)]
}

// Counts returns the number of commands received by upper-case name.
func (s *Server) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// ResetCounts sets every command count, Stats.Commands and
// Stats.PeakOpen (to the connections open now) back.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.commands = 0
	s.peak = len(s.conns)
}

// Conns describes the open connections, oldest first.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnInfo, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, ConnInfo{ID: c.id, RemoteAddr: c.nc.RemoteAddr().String(), Name: c.name, Protocol: c.proto, DB: c.db, Commands: c.commands})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CloseConns closes every open connection, as a server restart or CLIENT
// KILL would, and returns how many it closed. The server keeps accepting.
func (s *Server) CloseConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.kill()
	}
	return len(s.conns)
}

// CloseConn closes the connection with the given ID and reports whether it
// was open.
func (s *Server) CloseConn(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[id]
	if ok {
		c.kill()
	}
	return ok
}

// serverConn is one client connection. Only its goroutine touches the
// fields below nc and id, under srv.mu where Conns reads them.
type serverConn struct {
	srv    *Server
	nc     net.Conn
	id     int64
	closed chan struct{} // closed when serve returns
	killed chan struct{} // closed by kill: a delayed reply stops waiting
	once   sync.Once

	authed   bool
	proto    int
	db       int
	name     string
	commands int64
}

// kill closes the connection from the server's side, also while a reply
// is held back.
func (c *serverConn) kill() {
	c.once.Do(func() {
		close(c.killed)
		c.nc.Close()
	})
}

// serve reads commands and answers them in order until the connection ends.
// Replies are buffered and flushed when no further pipelined command is
// waiting, so a pipeline is answered in few writes.
func (c *serverConn) serve() {
	s := c.srv
	defer s.wg.Done()
	defer func() {
		c.nc.Close()
		close(c.closed)
		s.mu.Lock()
		delete(s.conns, c.id)
		s.mu.Unlock()
	}()
	c.authed = s.cfg.Password == ""
	br := bufio.NewReader(c.nc)
	rd := resp.NewReader(br, resp.Limits{MaxBulkLen: 64 << 20, MaxElements: 1 << 16, MaxDepth: 4})
	bw := bufio.NewWriter(c.nc)
	for {
		v, err := rd.ReadValue()
		if err != nil {
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				bw.WriteString("-ERR Protocol error: " + pe.Reason + "\r\n")
				bw.Flush()
			}
			return
		}
		args, ok := commandArgs(v)
		if !ok {
			bw.WriteString("-ERR Protocol error: expected an array of bulk strings\r\n")
			bw.Flush()
			return
		}
		name := strings.ToUpper(args[0])
		rule := s.match(c, name, args)
		if rule == nil {
			reply, quit := c.exec(name, args)
			bw.WriteString(reply)
			if quit {
				bw.Flush()
				return
			}
		} else if !c.apply(rule, br, bw, name, args) {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// wait holds a reply back for d and reports whether the connection is
// still usable: the server closing, the connection being killed, or the
// client hanging up ends the wait early. The client's hang-up is seen by
// peeking at br while serve does not read it.
func (c *serverConn) wait(d time.Duration, br *bufio.Reader) bool {
	hungUp := make(chan struct{})
	peeked := make(chan struct{})
	go func() {
		defer close(peeked)
		if _, err := br.Peek(1); err != nil && !isTimeout(err) {
			close(hungUp)
		}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	ok := false
	select {
	case <-t.C:
		ok = true
	case <-hungUp:
	case <-c.killed:
	case <-c.srv.done:
	}
	c.nc.SetReadDeadline(time.Now()) // ends a Peek still waiting
	<-peeked
	c.nc.SetReadDeadline(time.Time{})
	select {
	case <-hungUp:
		return false
	default:
		return ok
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// apply carries out rule for a command and reports whether the connection
// stays open.
func (c *serverConn) apply(r *Rule, br *bufio.Reader, bw *bufio.Writer, name string, args []string) bool {
	if r.Delay > 0 {
		// Replies before this one were sent when Redis was not yet stuck.
		if bw.Flush() != nil || !c.wait(r.Delay, br) {
			return false
		}
	}
	switch {
	case r.Reset:
		bw.Flush()
		if tc, ok := c.nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		return false
	case r.Drop:
		bw.Flush()
		return false
	}
	reply := r.Reply
	if reply == "" {
		var quit bool
		reply, quit = c.exec(name, args)
		if quit {
			bw.WriteString(reply)
			bw.Flush()
			return false
		}
	}
	if r.Truncate > 0 {
		if r.Truncate < len(reply) {
			reply = reply[:r.Truncate]
		}
		bw.WriteString(reply)
		bw.Flush()
		return false
	}
	bw.WriteString(reply)
	if r.CloseAfter {
		bw.Flush()
		return false
	}
	return true
}

// commandArgs returns the strings of a command: a non-empty array of bulk
// strings.
func commandArgs(v resp.Value) ([]string, bool) {
	if v.Type != resp.TypeArray || v.Null || len(v.Elems) == 0 {
		return nil, false
	}
	args := make([]string, len(v.Elems))
	for i, e := range v.Elems {
		if e.Type != resp.TypeBulkString || e.Null {
			return nil, false
		}
		args[i] = e.Str
	}
	return args, true
}
