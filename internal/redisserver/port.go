package redisserver

import (
	"fmt"
	"net"
)

// reservedPort is the shared development server's port; nothing here may
// ever use it.
const reservedPort = 6379

// freePorts returns n distinct loopback ports that were free a moment ago.
// The listeners are held until all n are chosen so the kernel cannot hand
// out the same port twice.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("redisserver: find a free port: %w", err)
		}
		ls = append(ls, l)
		p := l.Addr().(*net.TCPAddr).Port
		if p == reservedPort {
			continue
		}
		ports = append(ports, p)
	}
	return ports, nil
}
