package cache

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// FuzzHookReplies feeds the hooks any reply: nothing panics, the cache
// stays within its size, and a write keeps a value only for a reply of the
// documented shapes: "+<pttl>" keeps the value written, "~<pttl> <value>"
// the value after the space.
func FuzzHookReplies(f *testing.F) {
	for _, seed := range []string{"+60000", "~60000 {}", "~-1 x", "+-1", "~", "+", "", "~1", "+1 x", "~99999999999999999999 x", "+0", "~-2 gone"} {
		f.Add([]byte(seed), int64(60000))
	}
	f.Add([]byte("value"), int64(-1))
	f.Add([]byte("value"), int64(-2))
	f.Fuzz(func(t *testing.T, reply []byte, pttl int64) {
		c := New(4096, time.Minute)
		src := client.NewSource(true)
		c.Read("", "r").Replied(src, []client.Reply{{Bulk: reply}, {Int: pttl}})
		c.Write("", "w", []byte("mine")).Replied(src, []client.Reply{{Bulk: reply}})
		st := c.Stats()
		if st.Bytes < 0 || st.Bytes > 4096 || st.Entries > 2 {
			t.Fatalf("Stats %+v", st)
		}
		v, ttl, ok := c.Get("", "w")
		if !ok {
			return
		}
		digits, cur, conflict := bytes.Cut(reply[1:], []byte(" "))
		n, err := strconv.ParseInt(string(digits), 10, 64)
		switch {
		case err != nil || n == 0 || n < -1:
			t.Fatalf("reply %q kept %q", reply, v)
		case reply[0] == '+' && !conflict:
			if string(v) != "mine" {
				t.Fatalf("reply %q kept %q, want the value written", reply, v)
			}
		case reply[0] == '~' && conflict:
			if !bytes.Equal(v, cur) {
				t.Fatalf("reply %q kept %q, want %q", reply, v, cur)
			}
		default:
			t.Fatalf("reply %q kept %q", reply, v)
		}
		if ttl < 0 || n > 0 && n < math.MaxInt64/int64(time.Millisecond) && ttl > time.Duration(n)*time.Millisecond {
			t.Fatalf("reply %q: TTL %v", reply, ttl)
		}
	})
}
