package redistest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// client is a raw RESP connection for the tests.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	rd *resp.Reader
}

func dial(t *testing.T, srv *redistest.Server) *client {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	return &client{t: t, nc: nc, br: br, rd: resp.NewReader(br, resp.Limits{})}
}

// do sends a command and returns the reply, or the read error.
func (c *client) do(args ...string) (resp.Value, error) {
	c.t.Helper()
	if _, err := c.nc.Write(resp.AppendCommand(nil, args...)); err != nil {
		return resp.Value{}, err
	}
	return c.rd.ReadValue()
}

// wire renders a reply back to RESP, for comparisons.
func wire(v resp.Value, err error) string {
	if err != nil {
		var se resp.Error
		if errors.As(err, &se) {
			return "-" + se.Msg
		}
		return "error: " + err.Error()
	}
	return strings.TrimSuffix(string(resp.AppendValue(nil, v)), "\r\n")
}

func TestDefaultCommands(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c := dial(t, srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG"},
		{[]string{"PING", "hi"}, "$2\r\nhi"},
		{[]string{"GET", "k"}, "$-1"},
		{[]string{"SET", "k", "v"}, "+OK"},
		{[]string{"GET", "k"}, "$1\r\nv"},
		{[]string{"SET", "k", "w", "NX"}, "$-1"},
		{[]string{"SET", "k", "w", "XX", "GET"}, "$1\r\nv"},
		{[]string{"TTL", "k"}, ":-1"},
		{[]string{"SET", "k", "v", "EX", "100"}, "+OK"},
		{[]string{"TTL", "k"}, ":100"},
		{[]string{"SET", "k", "v", "PX", "0"}, "-ERR invalid expire time in 'set' command"},
		{[]string{"EXISTS", "k", "nope", "k"}, ":2"},
		{[]string{"DEL", "k", "nope"}, ":1"},
		{[]string{"TTL", "k"}, ":-2"},
		{[]string{"SELECT", "3"}, "+OK"},
		{[]string{"SET", "in3", "x"}, "+OK"},
		{[]string{"DBSIZE"}, ":1"},
		{[]string{"CLIENT", "SETNAME", "web"}, "+OK"},
		{[]string{"CLIENT", "GETNAME"}, "$3\r\nweb"},
		{[]string{"CLIENT", "ID"}, ":1"},
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command"},
		{[]string{"FROB", "a"}, "-ERR unknown command 'FROB', with args beginning with: 'a' "},
		{[]string{"HELLO", "3"}, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0"},
		{[]string{"GET", "nope"}, "_"},
		{[]string{"QUIT"}, "+OK"},
	} {
		if got := wire(c.do(tc.args...)); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if _, err := c.do("PING"); err == nil {
		t.Error("connection open after QUIT")
	}
	if v, ok := srv.Lookup("k"); ok {
		t.Errorf("Lookup(k) = %q after DEL", v)
	}
	if got := srv.Count("get"); got != 4 {
		t.Errorf("Count(get) = %d, want 4", got)
	}
}

func TestPasswordRequiresAuth(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{Password: "pw", Username: "alice"})
	for _, tc := range []struct {
		name  string
		steps [][]string
		wants []string
	}{
		{"no auth", [][]string{{"GET", "k"}}, []string{"-NOAUTH Authentication required."}},
		{"wrong", [][]string{{"AUTH", "nope"}, {"PING"}}, []string{"-WRONGPASS invalid username-password pair or user is disabled.", "-NOAUTH Authentication required."}},
		{"AUTH", [][]string{{"AUTH", "pw"}, {"PING"}}, []string{"+OK", "+PONG"}},
		{"ACL user", [][]string{{"AUTH", "alice", "pw"}, {"PING"}}, []string{"+OK", "+PONG"}},
		{"HELLO AUTH", [][]string{{"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "x"}, {"PING"}}, []string{"*14", "+PONG"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			for i, args := range tc.steps {
				got := wire(c.do(args...))
				if !strings.HasPrefix(got, tc.wants[i]) {
					t.Errorf("%q = %q, want %q", args, got, tc.wants[i])
				}
			}
		})
	}
}

func TestRules(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Put("k", "v", 0)
	srv.Handle(redistest.Rule{Command: "set", Reply: redistest.ReplyOOM})
	srv.Handle(redistest.Rule{Command: "GET", Key: "moved", Reply: redistest.Moved(42, "127.0.0.1:7001")})
	srv.Handle(redistest.Rule{Command: "GET", Key: "once", Times: 1, Reply: redistest.ReplyLOADING})
	srv.Handle(redistest.Rule{Command: "GET", Match: func(args []string) bool { return args[1] == "ro" }, Reply: redistest.ReplyREADONLY})
	c := dial(t, srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SET", "x", "1"}, "-OOM command not allowed when used memory > 'maxmemory'."},
		{[]string{"GET", "moved"}, "-MOVED 42 127.0.0.1:7001"},
		{[]string{"GET", "once"}, "-LOADING Redis is loading the dataset in memory"},
		{[]string{"GET", "once"}, "$-1"},
		{[]string{"GET", "ro"}, "-READONLY You can't write against a read only replica."},
		{[]string{"GET", "k"}, "$1\r\nv"},
	} {
		if got := wire(c.do(tc.args...)); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if _, ok := srv.Lookup("x"); ok {
		t.Error("a SET answered with OOM changed the key space")
	}
	srv.ClearRules()
	if got := wire(c.do("SET", "x", "1")); got != "+OK" {
		t.Errorf("SET after ClearRules = %q", got)
	}
}

func TestConnectionFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  redistest.Rule
		check func(v resp.Value, err error) bool
		want  string
	}{
		{"drop", redistest.Rule{Drop: true}, func(_ resp.Value, err error) bool { return errors.Is(err, io.EOF) }, "EOF"},
		{"reset", redistest.Rule{Reset: true}, func(_ resp.Value, err error) bool { return errors.Is(err, syscall.ECONNRESET) }, "ECONNRESET"},
		{"truncate", redistest.Rule{Reply: "$5\r\nhello\r\n", Truncate: 6}, isProtocolError, "protocol error"},
		{"huge bulk then close", redistest.Rule{Reply: redistest.HugeBulk, CloseAfter: true}, isProtocolError, "protocol error"},
		{"huge array", redistest.Rule{Reply: redistest.HugeArray}, isProtocolError, "protocol error"},
		{"deep nesting", redistest.Rule{Reply: redistest.Nested(10000)}, isProtocolError, "protocol error"},
		{"garbage", redistest.Rule{Reply: redistest.Garbage}, isProtocolError, "protocol error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Config{})
			tc.rule.Command = "GET"
			srv.Handle(tc.rule)
			c := dial(t, srv)
			if v, err := c.do("GET", "k"); !tc.check(v, err) {
				t.Errorf("GET = %v, %v; want %s", v, err, tc.want)
			}
		})
	}
}

func isProtocolError(_ resp.Value, err error) bool {
	var pe *resp.ProtocolError
	return errors.As(err, &pe)
}

func TestDelayHoldsBackLaterReplies(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "PING", Key: "slow", Delay: 100 * time.Millisecond})
	c := dial(t, srv)
	start := time.Now()
	c.nc.Write(append(resp.AppendCommand(nil, "PING", "slow"), resp.AppendCommand(nil, "PING", "fast")...))
	for _, want := range []string{"slow", "fast"} {
		v, err := c.rd.ReadValue()
		if err != nil || v.Str != want {
			t.Fatalf("reply = %v, %v; want %s", v, err, want)
		}
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("replies after %v, want the delay of 100ms", d)
	}
}

func TestConnsStatsAndClose(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	a, b := dial(t, srv), dial(t, srv)
	a.do("CLIENT", "SETNAME", "a")
	b.do("SELECT", "2")
	conns := srv.Conns()
	if len(conns) != 2 || conns[0].Name != "a" || conns[1].DB != 2 || conns[0].Commands != 1 {
		t.Fatalf("Conns = %+v", conns)
	}
	if !srv.CloseConn(conns[0].ID) || srv.CloseConn(99) {
		t.Error("CloseConn reports wrongly")
	}
	if _, err := a.do("PING"); err == nil {
		t.Error("closed connection still answers")
	}
	if n := srv.CloseConns(); n < 1 {
		t.Errorf("CloseConns = %d", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Open > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := srv.Stats()
	if st.Open != 0 || st.Accepted != 2 || st.PeakOpen != 2 || st.Commands != 2 {
		t.Errorf("Stats = %+v", st)
	}
	dial(t, srv).do("PING") // still accepting
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", srv.Addr()); err == nil {
		t.Error("dial succeeded after Close")
	}
}

// Close does not wait for a long delay.
func TestCloseCutsDelaysShort(t *testing.T) {
	srv, err := redistest.NewServer(redistest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(redistest.Rule{Delay: time.Hour})
	c := dial(t, srv)
	c.nc.Write(resp.AppendCommand(nil, "PING"))
	for srv.Count("PING") == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// A rule's Match is not asked once its Times is used up.
func TestMatchIsNotAskedAfterTimes(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	calls := 0 // one connection: Match runs on its goroutine only
	srv.Handle(redistest.Rule{Command: "GET", Times: 1, Reply: redistest.ReplyOOM,
		Match: func([]string) bool { calls++; return true }})
	c := dial(t, srv)
	for range 3 {
		c.do("GET", "k")
	}
	if calls != 1 {
		t.Fatalf("Match called %d times, want 1", calls)
	}
}

// A connection whose reply is held back by a Delay is gone at once when the
// client hangs up or the test closes it, not when the Delay ends.
func TestDelayEndsWhenTheConnectionDoes(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "GET", Delay: time.Hour})
	waitOpen := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for srv.Stats().Open != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections open, want %d", srv.Stats().Open, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	held := func() *client {
		c := dial(t, srv)
		before := srv.Count("GET")
		c.nc.Write(resp.AppendCommand(nil, "GET", "k"))
		for srv.Count("GET") == before {
			time.Sleep(time.Millisecond)
		}
		return c
	}
	a := held()
	a.nc.Close() // the client gives up
	waitOpen(0)

	b := held()
	id := srv.Conns()[0].ID
	if !srv.CloseConn(id) {
		t.Fatal("CloseConn: not open")
	}
	if _, err := b.rd.ReadValue(); err == nil {
		t.Error("a killed connection answered")
	}
	waitOpen(0)
	if srv.CloseConn(id) {
		t.Error("CloseConn reports a closed connection open")
	}

	// A held reply with more commands pipelined behind it still comes.
	srv.ClearRules()
	srv.Handle(redistest.Rule{Command: "PING", Key: "slow", Delay: 50 * time.Millisecond})
	c := dial(t, srv)
	c.nc.Write(append(resp.AppendCommand(nil, "PING", "slow"), resp.AppendCommand(nil, "PING", "next")...))
	for _, want := range []string{"slow", "next"} {
		if v, err := c.rd.ReadValue(); err != nil || v.Str != want {
			t.Fatalf("reply = %v, %v; want %s", v, err, want)
		}
	}
}
