package client

import (
	"bufio"
	"context"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
)

// A RESP3 push on an idle connection (another client redirects its
// tracking invalidations to ours) goes to Config.OnPush; the connection
// stays up and carries the next command without a new dial.
func TestPushWithNoCommandInFlightGoesToOnPush(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	pushes := make(chan resp.Value, 4)
	c := newTestClient(t, Config{Addr: srv.Addr, Protocol: 3, PoolSize: 1, ClientName: "pushed",
		OnPush: func(v resp.Value) { pushes <- v }})
	ctx := context.Background()
	var b Batch
	b.Add(ReplyOK, "SET", Key("push:", "k"), Str("1"))
	if err := c.Do(ctx, &b); err != nil {
		t.Fatal(err)
	}
	redirectTracking(t, srv, "pushed")
	dials := c.Stats().Pool.Dials
	srv.Do(t, "SET", "push:k", "2") // an invalidation for every key: BCAST with no prefix

	select {
	case v := <-pushes:
		if v.Type != resp.TypePush || len(v.Elems) != 2 || v.Elems[0].Str != "invalidate" {
			t.Errorf("push = %+v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no push reached OnPush")
	}
	var g Batch
	g.Add(ReplyBulk, "GET", Key("push:", "k"))
	if err := c.Do(ctx, &g); err != nil || string(g.Replies[0].Bulk) != "2" {
		t.Fatalf("GET after the push = %q, %v", g.Replies[0].Bulk, err)
	}
	if d := c.Stats().Pool.Dials; d != dials {
		t.Errorf("%d dials after the push, want %d: the connection was dropped", d, dials)
	}
}

// Pushes that arrive between replies go to OnPush too, and the replies
// still reach their callers.
func TestPushBetweenRepliesGoesToOnPush(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	pushes := make(chan resp.Value, 100)
	c := newTestClient(t, Config{Addr: srv.Addr, Protocol: 3, PoolSize: 1, ClientName: "between",
		OnPush: func(v resp.Value) { pushes <- v }})
	ctx := context.Background()
	var b Batch
	b.Add(ReplyAny, "PING")
	if err := c.Do(ctx, &b); err != nil {
		t.Fatal(err)
	}
	redirectTracking(t, srv, "between")
	// Our own writes are invalidations too (BCAST): each SET's push may
	// come before or after its +OK.
	for i := range 50 {
		var s Batch
		s.Add(ReplyOK, "SET", Key("between:", "k"), Int(int64(i)))
		s.Add(ReplyBulk, "GET", Key("between:", "k"))
		if err := c.Do(ctx, &s); err != nil || string(s.Replies[1].Bulk) != strconv.Itoa(i) {
			t.Fatalf("SET/GET %d = %q, %v", i, s.Replies[1].Bulk, err)
		}
	}
	timeout := time.After(10 * time.Second)
	for n := range 50 {
		select {
		case <-pushes:
		case <-timeout:
			t.Fatalf("%d pushes reached OnPush, want 50", n)
		}
	}
}

// redirectTracking makes another client of srv, open until the test ends,
// send the invalidations of every key it hears of (BCAST) to the
// connection named name.
func redirectTracking(t *testing.T, srv *redisserver.Server, name string) {
	t.Helper()
	m := regexp.MustCompile(`id=(\d+) [^\n]*name=` + name).FindStringSubmatch(srv.Do(t, "CLIENT", "LIST"))
	if m == nil {
		t.Fatalf("no connection named %s in CLIENT LIST", name)
	}
	tracker, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tracker.Close() })
	rd := resp.NewReader(bufio.NewReader(tracker), resp.Limits{})
	for _, cmd := range [][]string{{"HELLO", "3"}, {"CLIENT", "TRACKING", "on", "REDIRECT", m[1], "BCAST"}} {
		if _, err := tracker.Write(resp.AppendCommand(nil, cmd...)); err != nil {
			t.Fatal(err)
		}
		if _, err := rd.ReadValue(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
}
