package client

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	fault "github.com/sessionx-redis/redisstore/redistest"
)

// tracker records what a client tells its Tracker.
type tracker struct {
	mu          sync.Mutex
	invalidated map[string][]*Source
	forgotten   []*Source
	changed     chan struct{}
}

func newTracker() *tracker {
	return &tracker{invalidated: map[string][]*Source{}, changed: make(chan struct{}, 100)}
}

func (tr *tracker) Invalidate(src *Source, key string) {
	tr.mu.Lock()
	tr.invalidated[key] = append(tr.invalidated[key], src)
	tr.mu.Unlock()
	tr.changed <- struct{}{}
}

func (tr *tracker) Forget(src *Source) {
	tr.mu.Lock()
	tr.forgotten = append(tr.forgotten, src)
	tr.mu.Unlock()
	tr.changed <- struct{}{}
}

// wait waits until cond holds (checked under the lock at each report).
func (tr *tracker) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		tr.mu.Lock()
		ok := cond()
		tr.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-tr.changed:
		case <-timeout:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// hook records the Source of the replies it saw, and whether it saw them
// before Do returned.
type hook struct {
	src     *Source
	replies int
}

func (h *hook) Replied(src *Source, r []Reply) { h.src, h.replies = src, len(r) }

func readThrough(t *testing.T, c *Client, key string) *Source {
	t.Helper()
	var b Batch
	h := &hook{}
	b.Hook = h
	b.Add(ReplyBulk, "GET", Key("", key))
	b.Add(ReplyInt, "PTTL", Key("", key))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if h.src == nil || h.replies != 2 {
		t.Fatalf("the hook saw %d replies, source %v, before Do returned", h.replies, h.src)
	}
	return h.src
}

// A key read through a tracked connection, written by another client,
// comes back as an invalidation on the Source the read's hook saw.
func TestTrackingInvalidatesWhatWasRead(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	tr := newTracker()
	c := newTestClient(t, Config{Addr: srv.Addr, Tracker: tr})
	src := readThrough(t, c, "tk")
	if !src.Tracked() {
		t.Fatal("the connection is not tracked")
	}
	srv.Do(t, "SET", "tk", "1")
	tr.wait(t, "invalidation of tk", func() bool { return len(tr.invalidated["tk"]) > 0 })
	if got := tr.invalidated["tk"][0]; got != src {
		t.Error("the invalidation came with another Source than the read's")
	}
	// NOLOOP: a write through the client itself is not reported.
	readThrough(t, c, "own")
	var b Batch
	b.Add(ReplyOK, "SET", Key("", "own"), Str("1"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	srv.Do(t, "SET", "tk", "2") // not read again: no invalidation either
	readThrough(t, c, "tk")
	srv.Do(t, "SET", "tk", "3") // a marker that the pushes before it were read
	tr.wait(t, "second invalidation of tk", func() bool { return len(tr.invalidated["tk"]) > 1 })
	if n := len(tr.invalidated["own"]); n != 0 {
		t.Errorf("%d invalidations of the client's own write, want 0 (NOLOOP)", n)
	}
}

// A connection that ends (CLIENT KILL) stops being live before its
// Tracker is told to forget it.
func TestTrackingForgetsAConnectionThatEnds(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	tr := newTracker()
	c := newTestClient(t, Config{Addr: srv.Addr, Tracker: tr, PoolSize: 1})
	src := readThrough(t, c, "k")
	srv.Do(t, "CLIENT", "KILL", "TYPE", "normal")
	tr.wait(t, "Forget of the killed connection", func() bool {
		for _, f := range tr.forgotten {
			if f == src {
				return true
			}
		}
		return false
	})
	if src.Tracked() {
		t.Error("a connection that ended is still tracked")
	}
	if next := readThrough(t, c, "k"); next == src || !next.Tracked() {
		t.Error("the new connection is not a new tracked Source")
	}
}

// A server without HELLO leaves connections untracked, and the client
// says so once, whatever the number of connections.
func TestTrackingOffOnRESP2(t *testing.T) {
	srv := fault.Start(t, fault.Config{})
	srv.Handle(fault.Rule{Command: "HELLO", Reply: fault.ReplyUnknownHELLO})
	log := &captureLogger{}
	c := newTestClient(t, Config{Addr: srv.Addr(), Tracker: newTracker(), Logger: log, PoolSize: 8})
	for i := range 20 {
		if src := readThrough(t, c, "k"+strconv.Itoa(i)); src.Tracked() {
			t.Fatal("a RESP2 connection is tracked")
		}
	}
	if n := srv.Count("CLIENT"); n != 0 {
		t.Errorf("CLIENT TRACKING sent %d times on RESP2", n)
	}
	if n := strings.Count(log.String(), "client-side cache is off"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, log.String())
	}
}
