//go:build !redisstore_nocluster

package client

import (
	"testing"

	fault "github.com/sessionx-redis/redisstore/redistest"
)

// A MOVED reply makes the Tracker forget what the node that sent it
// served.
func TestTrackingForgetsTheNodeThatSaidMoved(t *testing.T) {
	owner, other := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	for _, s := range []*fault.Server{owner, other} {
		s.Handle(fault.Rule{Command: "CLIENT", Reply: "+OK\r\n"})
	}
	owner.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(owner.Addr())})
	tr := newTracker()
	c := newTestClient(t, Config{ClusterAddrs: []string{owner.Addr()}, Tracker: tr, PoolSize: 1})
	src := readThrough(t, c, "k")
	owner.Handle(fault.Rule{Command: "GET", Times: 1, Reply: fault.Moved(KeySlot("", "k"), other.Addr())})
	owner.Handle(fault.Rule{Command: "PTTL", Times: 1, Reply: fault.Moved(KeySlot("", "k"), other.Addr())})
	moved := readThrough(t, c, "k")
	if moved == src {
		t.Fatal("read through the same connection after MOVED")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.forgotten) != 1 || tr.forgotten[0] != src {
		t.Errorf("forgotten %d Sources after MOVED, want the owner's one", len(tr.forgotten))
	}
}
