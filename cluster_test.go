package redisstore

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

func TestClusterSpreadsAndFollowsSlotMigration(t *testing.T) {
	t.Parallel()
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	s := openStore(t, Options{ClusterAddrs: c.Addrs()[:1]})
	for i := range 300 {
		roundTrip(t, s, "spread-"+strconv.Itoa(i))
	}
	for _, m := range c.Masters(t) {
		if n, _ := strconv.Atoi(m.Do(t, "DBSIZE")); n == 0 {
			t.Errorf("master %s holds no session", m.Addr)
		}
	}

	// A load on keys of one slot (hash tag {mig}) while that slot moves.
	slot := client.KeySlot("sessionx:", "{mig}")
	src := c.MasterFor(t, slot)
	var dst *redisserver.Server
	for _, m := range c.Masters(t) {
		if m != src {
			dst = m
			break
		}
	}
	stop := make(chan struct{})
	var ops, fails atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("{mig}-%d-%d", w, i%200)
				ops.Add(1)
				if err := s.Save(testSession(id)); err != nil {
					fails.Add(1)
					t.Errorf("Save(%s) = %v", id, err)
					continue
				}
				if got, err := s.Load(id); err != nil || got.ID != id {
					fails.Add(1)
					t.Errorf("Load(%s) = %v, %v", id, got, err)
				}
			}
		}()
	}
	// The load is running before the migration starts, and after it ends
	// (waiting for operations, not a fixed time: under load 300 ms could see
	// none).
	waitOps := func(n int64) {
		t.Helper()
		want := ops.Load() + n
		if !waitFor(20*time.Second, func() bool { return ops.Load() >= want }) {
			close(stop)
			wg.Wait()
			t.Fatalf("the load made %d of %d operations", ops.Load(), want)
		}
	}
	waitOps(200)
	migrate(t, c, slot, src, dst)
	waitOps(200)
	close(stop)
	wg.Wait()
	if c.MasterFor(t, slot) != dst {
		t.Errorf("slot %d did not move", slot)
	}
	t.Logf("%d Save+Load pairs during the migration of slot %d, %d failures", ops.Load(), slot, fails.Load())
	roundTrip(t, s, "{mig}-after")
	if n := dst.Do(t, "EXISTS", "sessionx:{mig}-after"); n != "1" {
		t.Errorf("session not on the new owner: EXISTS = %s", n)
	}
}

// migrate moves slot from src to dst with its keys, as redis-cli --cluster
// reshard does.
func migrate(t *testing.T, c *redisserver.Cluster, slot int, src, dst *redisserver.Server) {
	t.Helper()
	srcID, dstID := src.Do(t, "CLUSTER", "MYID"), dst.Do(t, "CLUSTER", "MYID")
	sl := strconv.Itoa(slot)
	dst.Do(t, "CLUSTER", "SETSLOT", sl, "IMPORTING", srcID)
	src.Do(t, "CLUSTER", "SETSLOT", sl, "MIGRATING", dstID)
	for {
		out := strings.Fields(src.Do(t, "CLUSTER", "GETKEYSINSLOT", sl, "20"))
		if len(out) == 0 {
			break
		}
		args := append([]string{"MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port), "", "0", "5000", "REPLACE", "KEYS"}, out...)
		src.Do(t, args...)
		time.Sleep(20 * time.Millisecond)
	}
	// The order Redis documents: the new owner first, then the old one,
	// then the others (the other way round, the two bounce MOVED between
	// them for a moment).
	dst.Do(t, "CLUSTER", "SETSLOT", sl, "NODE", dstID)
	src.Do(t, "CLUSTER", "SETSLOT", sl, "NODE", dstID)
	for _, m := range c.Masters(t) {
		if m != src && m != dst {
			m.Do(t, "CLUSTER", "SETSLOT", sl, "NODE", dstID)
		}
	}
}

func TestClusterFindsPromotedReplica(t *testing.T) {
	t.Parallel()
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{ReplicasPerMaster: 1})
	s := openStore(t, Options{ClusterAddrs: c.Addrs()})
	id := "promoted"
	roundTrip(t, s, id)
	m := c.MasterFor(t, client.KeySlot("sessionx:", id))
	start := time.Now()
	m.Kill(t)
	// Saves keep failing over to retries until the replica takes over.
	var err error
	for time.Since(start) < 20*time.Second {
		if err = s.Save(testSession(id)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Save after the master died = %v", err)
	}
	t.Logf("writes to the slot resumed %v after kill -9 of its master", time.Since(start).Round(time.Millisecond))
	// The store found the promoted replica; the node MasterFor asks may
	// learn of it a moment later. Wait for every node to agree.
	c.WaitOK(t)
	if got := c.MasterFor(t, client.KeySlot("sessionx:", id)); got == m {
		t.Fatalf("slot still on the dead master")
	}
	roundTrip(t, s, id)
}

func TestClusterRoutingAddsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Log("allocation counts need a build without -race: scripts/test.sh runs this test again without it")
		return
	}
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	single := redisserver.Start(t, redisserver.Config{})
	cs := openStore(t, Options{ClusterAddrs: c.Addrs()})
	ss := openStore(t, Options{Addr: single.Addr})
	measure := func(s *RedisStore) float64 {
		roundTrip(t, s, "alloc")
		return testing.AllocsPerRun(200, func() { s.Load("alloc") })
	}
	one, clus := measure(ss), measure(cs)
	t.Logf("allocations per Load: single %v, cluster %v", one, clus)
	if clus > one {
		t.Errorf("cluster Load allocates %v, single %v", clus, one)
	}
}

// BenchmarkLoadRouting compares Load on one server with Load through the
// cluster slot map: routing must add no allocation per command.
func BenchmarkLoadRouting(b *testing.B) {
	c := redisserver.StartCluster(b, redisserver.ClusterConfig{})
	single := redisserver.Start(b, redisserver.Config{})
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"topology=single", Options{Addr: single.Addr}},
		{"topology=cluster", Options{ClusterAddrs: c.Addrs()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewRedisStore(tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Save(testSession("routing")); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load("routing"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
