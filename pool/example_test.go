package pool_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
)

func Example() {
	p, err := pool.New(pool.Config[net.Conn]{
		Dial: func(ctx context.Context) (net.Conn, error) {
			client, server := net.Pipe() // a real pool would dial a server
			server.Close()
			return client, nil
		},
		Close:       func(c net.Conn) error { return c.Close() },
		MaxOpen:     10,
		IdleTimeout: 5 * time.Minute,
		WaitTimeout: time.Second,
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	for range 3 {
		r, err := p.Get(context.Background())
		if err != nil {
			panic(err) // errors.Is(err, pool.ErrTimeout) when all 10 stay busy
		}
		_ = r.Value() // use the connection; on an I/O error Put it back as not reusable
		p.Put(r, true)
	}
	s := p.Stats()
	fmt.Printf("dials %d, hits %d, open %d, idle %d\n", s.Dials, s.Hits, s.Open, s.Idle)
	// Output: dials 1, hits 2, open 1, idle 1
}
