package client

import "testing"

// MOVED and ASK name IPv6 nodes without brackets, and nodes that do not know
// their own address by port alone.
func TestRedirectAddr(t *testing.T) {
	for _, tc := range []struct{ from, in, want string }{
		{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.2:7001"},
		{"10.0.0.1:7000", ":7001", "10.0.0.1:7001"},
		{"[::1]:7000", "::1:7001", "[::1]:7001"},
		{"[::1]:7000", "2001:db8::7:6381", "[2001:db8::7]:6381"},
		{"[::1]:7000", ":7001", "[::1]:7001"},
		{"[::1]:7000", "[::2]:7001", "[::2]:7001"},
		{"redis.example:7000", "node-2.example:7001", "node-2.example:7001"},
	} {
		if got := redirectAddr(tc.in, &node{addr: tc.from}); got != tc.want {
			t.Errorf("redirectAddr(%q) from %s = %q, want %q", tc.in, tc.from, got, tc.want)
		}
	}
}
