package client

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
)

// Close stops every pipe of a node taking calls before it waits for any
// pipe's calls in flight: it used to close them one after the other, so a
// pipe further on kept taking calls (node.pipe checks n.closed only before
// dialing), a caller past Client.Do's check (a retry waking from its
// backoff) was written after Close began, and Close waited ReadTimeout for
// it too.
func TestCloseStopsEveryPipeBeforeWaiting(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // two pipes per node
	srv := redistest.Start(t, redistest.Config{})
	const rt = 400 * time.Millisecond
	c, err := New(Config{Addr: srv.Addr(), PoolSize: 2, ReadTimeout: rt})
	if err != nil {
		t.Fatal(err)
	}
	n := c.topo.(single).n
	for range 4 { // dial both pipes
		var b Batch
		b.Add(ReplyAny, "PING")
		if err := c.Do(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	if n.slots[0].cur.Load() == nil || n.slots[1].cur.Load() == nil {
		t.Fatal("both pipes should be open")
	}
	srv.Handle(redistest.Rule{Command: "GET", Delay: time.Hour})
	n.next.Store(1) // next pick: slot 0
	aErr := make(chan error, 1)
	go func() {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		b.start = time.Now()
		aErr <- n.do(context.Background(), &b)
	}()
	for srv.Count("GET") == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() { c.Close(); closed <- time.Since(start) }()
	p0 := n.slots[0].cur.Load()
	waitPipe(t, p0, "Close to wait on slot 0", func() bool { return p0.closing })
	time.Sleep(rt / 2) // a retry's backoff ends while Close waits on slot 0
	n.next.Store(0)    // next pick: slot 1
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k:", "b"))
	b.start = time.Now()
	bErr := n.do(context.Background(), &b)
	took := <-closed
	<-aErr
	t.Logf("call made after Close began: %v; Close took %v (ReadTimeout %v); GETs seen by the server: %d",
		bErr, took, rt, srv.Count("GET"))
	if srv.Count("GET") > 1 {
		t.Errorf("a call made %v after Close began was written to the server (err %v)", rt/2, bErr)
	}
	if took > rt+rt/4 {
		t.Errorf("Close took %v, over ReadTimeout %v", took, rt)
	}
}

// The round robin over a node's pipes stays in range once its counter
// passes 2^31. The int conversion it had went negative there on 32-bit
// platforms only: this test fails on such a platform, not on amd64.
func TestPipeRoundRobinSurvivesItsCounterWrapping(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr()})
	n := c.topo.nodes()[0]
	n.next.Store(1<<31 - 2)
	for range 4 {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		if err := c.Do(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
}
