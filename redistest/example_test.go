package redistest_test

import (
	"bufio"
	"fmt"
	"net"

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
