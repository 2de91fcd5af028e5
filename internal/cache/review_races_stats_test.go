package cache

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// Every hook, Get, Invalidate and Forget at once, with values of many
// sizes (some over a shard's share) and connections that end: the
// counters stay coherent throughout (0 <= Bytes <= size) and, at the end,
// Bytes and Entries are exactly what the shards' maps and lists hold.
func TestReviewRacesStatsStayCoherent(t *testing.T) {
	const size = 64 << 10
	c := New(size, time.Minute)
	srcs := []*client.Source{client.NewSource(true), client.NewSource(true), client.NewSource(true)}
	stop := make(chan struct{})
	var checker sync.WaitGroup
	checker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st := c.Stats(); st.Bytes < 0 || st.Bytes > size || st.Entries < 0 {
				t.Errorf("Stats = %+v", st)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 4000 {
				src := srcs[(g+i)%len(srcs)]
				k := "k" + strconv.Itoa((i*7+g)%97)
				v := make([]byte, (i*131+g*17)%5000)
				switch i % 7 {
				case 0:
					c.Read("", k).Replied(src, replies(v, 1000))
				case 1:
					c.Invalidate(src, k)
				case 2:
					c.Write("", k, v).Replied(src, []client.Reply{{Bulk: []byte("+1000")}})
				case 3:
					c.Write("", k, v).Replied(src, []client.Reply{{Bulk: append([]byte("~1000 "), v...)}})
				case 4:
					c.Drop("", k).Replied(src, []client.Reply{{}})
				case 5:
					if i%400 == 5 {
						c.Forget(src)
					}
				default:
					c.Get("", k)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	checker.Wait()
	var bytes, entries int64
	for i := range c.shards {
		sh := &c.shards[i]
		var sb int64
		n := 0
		for e := sh.lru.next; e != &sh.lru; e = e.next {
			if sh.m[e.key] != e {
				t.Fatalf("shard %d: an entry in the list is not the map's", i)
			}
			sb += e.size()
			n++
		}
		if n != len(sh.m) || sb != sh.bytes || sh.bytes > sh.max {
			t.Errorf("shard %d: list %d entries %d bytes, map %d, counted %d bytes (max %d)", i, n, sb, len(sh.m), sh.bytes, sh.max)
		}
		bytes += sb
		entries += int64(n)
	}
	if st := c.Stats(); st.Bytes != bytes || st.Entries != entries {
		t.Errorf("Stats %+v, held %d entries of %d bytes", st, entries, bytes)
	}
}
