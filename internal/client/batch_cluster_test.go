//go:build !redisstore_nocluster

package client

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	fault "github.com/sessionx-redis/redisstore/redistest"
)

// A batch without Idempotent whose connection failed after it was written
// may have run: it is not sent again, on a Cluster (or Sentinel) either,
// where a connection failure also means "the topology may have changed".
func TestNonIdempotentBatchIsNotResentAfterAConnectionFailure(t *testing.T) {
	srv := fault.Start(t, fault.Config{})
	srv.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(srv.Addr())})
	c := newTestClient(t, Config{ClusterAddrs: []string{srv.Addr()}})
	srv.Handle(fault.Rule{Command: "SET", Times: 1, Drop: true}) // may have run: the client cannot tell

	var b Batch // Idempotent unset
	b.Add(ReplyOK, "SET", Key("{k}", ":a"), Str("1"))
	err := c.Do(context.Background(), &b)
	if n := srv.Count("SET"); n != 1 {
		t.Errorf("a batch without Idempotent was sent %d times after its connection failed (Do = %v); want once, and the error", n, err)
	}
}

// During a slot migration the source runs the commands on keys it still
// has and answers ASK for the others; only those go to the importing node.
func TestAskSendsOnlyTheCommandsThatDidNotRun(t *testing.T) {
	owner, importing := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	owner.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(owner.Addr())})
	importing.Handle(fault.Rule{Command: "ASKING", Reply: "+OK\r\n"})
	slot := KeySlot("{k}", ":b")
	owner.Handle(fault.Rule{Command: "GET", Key: "{k}:b", Reply: fault.ErrorReply("ASK " + strconv.Itoa(slot) + " " + importing.Addr())})
	c := newTestClient(t, Config{ClusterAddrs: []string{owner.Addr()}})

	var b Batch
	b.Add(ReplyInt, "DEL", Key("{k}", ":a")) // {k}:a is still on the source: it runs there
	b.Add(ReplyBulk, "GET", Key("{k}", ":b"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if o, i := owner.Count("DEL"), importing.Count("DEL"); o+i != 1 {
		t.Errorf("DEL ran on the source %d times and on the importing node %d times; want once in all", o, i)
	}
}

// After ASK, a NOSCRIPT from the importing node must send EVAL there after
// ASKING again: without it the importing node answers MOVED back to the
// source, which answers ASK again, and the detour eats MaxRedirects.
func TestNoScriptAfterAskKeepsAsking(t *testing.T) {
	seed, owner, importing := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	slot := KeySlot("{k}", ":a")
	seed.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(seed.Addr())}) // a stale map: one MOVED first
	seed.Handle(fault.Rule{Command: "EVALSHA", Reply: fault.Moved(slot, owner.Addr())})
	ask := fault.ErrorReply("ASK " + strconv.Itoa(slot) + " " + importing.Addr())
	owner.Handle(fault.Rule{Command: "EVALSHA", Reply: ask})
	owner.Handle(fault.Rule{Command: "EVAL", Reply: ask})
	var mu sync.Mutex
	last := ""
	importing.Handle(fault.Rule{Match: func(args []string) bool { // record the order of commands
		mu.Lock()
		defer mu.Unlock()
		prev := last
		last = strings.ToUpper(args[0])
		if last == "EVAL" && prev != "ASKING" {
			last = "EVAL-NO-ASKING"
		}
		return false
	}})
	importing.Handle(fault.Rule{Command: "ASKING", Reply: "+OK\r\n"})
	importing.Handle(fault.Rule{Command: "EVALSHA", Reply: fault.ErrorReply("NOSCRIPT No matching script.")})
	importing.Handle(fault.Rule{Command: "EVAL", Match: func([]string) bool {
		mu.Lock()
		defer mu.Unlock()
		return last == "EVAL-NO-ASKING"
	}, Reply: fault.Moved(slot, owner.Addr())}) // as Redis answers without ASKING
	importing.Handle(fault.Rule{Command: "EVAL", Reply: ":1\r\n"})
	c := newTestClient(t, Config{ClusterAddrs: []string{seed.Addr()}, PoolSize: 1})

	var b Batch
	b.AddScript(ReplyInt, NewScript("return 1"), 1, Key("{k}", ":a"))
	if err := c.Do(context.Background(), &b); err != nil || b.Replies[0].Int != 1 {
		t.Errorf("Do = %v, reply %d; importing node saw ASKING %d, EVALSHA %d, EVAL %d", err, b.Replies[0].Int,
			importing.Count("ASKING"), importing.Count("EVALSHA"), importing.Count("EVAL"))
	}
}
