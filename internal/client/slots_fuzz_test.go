//go:build !redisstore_nocluster

package client

import (
	"bufio"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/resp"
)

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
