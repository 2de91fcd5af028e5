package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// A NOSCRIPT reply to one command of a batch must not make the batch's
// other commands, which already ran, run a second time.
func TestNoScriptSendsOnlyTheScriptAgain(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	var b Batch
	b.Add(ReplyInt, "INCR", Key("{r}", ":n"))
	b.AddScript(ReplyInt, NewScript("return 7"), 1, Key("{r}", ":x")) // unknown to the server: NOSCRIPT
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(srv.Do(t, "GET", "{r}:n")); got != "1" || b.Replies[0].Int != 1 {
		t.Errorf("INCR ran until the counter is %s (reply %d); want 1: the batch was resent whole after NOSCRIPT", got, b.Replies[0].Int)
	}
}

// An empty batch (the zero value, or a batch Do already ran: "a Batch
// forgets its commands after Do") returns at once: it used to wait
// ReadTimeout for a reply that never comes and then fail the connection
// other callers share.
func TestEmptyBatchReturnsAtOnce(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr, ReadTimeout: 2 * time.Second, PoolSize: 1})
	var b Batch
	b.Add(ReplyOK, "SET", Key("empty", ""), Str("1"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	dials := c.Stats().Pool.Dials
	done := make(chan error, 1)
	go func() { done <- c.Do(context.Background(), &b) }() // the same batch again: now empty
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Do of an empty batch = %v", err)
		}
	case <-time.After(time.Second): // half the ReadTimeout it would have waited
		t.Fatal("Do of an empty batch waits for a reply")
	}
	var g Batch
	g.Add(ReplyBulk, "GET", Key("empty", ""))
	if err := c.Do(context.Background(), &g); err != nil || string(g.Replies[0].Bulk) != "1" {
		t.Errorf("GET after the empty batch = %q, %v", g.Replies[0].Bulk, err)
	}
	if st := c.Stats(); len(st.Errors) > 0 || st.Pool.Dials != dials {
		t.Errorf("errors %v, dials %d (want %d): the connection suffered", st.Errors, st.Pool.Dials, dials)
	}
}

// Commands that would change the state of the connection other callers
// share are refused before anything is sent, and the connection stays
// usable for the others.
func TestStateChangingCommandsAreRefused(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	for _, protocol := range []int{2, 3} {
		t.Run(strconv.Itoa(protocol), func(t *testing.T) {
			logs := &captureLogger{}
			c := newTestClient(t, Config{Addr: srv.Addr, Protocol: protocol, PoolSize: 1, Logger: logs})
			ctx := context.Background()
			for _, name := range []string{"SUBSCRIBE", "MONITOR", "SELECT", "WATCH", "CLIENT"} {
				var b Batch
				b.Add(ReplyAny, name, Str("x"))
				if err := c.Do(ctx, &b); err == nil || !strings.Contains(err.Error(), "would change the state") {
					t.Errorf("%s: Do = %v, want it refused", name, err)
				}
			}
			var g Batch
			g.Add(ReplyBulk, "GET", Key("refused", ":k"))
			if err := c.Do(ctx, &g); err != nil {
				t.Errorf("another caller's GET = %v", err)
			}
			srv.Do(t, "PUBLISH", "x", "hello")
			if err := c.Do(ctx, &g); err != nil {
				t.Errorf("GET after a PUBLISH = %v", err)
			}
			if w := logs.String(); w != "" {
				t.Errorf("warnings: %s", w)
			}
		})
	}
}

type captureLogger struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *captureLogger) Info(string, ...any) {}

func (l *captureLogger) Warn(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(&l.buf, msg, kv)
}

func (l *captureLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
