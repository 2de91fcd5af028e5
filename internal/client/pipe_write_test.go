package client

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
)

// waitPipe waits until cond, checked under p.mu, holds.
func waitPipe(t *testing.T, p *pipe, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The buffer of a big batch is shared with the pipe, not copied; once
// written, recycleLocked keeps it among the pipe's free small buffers (its
// capacity is under maxKeptBuffer), and the next small batch is appended
// into it while the big batch's caller still owns it: when that batch is
// sent again (LOADING here; BUSY, TRYAGAIN, MOVED, ASK and NOSCRIPT the
// same) the server gets the small command's bytes in its place.
func TestBigBatchBufferIsNotReusedBySmallBatches(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	received, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv.Handle(redistest.Rule{Command: "SET", Key: "review:big", Times: 1, Reply: redistest.ReplyLOADING,
		Match: func([]string) bool {
			once.Do(func() { close(received) })
			<-release
			return true
		}})
	c := newTestClient(t, Config{Addr: srv.Addr(), PoolSize: 1, ReadTimeout: 5 * time.Second})
	val := strings.Repeat("v", 100<<10)
	bufc, bigErr := make(chan []byte, 1), make(chan error, 1)
	go func() {
		var b Batch
		b.Add(ReplyOK, "SET", Key("review:", "big"), Str(val))
		bufc <- b.buf
		bigErr <- c.Do(context.Background(), &b)
	}()
	bigBuf := <-bufc
	orig := string(bigBuf)
	<-received // the server read the whole SET: the pipe wrote it
	p := c.topo.(single).n.slots[0].cur.Load()
	waitPipe(t, p, "the big write to end", func() bool { return !p.writing && len(p.pending) == 0 })

	smallErr := make(chan error, 1)
	go func() {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("review:", "small"))
		smallErr <- c.Do(context.Background(), &b)
	}()
	waitPipe(t, p, "the small call to be written", func() bool {
		return len(p.queue)-p.head == 2 && !p.writing && len(p.pending) == 0
	})
	corrupted := string(bigBuf) != orig // read after p.mu: ordered after the pipe's append
	close(release)
	if corrupted {
		t.Errorf("the big batch's buffer, still its caller's, was reused by the pipe for a small batch: it starts %q, was %q", string(bigBuf[:30]), orig[:30])
	}
	if err := <-smallErr; err != nil {
		t.Errorf("small GET: %v", err)
	}
	if err := <-bigErr; err != nil {
		t.Errorf("big SET after LOADING: %v", err)
	}
	var g Batch
	g.Add(ReplyBulk, "GET", Key("review:", "big"))
	if err := c.Do(context.Background(), &g); err != nil {
		t.Fatalf("GET review:big: %v", err)
	}
	if got := string(g.Replies[0].Bulk); got != val {
		t.Errorf("review:big holds %d bytes starting %.20q, want the %d bytes sent", len(got), got, len(val))
	}
}

// IdleTimeout retires a pipe that carried no command for that long, but the
// health PING is sent through send, which sets p.sent: with
// HealthCheckInterval under IdleTimeout (the store's defaults: 15 s and
// 30 min) an idle pipe never retires, it pings forever.
func TestHealthChecksDoNotKeepAnIdlePipeAlive(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	const idle = 300 * time.Millisecond
	c := newTestClient(t, Config{Addr: srv.Addr(), PoolSize: 1, IdleTimeout: idle,
		HealthCheckInterval: 50 * time.Millisecond, ReadTimeout: 40 * time.Millisecond})
	var b Batch
	b.Add(ReplyBulk, "GET", Key("review:", "idle"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	p := c.topo.(single).n.slots[0].cur.Load()
	start := time.Now()
	for !p.dead.Load() {
		if time.Since(start) > 10*idle {
			t.Fatalf("the pipe is still open %v after its last command (IdleTimeout %v); %d health PINGs kept it busy",
				time.Since(start), idle, c.Stats().HealthChecks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A call whose context has no deadline ends within CallBound (DialTimeout +
// ReadTimeout), says the package documentation. bigToken waits for a turn
// with the caller's context only (the first attempt runs on it unbounded),
// so behind a queue of big batches, each answered well within ReadTimeout,
// a caller waits for as many turns as there are callers ahead of it.
func TestWaitForABigTurnKeepsTheCallBound(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "SET", Delay: 30 * time.Millisecond})
	cfg := Config{Addr: srv.Addr(), DialTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond}
	c := newTestClient(t, cfg)
	bound := cfg.WithDefaults().CallBound()
	val := []byte(strings.Repeat("v", bigBatch+1))
	const callers = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	var longest time.Duration
	var failed int
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			b.Add(ReplyOK, "SET", Key("review:turn:", string(rune('a'+i))), Bytes(val))
			start := time.Now()
			err := c.Do(context.Background(), &b)
			d := time.Since(start)
			mu.Lock()
			longest = max(longest, d)
			if err != nil {
				failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if limit := bound + bound/2; longest > limit {
		t.Errorf("a call without deadline took %v (CallBound %v; %d of %d failed): it waited for a big batch's turn past the bound",
			longest, bound, failed, callers)
	}
}
