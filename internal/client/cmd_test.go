package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
)

// newTestClient connects to addr (or to cfg's topology) and closes the
// client with the test.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBatchEncodesEveryArgumentKind(t *testing.T) {
	var b Batch
	b.Add(ReplyOK, "SET", Key("p:", "id"), Bytes([]byte("v\r\n")), Str("PX"), Int(-12))
	b.Add(ReplyInt, "DEL", Key("p:", "id"))
	want := "*5\r\n$3\r\nSET\r\n$4\r\np:id\r\n$3\r\nv\r\n\r\n$2\r\nPX\r\n$3\r\n-12\r\n" +
		"*2\r\n$3\r\nDEL\r\n$4\r\np:id\r\n"
	if got := string(b.buf); got != want {
		t.Errorf("encoded %q, want %q", got, want)
	}
	if !b.keyed || b.prefix+b.id != "p:id" || b.Len() != 2 || b.names() != "SET+DEL" {
		t.Errorf("keyed %v key %q len %d names %q", b.keyed, b.prefix+b.id, b.Len(), b.names())
	}
	b.Reset()
	if b.Len() != 0 || b.buf != nil || b.keyed {
		t.Error("Reset left state behind")
	}
}

func TestBatchRoutesByItsFirstKey(t *testing.T) {
	var b Batch
	b.Add(ReplyAny, "PING")
	if b.keyed || KeySlot(b.prefix, b.id) != 0 {
		t.Errorf("unkeyed batch: keyed %v key %q", b.keyed, b.prefix+b.id)
	}
	b.Add(ReplyInt, "ZADD", Key("u:{alice}", ""), Int(1), Str("m"))
	b.Add(ReplyOK, "SET", Key("s:", "x"))
	if b.prefix != "u:{alice}" || b.id != "" {
		t.Errorf("routing key %q+%q, want the first key", b.prefix, b.id)
	}
}

func TestUseEvalRewritesOnlyTheScripts(t *testing.T) {
	s := NewScript("return 1")
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k", ""))
	b.AddScript(ReplyInt, s, 1, Key("k", ""), Str("a"))
	b.Add(ReplyInt, "PTTL", Key("k", ""))
	if !b.useEval() {
		t.Fatal("useEval found no script")
	}
	want := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
		"*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\na\r\n" +
		"*2\r\n$4\r\nPTTL\r\n$1\r\nk\r\n"
	if got := string(b.buf); got != want {
		t.Errorf("rewritten %q, want %q", got, want)
	}
	for i := range b.n {
		c := b.cmds[i]
		if !strings.HasPrefix(string(b.buf[c.start:c.end]), "*") || (i < b.n-1 && c.end != b.cmds[i+1].start) {
			t.Errorf("command %d spans [%d,%d) badly", i, c.start, c.end)
		}
	}
	if b.useEval() {
		t.Error("useEval rewrote twice")
	}
}

func TestReadPushReadsOnlyPushes(t *testing.T) {
	rd := resp.NewReader(bufio.NewReader(strings.NewReader(">2\r\n+a\r\n:1\r\n:5\r\n-ERR no\r\n")), resp.Limits{})
	v, err := rd.ReadPush()
	if err != nil || v.Type != resp.TypePush || len(v.Elems) != 2 {
		t.Fatalf("push = %+v, %v", v, err)
	}
	var ue *resp.UnexpectedError
	if _, err := rd.ReadPush(); !errors.As(err, &ue) {
		t.Errorf("integer read as a push: %v", err)
	}
	var se resp.Error
	if _, err := rd.ReadPush(); !errors.As(err, &se) || se.Kind != "ERR" {
		t.Errorf("error reply: %v", err)
	}
}

// Every reply kind, several commands of one caller in one batch, and a
// server error reply on one command that leaves the others' replies intact.
func TestBatchReadsEveryReplyKindInOrder(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	for _, protocol := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", protocol), func(t *testing.T) {
			c := newTestClient(t, Config{Addr: srv.Addr, Protocol: protocol})
			ctx := context.Background()
			key := fmt.Sprintf("batch%d", protocol)
			var b Batch
			b.Add(ReplyOK, "SET", Key(key, ":s"), Str("value"), Str("PX"), Int(60000))
			b.Add(ReplyBulk, "GET", Key(key, ":s"))
			b.Add(ReplyInt, "PTTL", Key(key, ":s"))
			b.Add(ReplyBulk, "GET", Key(key, ":missing"))
			b.Add(ReplyInt, "ZADD", Key(key, ":z"), Int(2), Str("b"), Int(1), Str("a"))
			b.Add(ReplyBulks, "ZRANGE", Key(key, ":z"), Int(0), Int(-1))
			b.Add(ReplyInt, "INCR", Key(key, ":s")) // not an integer: an error reply
			b.Add(ReplyAny, "PING")
			if err := c.Do(ctx, &b); err == nil || !strings.Contains(err.Error(), "not an integer") {
				t.Fatalf("Do = %v, want the INCR's error", err)
			}
			r := &b.Replies
			if r[0].Err != nil || string(r[1].Bulk) != "value" || r[1].Null {
				t.Errorf("SET/GET: %v %q %v", r[0].Err, r[1].Bulk, r[1].Null)
			}
			if r[2].Int <= 0 || r[2].Int > 60000 {
				t.Errorf("PTTL = %d", r[2].Int)
			}
			if !r[3].Null || r[3].Err != nil {
				t.Errorf("GET of a missing key: null %v err %v", r[3].Null, r[3].Err)
			}
			if r[4].Int != 2 || len(r[5].Bulks) != 2 || string(r[5].Bulks[0]) != "a" || string(r[5].Bulks[1]) != "b" {
				t.Errorf("ZADD %d, ZRANGE %q", r[4].Int, r[5].Bulks)
			}
			var se resp.Error
			if !errors.As(r[6].Err, &se) || se.Kind != "ERR" {
				t.Errorf("INCR err = %v", r[6].Err)
			}
			if r[7].Err != nil || r[7].Value == nil || r[7].Value.Str != "PONG" {
				t.Errorf("PING after an error reply = %+v, %v", r[7].Value, r[7].Err)
			}
			var ue *resp.UnexpectedError
			var b2 Batch
			b2.Add(ReplyInt, "GET", Key(key, ":s"))
			b2.Add(ReplyBulk, "GET", Key(key, ":s"))
			if err := c.Do(ctx, &b2); !errors.As(err, &ue) || string(b2.Replies[1].Bulk) != "value" {
				t.Errorf("a bulk read as an integer: %v, then %q", err, b2.Replies[1].Bulk)
			}
		})
	}
}

// A script runs with EVALSHA; a server that does not know it (first use,
// SCRIPT FLUSH, restart) answers NOSCRIPT and the script is sent again with
// EVAL, transparently, on a single server, a Sentinel master and every
// Cluster node. The GET before it in the batch ran and is not run again.
func TestScriptsLoadThemselvesOnEveryTopology(t *testing.T) {
	script := NewScript("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])")
	run := func(t *testing.T, c *Client, keys []string, flush func()) {
		ctx := context.Background()
		for round := range 3 {
			for _, k := range keys {
				var b Batch
				b.Add(ReplyBulk, "GET", Key("{"+k+"}", ":v"))
				b.AddScript(ReplyInt, script, 2, Key("{"+k+"}", ":v"), Key("{"+k+"}", ":n"), Str("x"))
				if err := c.Do(ctx, &b); err != nil {
					t.Fatalf("round %d key %s: %v", round, k, err)
				}
				get, wantNull := b.Replies[0], round == 0
				if b.Replies[1].Int != int64(round+1) || get.Null != wantNull || (!wantNull && string(get.Bulk) != "x") {
					t.Fatalf("round %d key %s: INCR %d, GET %q (null %v)", round, k, b.Replies[1].Int, get.Bulk, get.Null)
				}
			}
			if round == 1 {
				flush()
			}
		}
	}
	t.Run("single", func(t *testing.T) {
		srv := redisserver.Start(t, redisserver.Config{})
		c := newTestClient(t, Config{Addr: srv.Addr})
		run(t, c, []string{"a"}, func() { srv.Do(t, "SCRIPT", "FLUSH") })
		if n := srv.Info(t, "commandstats")["cmdstat_eval"]; !strings.HasPrefix(n, "calls=2,") {
			t.Errorf("EVAL stats %q, want 2 calls (first use, after the flush)", n)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		g := redisserver.StartSentinel(t, redisserver.SentinelConfig{})
		c := newTestClient(t, Config{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName})
		run(t, c, []string{"a"}, func() { g.Master.Do(t, "SCRIPT", "FLUSH") })
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redisserver.StartCluster(t, redisserver.ClusterConfig{Masters: 3})
		c := newTestClient(t, Config{ClusterAddrs: cl.Addrs()})
		// Keys on every master, so that each loads the script itself.
		var keys []string
		seen := map[string]bool{}
		for i := 0; len(seen) < 3 && i < 1000; i++ {
			k := fmt.Sprintf("k%d", i)
			m := cl.MasterFor(t, KeySlot("{"+k+"}", "")).Addr
			if !seen[m] {
				seen[m] = true
				keys = append(keys, k)
			}
		}
		run(t, c, keys, func() {
			for _, m := range cl.Masters(t) {
				m.Do(t, "SCRIPT", "FLUSH")
			}
		})
	})
}

// A script error other than NOSCRIPT is the command's, not retried.
func TestScriptErrorsAreNotRetried(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	var b Batch
	b.AddScript(ReplyInt, NewScript("return redis.error_reply('MINE failed')"), 0)
	err := c.Do(context.Background(), &b)
	var se resp.Error
	if !errors.As(err, &se) || se.Kind != "MINE" {
		t.Fatalf("Do = %v, want the script's MINE error", err)
	}
	if n := srv.Info(t, "commandstats")["cmdstat_eval"]; !strings.HasPrefix(n, "calls=1,") {
		t.Errorf("EVAL stats %q, want 1 call", n)
	}
}

// A batch allocates nothing beyond its replies' own buffers once warm.
func TestDoAllocatesNothing(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 300))
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(200, func() {
		var b Batch
		b.Idempotent = true
		b.Add(ReplyOK, "SET", Key("alloc:", "k"), Bytes(value), Str("EX"), Int(60))
		b.Add(ReplyBulk, "GET", Key("alloc:", "k"))
		b.Add(ReplyInt, "PTTL", Key("alloc:", "k"))
		b.Replies[1].Bulk = buf
		if err := c.Do(ctx, &b); err != nil {
			t.Fatal(err)
		}
		buf = b.Replies[1].Bulk[:0]
	})
	if allocs != 0 && !raceEnabled { // scripts/test.sh runs this test without -race too
		t.Errorf("%v allocations per batch of SET, GET, PTTL; want 0", allocs)
	}
}

// After Do a batch keeps only its replies: commands added then make a new
// batch, not one appended to the last.
func TestBatchIsReusableAfterDo(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	var b Batch
	b.Add(ReplyOK, "SET", Key("reuse", ""), Str("1"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	b.Add(ReplyBulk, "GET", Key("reuse", ""))
	if b.Len() != 1 {
		t.Fatalf("Len after Do and one Add = %d, want 1", b.Len())
	}
	if err := c.Do(context.Background(), &b); err != nil || string(b.Replies[0].Bulk) != "1" {
		t.Fatalf("GET = %q, %v", b.Replies[0].Bulk, err)
	}
}
