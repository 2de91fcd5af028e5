package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// conn is one connection to a Redis server. It is used by one goroutine at a
// time (the pool hands it out), so its fields need no lock.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	rd   *resp.Reader
	wbuf []byte // command being written, reused
	rbuf []byte // last bulk reply, reused

	readTimeout  time.Duration
	writeTimeout time.Duration

	// used is set after the first command, so a failure on a connection
	// that served before (and may have been closed by the server while
	// idle) is told from a failure on a new one.
	used bool
	// broken is set when the stream may be out of sync: the connection must
	// be closed, never reused.
	broken bool
	// tracking is set when CLIENT TRACKING is on; untracked says why not,
	// when it was asked for.
	tracking  bool
	untracked error
}

// dial connects to addr and performs the handshake, all within DialTimeout
// and the caller's context; with track, it turns CLIENT TRACKING on (see
// conn.track). Only the caller's context ending makes the error a context
// error; DialTimeout striking is a network timeout.
func dial(caller context.Context, cfg *Config, network, addr string, track bool) (*conn, error) {
	ctx, cancel := context.WithTimeout(caller, cfg.DialTimeout)
	defer cancel()
	fail := func(stage string, err error) (*conn, error) {
		if cerr := caller.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err) // net reports it as an i/o timeout
		}
		return nil, fmt.Errorf("redisstore: %s %s: %w", stage, addr, err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fail("dial", err)
	}
	if cfg.TLSConfig != nil {
		tc := cfg.TLSConfig
		if tc.ServerName == "" && network == "tcp" {
			tc = tc.Clone()
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return fail("TLS handshake with", err)
		}
		nc = tlsConn
	}
	c := newConn(nc, cfg)
	dl, _ := ctx.Deadline() // always set: DialTimeout
	nc.SetDeadline(dl)
	stop := context.AfterFunc(caller, func() { nc.SetDeadline(aLongTimeAgo) })
	err = c.handshake(cfg, track)
	if !stop() && err == nil {
		err = caller.Err() // gave up as the handshake ended; the deadline was poked
	}
	if err != nil {
		nc.Close()
		return fail("handshake with", redactReply(err, cfg.Password))
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// aLongTimeAgo is a deadline in the past, to abort blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

func newConn(nc net.Conn, cfg *Config) *conn {
	br := bufio.NewReaderSize(nc, 4096)
	return &conn{
		nc:           nc,
		br:           br,
		rd:           resp.NewReader(br, resp.Limits{}),
		wbuf:         make([]byte, 0, 1024),
		readTimeout:  cfg.ReadTimeout,
		writeTimeout: cfg.WriteTimeout,
	}
}

// handshake negotiates the protocol, authenticates, selects the database
// and, with track, turns tracking on.
func (c *conn) handshake(cfg *Config, track bool) error {
	resp3 := false
	if cfg.Protocol != 2 {
		err := c.hello(cfg)
		switch {
		case err == nil:
			resp3 = true
		case cfg.Protocol == 0 && noHello(err):
			// A server without HELLO (Redis < 6) or without RESP3.
		default:
			return err
		}
	}
	if !resp3 && cfg.Password != "" {
		if cfg.Username != "" {
			c.wbuf = resp.AppendCommand(c.wbuf[:0], "AUTH", cfg.Username, cfg.Password)
		} else {
			c.wbuf = resp.AppendCommand(c.wbuf[:0], "AUTH", cfg.Password)
		}
		if err := c.roundTripOK(); err != nil {
			return err
		}
	}
	if cfg.DB != 0 {
		c.wbuf = resp.AppendArray(c.wbuf[:0], 2)
		c.wbuf = resp.AppendBulkString(c.wbuf, "SELECT")
		c.wbuf = resp.AppendBulkInt(c.wbuf, int64(cfg.DB))
		if err := c.roundTripOK(); err != nil {
			return err
		}
	}
	if track {
		return c.track(resp3)
	}
	return nil
}

// hello sends HELLO 3 with AUTH and SETNAME as configured.
func (c *conn) hello(cfg *Config) error {
	n := 2
	if cfg.Password != "" {
		n += 3
	}
	if cfg.ClientName != "" {
		n += 2
	}
	c.wbuf = resp.AppendArray(c.wbuf[:0], n)
	c.wbuf = resp.AppendBulkString(c.wbuf, "HELLO")
	c.wbuf = resp.AppendBulkString(c.wbuf, "3")
	if cfg.Password != "" {
		user := cfg.Username
		if user == "" {
			user = "default"
		}
		c.wbuf = resp.AppendBulkString(c.wbuf, "AUTH")
		c.wbuf = resp.AppendBulkString(c.wbuf, user)
		c.wbuf = resp.AppendBulkString(c.wbuf, cfg.Password)
	}
	if cfg.ClientName != "" {
		c.wbuf = resp.AppendBulkString(c.wbuf, "SETNAME")
		c.wbuf = resp.AppendBulkString(c.wbuf, cfg.ClientName)
	}
	if err := c.write(); err != nil {
		return err
	}
	_, err := c.rd.ReadValue()
	return err
}

// call sends one command of any arguments and reads its reply in full, for
// the few administrative commands (CLUSTER SLOTS, SENTINEL, ROLE, ...)
// outside the hot path. A server error reply is returned as the error.
func (c *conn) call(ctx context.Context, args ...string) (resp.Value, error) {
	c.setDeadlines(ctx)
	// The context's end, not only its deadline, stops the call: a sentinel
	// asked in vain once another answered, or Close, must not wait.
	defer context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })()
	c.wbuf = resp.AppendCommand(c.wbuf[:0], args...)
	err := c.write()
	var v resp.Value
	if err == nil {
		v, err = c.rd.ReadValue()
	}
	c.used = true
	if !resp.Usable(err) {
		c.broken = true
	}
	if err != nil {
		if cerr := contextError(ctx, err); cerr != nil {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
	}
	return v, err
}

// redactReply hides secret in a server error reply: a server without HELLO
// quotes the command's arguments, the password among them, in its error.
func redactReply(err error, secret string) error {
	e, ok := errors.AsType[resp.Error](err)
	if secret == "" || !ok || !strings.Contains(e.Msg, secret) {
		return err
	}
	e.Msg = strings.Join(strings.Split(e.Msg, secret), "xxxxx") // ReplaceAll, without linking strings.Replace
	return e
}

// noHello reports whether err says the server has no HELLO or no RESP3.
func noHello(err error) bool {
	e, ok := errors.AsType[resp.Error](err)
	if !ok {
		return false
	}
	return e.Kind == "NOPROTO" || (e.Kind == "ERR" && strings.Contains(strings.ToLower(e.Msg), "unknown command"))
}

// roundTripOK writes wbuf and expects +OK.
func (c *conn) roundTripOK() error {
	if err := c.write(); err != nil {
		return err
	}
	return c.rd.ReadOK()
}

// write sends wbuf.
func (c *conn) write() error {
	_, err := c.nc.Write(c.wbuf)
	return err
}

// setDeadlines sets the socket deadlines for one command: the earlier of the
// context's deadline and the configured timeouts.
func (c *conn) setDeadlines(ctx context.Context) {
	now := time.Now()
	wd, rd := now.Add(c.writeTimeout), now.Add(c.readTimeout)
	if dl, ok := ctx.Deadline(); ok {
		if dl.Before(wd) {
			wd = dl
		}
		if dl.Before(rd) {
			rd = dl
		}
	}
	c.nc.SetWriteDeadline(wd)
	c.nc.SetReadDeadline(rd)
}

// close closes the network connection.
func (c *conn) close() error { return c.nc.Close() }

// staleConnError reports whether err is what a connection the server closed
// while it sat idle gives on its first use: EOF or a reset before any reply
// byte arrived. Such a command never reached Redis, or its reply was lost
// with nothing read, so an idempotent command may be sent again.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
