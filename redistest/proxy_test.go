package redistest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// dialAddr connects a raw RESP client to addr, such as a Proxy's.
func dialAddr(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	return &client{t: t, nc: nc, br: br, rd: resp.NewReader(br, resp.Limits{})}
}

// waitFor polls cond until it holds, failing t after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitGoroutines waits until at most n goroutines are left.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// noReplyWithin reads with a deadline of d and fails t unless the read
// timed out: no reply, and no EOF or reset either.
func noReplyWithin(t *testing.T, c *client, d time.Duration) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	v, err := c.rd.ReadValue()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read during partition = %v, %v; want a timeout", v, err)
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
}

// isClosedByPeer reports whether err is what a reset (or a close) by the
// peer gives a reader.
func isClosedByPeer(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

func TestProxyForwardsBothWays(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	c := dialAddr(t, p.Addr())
	sent, received := 0, 0
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SET", "k", "v"}, "+OK"},
		{[]string{"GET", "k"}, "$1\r\nv"},
		{[]string{"PING"}, "+PONG"},
	} {
		sent += len(resp.AppendCommand(nil, tc.args...))
		received += len(tc.want) + 2
		if got := wire(c.do(tc.args...)); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if v, ok := srv.Lookup("k"); !ok || v != "v" {
		t.Errorf("server has k = %q, %v", v, ok)
	}
	waitFor(t, "the byte counts", func() bool {
		st := p.Stats()
		return st.BytesToServer == int64(sent) && st.BytesToClient == int64(received)
	})
	if st := p.Stats(); st.Accepted != 1 || st.Open != 1 || st.DialErrors != 0 {
		t.Errorf("Stats = %+v", st)
	}
	c.nc.Close() // the FIN reaches the server, which closes its side
	waitFor(t, "both sides closed", func() bool { return p.Stats().Open == 0 && srv.Stats().Open == 0 })
}

// A server's close or reset reaches the client as such.
func TestProxyPassesServerCloseAndReset(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule redistest.Rule
		want error
	}{
		{"close", redistest.Rule{Command: "GET", Drop: true}, io.EOF},
		{"reset", redistest.Rule{Command: "GET", Reset: true}, syscall.ECONNRESET},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Config{})
			srv.Handle(tc.rule)
			p := redistest.StartProxy(t, srv.Addr())
			c := dialAddr(t, p.Addr())
			if _, err := c.do("GET", "k"); !errors.Is(err, tc.want) {
				t.Fatalf("GET = %v, want %v", err, tc.want)
			}
			c.nc.Close() // a client closes after EOF; the proxy passes it on
			waitFor(t, "the proxy to close", func() bool { return p.Stats().Open == 0 })
		})
	}
}

func TestProxyDelayAddsToEachDirection(t *testing.T) {
	const delay = 2 * time.Millisecond
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	p.SetDelay(delay)
	c := dialAddr(t, p.Addr())
	for range 5 {
		start := time.Now()
		if got := wire(c.do("PING")); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
		if rtt := time.Since(start); rtt < 2*delay {
			t.Fatalf("round trip %v, want at least %v", rtt, 2*delay)
		}
	}

	// 100 commands written one by one, then 100 replies: one round trip
	// and some, not 100 (400 ms) as if each waited for the one before.
	const n = 100
	start := time.Now()
	for range n {
		if _, err := c.nc.Write(resp.AppendCommand(nil, "PING")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if v, err := c.rd.ReadValue(); err != nil || v.Str != "PONG" {
			t.Fatalf("reply %d = %v, %v", i, v, err)
		}
	}
	elapsed := time.Since(start)
	if elapsed < 2*delay || elapsed > n/4*2*delay {
		t.Errorf("%d pipelined PINGs took %v, want between %v and %v", n, elapsed, 2*delay, n/4*2*delay)
	}
	t.Logf("%d pipelined PINGs in %v", n, elapsed)
}

// A shorter delay releases bytes held by a longer one at once.
func TestProxySetDelayAppliesToHeldBytes(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	c := dialAddr(t, p.Addr())
	p.SetDelay(time.Hour)
	c.nc.Write(resp.AppendCommand(nil, "PING"))
	noReplyWithin(t, c, 100*time.Millisecond)
	p.SetDelay(0)
	if v, err := c.rd.ReadValue(); err != nil || v.Str != "PONG" {
		t.Fatalf("PING = %v, %v", v, err)
	}
}

// During a partition nothing crosses in either direction and the
// connection stays open; Heal delivers what was held.
func TestProxyPartitionHoldsBytesUntilHeal(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	c := dialAddr(t, p.Addr())
	if got := wire(c.do("PING")); got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}

	// Client to server: the PING does not reach the server.
	p.Partition()
	c.nc.Write(resp.AppendCommand(nil, "PING", "held"))
	noReplyWithin(t, c, 200*time.Millisecond)
	if n := srv.Count("PING"); n != 1 {
		t.Errorf("server received %d PINGs during the partition, want 1", n)
	}
	if st := srv.Stats(); st.Open != 1 {
		t.Errorf("server has %d connections open, want 1", st.Open)
	}
	p.Heal()
	if v, err := c.rd.ReadValue(); err != nil || v.Str != "held" {
		t.Fatalf("reply after Heal = %v, %v", v, err)
	}

	// Server to client: a reply sent during the partition waits for Heal.
	// The server holds the reply back long enough for Partition to come
	// first, and the read waits long enough for the reply to be sent.
	srv.Handle(redistest.Rule{Command: "GET", Delay: 150 * time.Millisecond})
	srv.Put("k", "v", 0)
	c.nc.Write(resp.AppendCommand(nil, "GET", "k"))
	waitFor(t, "the GET to reach the server", func() bool { return srv.Count("GET") == 1 })
	p.Partition()
	noReplyWithin(t, c, 400*time.Millisecond)
	p.Heal()
	if v, err := c.rd.ReadValue(); err != nil || v.Str != "v" {
		t.Fatalf("GET after Heal = %v, %v", v, err)
	}
}

// A dial during a partition succeeds, but the target sees no connection
// and a HELLO hangs until Heal.
func TestProxyDialDuringPartitionHangsUntilHeal(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	p.Partition()
	c := dialAddr(t, p.Addr())
	c.nc.Write(resp.AppendCommand(nil, "HELLO", "3"))
	noReplyWithin(t, c, 200*time.Millisecond)
	if n := srv.Stats().Accepted; n != 0 {
		t.Errorf("server accepted %d connections during the partition", n)
	}
	if st := p.Stats(); st.Accepted != 1 || st.Open != 1 {
		t.Errorf("Stats = %+v", st)
	}
	p.Heal()
	if v, err := c.rd.ReadValue(); err != nil || v.Type != resp.TypeMap {
		t.Fatalf("HELLO after Heal = %v, %v", v, err)
	}
}

func TestProxyResetClosesEveryConnectionWithRST(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	p := redistest.StartProxy(t, srv.Addr())
	a, b := dialAddr(t, p.Addr()), dialAddr(t, p.Addr())
	for _, c := range []*client{a, b} {
		if got := wire(c.do("PING")); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
	}
	if n := p.Reset(); n != 2 {
		t.Errorf("Reset = %d, want 2", n)
	}
	for _, c := range []*client{a, b} {
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.rd.ReadValue(); !isClosedByPeer(err) {
			t.Errorf("read after Reset = %v, want ECONNRESET or EOF", err)
		}
	}
	waitFor(t, "both sides closed", func() bool { return p.Stats().Open == 0 && srv.Stats().Open == 0 })
	if n := p.Reset(); n != 0 {
		t.Errorf("Reset without connections = %d", n)
	}
	if got := wire(dialAddr(t, p.Addr()).do("PING")); got != "+PONG" {
		t.Errorf("PING after Reset = %q", got)
	}
}

// A client that hangs up during a partition, and a server that does, are
// closed on the other side after Heal, and their goroutines end.
func TestProxyCloseDuringPartitionReachesOtherSideAfterHeal(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Config{})
			p := redistest.StartProxy(t, srv.Addr())
			c := dialAddr(t, p.Addr())
			if got := wire(c.do("PING")); got != "+PONG" {
				t.Fatalf("PING = %q", got)
			}
			base := runtime.NumGoroutine() // with the proxy's 5 and the server's 1 of this connection
			p.Partition()
			if side == "client" {
				c.nc.Close()
			} else {
				srv.CloseConns()
			}
			// Not a wait: a check that the close stays held for a while.
			for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				if side == "client" && srv.Stats().Open != 1 {
					t.Fatal("the client's close reached the server during the partition")
				}
			}
			if side == "server" {
				noReplyWithin(t, c, 10*time.Millisecond) // no EOF yet
			}
			p.Heal()
			if side == "server" {
				if _, err := c.rd.ReadValue(); !errors.Is(err, io.EOF) {
					t.Errorf("read after Heal = %v, want EOF", err)
				}
				c.nc.Close()
			}
			waitFor(t, "both sides closed", func() bool { return p.Stats().Open == 0 && srv.Stats().Open == 0 })
			waitGoroutines(t, base-6)
		})
	}
}

// Close during a partition ends everything at once: held connections,
// connections accepted during the partition, and clients that hung up.
func TestProxyCloseDuringPartitionLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, err := redistest.NewServer(redistest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := redistest.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	idle, held, gone := dialAddr(t, p.Addr()), dialAddr(t, p.Addr()), dialAddr(t, p.Addr())
	for _, c := range []*client{idle, held, gone} {
		if got := wire(c.do("PING")); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
	}
	p.SetDelay(time.Millisecond)
	p.Partition()
	held.nc.Write(resp.AppendCommand(nil, "PING"))
	gone.nc.Close()
	late := dialAddr(t, p.Addr())
	late.nc.Write(resp.AppendCommand(nil, "PING"))
	waitFor(t, "the late connection", func() bool { return p.Stats().Accepted == 4 })

	start := time.Now()
	if err := p.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	for _, c := range []*client{idle, held, late} {
		if _, err := c.rd.ReadValue(); !isClosedByPeer(err) {
			t.Errorf("read after Close = %v, want EOF", err)
		}
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("Stats after Close = %+v", st)
	}
	if nc, err := net.Dial("tcp", p.Addr()); err == nil {
		nc.Close()
		t.Error("dial succeeded after Close")
	}
	srv.Close()
	waitGoroutines(t, base)
}

// A client of a proxy whose target refuses is reset, so soon that even
// its dial may see the RST.
func TestProxyResetsClientWhenTargetRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := redistest.StartProxy(t, addr)
	nc, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write(resp.AppendCommand(nil, "PING"))
		_, err = nc.Read(make([]byte, 16))
	}
	if !isClosedByPeer(err) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("dial and PING = %v, want ECONNRESET, EPIPE or EOF", err)
	}
	waitFor(t, "the proxy to close", func() bool { return p.Stats().Open == 0 })
	if st := p.Stats(); st.DialErrors != 1 || st.Accepted != 1 {
		t.Errorf("Stats = %+v", st)
	}
}
