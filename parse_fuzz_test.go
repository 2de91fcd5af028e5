package redisstore

import (
	"bufio"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/resp"
)

// FuzzURL parses arbitrary URLs: no panic, and a password in the user
// information never shows in an error or in Options.String.
func FuzzURL(f *testing.F) {
	for _, seed := range []string{
		"redis://localhost:6379/0", "rediss://h:1/2?dial_timeout=3s", "unix:///tmp/r.sock?db=1",
		"redis://u:p@h:1", "redis://[::1]:6379", "redis://h:99999", "redis://h:1:2",
		"redis-sentinel://h1:1,h2:2/0?master_name=m", "redis-cluster://h1:1,h2:2", "%zz", "redis://@/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		newConfig(Options{URL: raw}) // must not panic

		// The same shapes with a password that must never be shown.
		rest := raw
		if _, after, ok := strings.Cut(raw, "://"); ok {
			rest = after
		}
		for _, scheme := range []string{"redis", "redis-sentinel", "unix"} {
			u := scheme + "://user:" + marker + "@" + rest
			c, err := newConfig(Options{URL: u})
			out := fmt.Sprintf("%v %+v %#v", err, Options{URL: u}, Options{URL: u})
			if c != nil {
				out += c.Options.String()
			}
			if strings.Contains(out, marker) {
				t.Fatalf("password shown for %q: %s", u, out)
			}
		}
	})
}

// FuzzParseSlots reads arbitrary bytes as a CLUSTER SLOTS reply: no panic,
// and an accepted slot map only names slots 0..16383 and real addresses.
func FuzzParseSlots(f *testing.F) {
	good := resp.AppendValue(nil, resp.Value{Type: resp.TypeArray, Elems: []resp.Value{
		{Type: resp.TypeArray, Elems: []resp.Value{
			{Type: resp.TypeInteger, Int: 0}, {Type: resp.TypeInteger, Int: 16383},
			{Type: resp.TypeArray, Elems: []resp.Value{{Type: resp.TypeBulkString, Str: "127.0.0.1"}, {Type: resp.TypeInteger, Int: 7000}}},
			{Type: resp.TypeArray, Elems: []resp.Value{{Type: resp.TypeBulkString, Str: "?"}, {Type: resp.TypeInteger, Int: 7001}}},
		}},
	}})
	for _, seed := range []string{string(good), "*0\r\n", "*1\r\n*1\r\n:1\r\n", "*1\r\n*3\r\n:5\r\n:1\r\n*0\r\n", "_\r\n", "+OK\r\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := resp.NewReader(bufio.NewReader(strings.NewReader(string(b))), resp.Limits{MaxBulkLen: 1 << 12, MaxElements: 64, MaxDepth: 8}).ReadValue()
		if err != nil {
			return
		}
		ranges, err := parseSlots(v, "10.1.2.3:7000")
		if err != nil {
			return
		}
		for _, r := range ranges {
			if r.lo < 0 || r.hi >= slotCount || r.lo > r.hi || r.master == "" || len(r.all) == 0 || r.all[0] != r.master {
				t.Fatalf("bad range %+v from %q", r, b)
			}
		}
	})
}
