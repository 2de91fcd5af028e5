//go:build !redisstore_nocluster

package client

import (
	"context"
	"strconv"
	"strings"
	"testing"

	fault "github.com/sessionx-redis/redisstore/redistest"
)

// slotsReply is a CLUSTER SLOTS reply giving every slot to the server at addr.
func slotsReply(addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$" + strconv.Itoa(len(host)) + "\r\n" + host + "\r\n:" + port + "\r\n"
}

// Under an ASK redirection every command sent to the importing node goes
// after its own ASKING (the flag lasts one command), only the commands the
// source answered with ASK go there, and the replies still reach the right
// commands.
func TestAskPrecedesEachCommandOfABatch(t *testing.T) {
	owner, importing := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	owner.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(owner.Addr())})
	importing.Handle(fault.Rule{Command: "ASKING", Reply: "+OK\r\n"})
	slot := KeySlot("{k}", ":a")
	owner.Handle(fault.Rule{Command: "SET", Times: 1, Reply: fault.ErrorReply("ASK " + strconv.Itoa(slot) + " " + importing.Addr())})
	owner.Handle(fault.Rule{Command: "GET", Times: 1, Reply: fault.ErrorReply("ASK " + strconv.Itoa(slot) + " " + importing.Addr())})
	c := newTestClient(t, Config{ClusterAddrs: []string{owner.Addr()}})

	var b Batch
	b.Add(ReplyOK, "SET", Key("{k}", ":a"), Str("1"))
	b.Add(ReplyBulk, "GET", Key("{k}", ":a"))
	b.Add(ReplyBulk, "GET", Key("{k}", ":missing"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if string(b.Replies[1].Bulk) != "1" || !b.Replies[2].Null {
		t.Errorf("replies after ASK: %q, null %v", b.Replies[1].Bulk, b.Replies[2].Null)
	}
	if a, s, g := importing.Count("ASKING"), importing.Count("SET"), importing.Count("GET"); a != 2 || s != 1 || g != 1 {
		t.Errorf("importing node saw ASKING %d, SET %d, GET %d; want 2, 1, 1 (the last GET ran on the source)", a, s, g)
	}
}
