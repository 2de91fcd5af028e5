package redisserver

import (
	"strconv"
	"testing"
	"time"
)

func TestClusterCoversAllSlotsAndFailsOver(t *testing.T) {
	start := time.Now()
	c := StartCluster(t, ClusterConfig{Masters: 3, ReplicasPerMaster: 1})
	t.Logf("cluster of 3 masters + 3 replicas up in %v", time.Since(start))
	if len(c.Nodes) != 6 || len(c.Addrs()) != 6 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	covered := 0
	masters := map[string]bool{}
	for _, m := range c.Masters(t) {
		masters[m.Addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("masters = %v", masters)
	}
	for _, slot := range []int{0, 5460, 5461, 10922, 10923, SlotCount - 1} {
		m := c.MasterFor(t, slot)
		if !masters[m.Addr] {
			t.Fatalf("MasterFor(%d) = %s, not a master", slot, m.Addr)
		}
		covered++
	}
	// A key lands on the master MasterFor names.
	slot, err := strconv.Atoi(c.Nodes[0].Do(t, "CLUSTER", "KEYSLOT", "session:{a}"))
	if err != nil {
		t.Fatal(err)
	}
	m := c.MasterFor(t, slot)
	if got := m.Do(t, "SET", "session:{a}", "1"); got != "OK" {
		t.Fatalf("SET on %s = %q", m.Addr, got)
	}
	replicas := c.ReplicasOf(t, m)
	if len(replicas) != 1 {
		t.Fatalf("ReplicasOf(%s) = %d nodes", m.Addr, len(replicas))
	}
	// Replication is asynchronous: without WAIT the kill below can beat
	// the SET to the replica (seen once in CI: the promoted replica had no
	// value).
	if got := m.Do(t, "WAIT", "1", "10000"); got != "1" {
		t.Fatalf("WAIT 1 on %s = %q: the replica did not acknowledge the SET", m.Addr, got)
	}

	// kill -9 the master: its replica takes over.
	start = time.Now()
	m.Kill(t)
	c.WaitOK(t)
	t.Logf("kill -9 of a master to cluster_state:ok again in %v", time.Since(start))
	if got := c.MasterFor(t, slot); got != replicas[0] {
		t.Fatalf("after kill MasterFor(%d) = %s, want promoted replica %s", slot, got.Addr, replicas[0].Addr)
	}
	if got := replicas[0].Do(t, "GET", "session:{a}"); got != "1" {
		t.Fatalf("promoted replica: GET = %q", got)
	}

	// The old master comes back as a replica.
	start = time.Now()
	m.Restart(t)
	c.WaitOK(t)
	t.Logf("restarted old master rejoined in %v", time.Since(start))
}

func TestClusterWithoutReplicas(t *testing.T) {
	start := time.Now()
	c := StartCluster(t, ClusterConfig{Password: "cpw"})
	t.Logf("cluster of 3 masters up in %v", time.Since(start))
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	seen := map[*Server]bool{}
	for slot := 0; slot < SlotCount; slot += 1000 {
		seen[c.MasterFor(t, slot)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("slots spread over %d masters, want 3", len(seen))
	}
}

func TestParseClusterNodes(t *testing.T) {
	out := "07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected\n" +
		"e7d1 127.0.0.1:30001@31001,host myself,master - 0 0 1 connected 0-5460 7000 [5461->-292f]\n" +
		"292f 127.0.0.1:30002@31002 master,fail - 0 0 2 disconnected"
	nodes, err := parseClusterNodes(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	tests := []struct {
		i                      int
		addr, masterID         string
		master, myself, failed bool
		slots                  int
	}{
		{0, "127.0.0.1:30004", "e7d1", false, false, false, 0},
		{1, "127.0.0.1:30001", "-", true, true, false, 2},
		{2, "127.0.0.1:30002", "-", true, false, true, 0},
	}
	for _, tt := range tests {
		n := nodes[tt.i]
		if n.addr != tt.addr || n.masterID != tt.masterID || n.master != tt.master || n.myself != tt.myself || n.failed != tt.failed || len(n.slots) != tt.slots {
			t.Errorf("node %d = %+v", tt.i, n)
		}
	}
	if got := nodes[1].slots; got[0] != [2]int{0, 5460} || got[1] != [2]int{7000, 7000} {
		t.Errorf("slots = %v", got)
	}
}
