package redistest_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// A server that answers SET with OOM, as Redis at maxmemory does, while GET
// keeps working; the test then checks that no GET was sent.
func Example() {
	srv, err := redistest.NewServer(redistest.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Put("sessionx:abc", `{"ID":"abc"}`, 0)
	srv.Handle(redistest.Rule{Command: "SET", Reply: redistest.ReplyOOM})

	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	rd := resp.NewReader(bufio.NewReader(nc), resp.Limits{})
	nc.Write(resp.AppendCommand(nil, "SET", "sessionx:abc", "{}"))
	_, err = rd.ReadValue()
	fmt.Println(err)
	nc.Write(resp.AppendCommand(nil, "GET", "sessionx:abc"))
	v, _ := rd.ReadValue()
	fmt.Println(v.Str)
	fmt.Println(srv.Count("SET"), srv.Count("GET"))
	// Output:
	// OOM command not allowed when used memory > 'maxmemory'.
	// {"ID":"abc"}
	// 1 1
}

// A partition between a client and the server: the client's command is
// neither answered nor failed, and reaches the server only when the
// network heals.
func ExampleProxy() {
	srv, err := redistest.NewServer(redistest.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	p, err := redistest.NewProxy(srv.Addr())
	if err != nil {
		panic(err)
	}
	defer p.Close()

	nc, err := net.Dial("tcp", p.Addr())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	rd := resp.NewReader(bufio.NewReader(nc), resp.Limits{})
	p.Partition()
	nc.Write(resp.AppendCommand(nil, "PING"))
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = rd.ReadValue()
	fmt.Println(errors.Is(err, os.ErrDeadlineExceeded), srv.Count("PING"))
	p.Heal()
	nc.SetReadDeadline(time.Time{})
	v, _ := rd.ReadValue()
	fmt.Println(v.Str, srv.Count("PING"))
	// Output:
	// true 0
	// PONG 1
}
