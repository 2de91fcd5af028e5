package redisserver

import (
	"testing"
	"time"
)

func TestSentinelGroupFailover(t *testing.T) {
	start := time.Now()
	g := StartSentinel(t, SentinelConfig{Password: "pw", SentinelPassword: "spw"})
	t.Logf("sentinel group (master, replica, 3 sentinels) up in %v", time.Since(start))
	if len(g.SentinelAddrs()) != 3 {
		t.Fatalf("SentinelAddrs = %v", g.SentinelAddrs())
	}
	old := g.MasterAddr(t)
	if old != g.Master.Addr {
		t.Fatalf("MasterAddr = %s, want %s", old, g.Master.Addr)
	}
	g.Master.Do(t, "SET", "k", "v")
	oldMaster := g.Master

	start = time.Now()
	g.Failover(t)
	t.Logf("SENTINEL FAILOVER to a new master reporting role:master in %v", time.Since(start))
	if got := g.MasterAddr(t); got == old || got != g.Master.Addr {
		t.Fatalf("after failover MasterAddr = %s (old %s, Master %s)", got, old, g.Master.Addr)
	}
	if g.Replica != oldMaster {
		t.Fatal("Replica is not the old master after Failover")
	}
	if got := g.Master.Do(t, "GET", "k"); got != "v" {
		t.Fatalf("new master lost data: GET k = %q", got)
	}

	start = time.Now()
	g.WaitReplica(t)
	t.Logf("old master following the new one, seen by all sentinels, in %v", time.Since(start))

	// kill -9 of the master: the sentinels promote the replica on their own.
	old = g.Master.Addr
	start = time.Now()
	g.Master.Kill(t)
	g.WaitMasterChange(t, old)
	t.Logf("kill -9 of the master to a new master in %v", time.Since(start))
	if got := g.Master.Do(t, "GET", "k"); got != "v" {
		t.Fatalf("GET k after kill failover = %q", got)
	}
}
