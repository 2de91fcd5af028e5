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
// forgets its commands after Do") must return at once, not wait a reply
// that never comes and then fail the shared connection.
func TestEmptyBatchReturnsAtOnce(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr, ReadTimeout: 500 * time.Millisecond, PoolSize: 1})
	var b Batch
	b.Add(ReplyOK, "SET", Key("empty", ""), Str("1"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	// Another caller's command sent while the empty batch waits, whose
	// reply comes within its own ReadTimeout but after the empty batch's.
	blpop := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		var o Batch
		o.Add(ReplyAny, "BLPOP", Key("empty:list", ""), Str("0.45"))
		blpop <- c.Do(context.Background(), &o)
	}()
	start := time.Now()
	err := c.Do(context.Background(), &b) // the same batch again: now empty
	d := time.Since(start)
	if oerr := <-blpop; oerr != nil {
		t.Errorf("a BLPOP answered within its ReadTimeout failed: %v", oerr)
	}
	if d > 100*time.Millisecond || err != nil {
		t.Errorf("Do of an empty batch took %v and returned %v", d.Round(time.Millisecond), err)
	}
	if s := c.Stats(); len(s.Errors) > 0 {
		t.Errorf("errors counted: %v", s.Errors)
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
