//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/session"
)

// counterValue is a session whose data is a counter n.
func counterValue(id string, n int) []byte {
	return []byte(`{"id":"` + id + `","data":{"n":` + strconv.Itoa(n) + `}}`)
}

func counterOf(t testing.TB, v []byte) int {
	var s struct {
		Data struct{ N int } `json:"data"`
	}
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("value %q: %v", v, err)
	}
	return s.Data.N
}

// Goroutines of a caching store and of another process increment one
// session's counter with conditional writes. Every goroutine of the
// caching store reads, after its own write returned, what it wrote or
// later, and never reads the counter go back: the cache serves no value
// older than one this process already saw.
func TestCacheConcurrentWritersNeverReadBack(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{PoolSize: 4})
	ctx := context.Background()
	const id = "counter"
	if _, ok, err := writer.SaveVersion(ctx, id, counterValue(id, 0), nil, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	const perGoroutine = 150
	var wg sync.WaitGroup
	var wrote atomic.Int64
	incr := func(s *RedisStore, check bool) {
		seen := 0
		for wrote := 0; wrote < perGoroutine; {
			st, err := s.LoadVersion(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			n := counterOf(t, st.Value)
			if check && n < seen {
				t.Errorf("read %d after %d", n, seen)
				return
			}
			seen = n
			_, ok, err := s.SaveVersion(ctx, id, counterValue(id, n+1), st.Version, time.Minute, false)
			if err != nil {
				t.Error(err)
				return
			}
			if !ok {
				continue
			}
			wrote++
			seen = n + 1
		}
	}
	for g := range 6 {
		wg.Go(func() {
			s := cached
			if g%3 == 2 {
				s = writer
			}
			incr(s, s == cached)
			wrote.Add(perGoroutine)
		})
	}
	wg.Wait()
	// Every increment landed once: the conditional writes did not lose
	// one, and the final value is read by both stores.
	want := int(wrote.Load())
	for _, s := range []*RedisStore{writer, cached} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := s.LoadVersion(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n := counterOf(t, st.Value); n == want {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("counter %d, want %d", n, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	st := cached.Stats().Cache
	t.Logf("cache: %+v", st)
	if st.Hits == 0 || st.Invalidations == 0 {
		t.Errorf("the test did not exercise the cache: %+v", st)
	}
}

// A connection that ends takes what was read through it along: once the
// store has seen it end, another process's write is read.
func TestCacheConnectionKill(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	for i := range 20 {
		saveUser(t, writer, "k", "before"+strconv.Itoa(i))
		for loadUser(t, cached, "k") != "before"+strconv.Itoa(i) {
			time.Sleep(time.Millisecond) // the invalidation of the last round
		}
		loadUser(t, cached, "k") // cached
		if st := cached.Stats().Cache; st.Entries != 1 {
			t.Fatalf("not cached: %+v", st)
		}
		srv.Do(t, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
		deadline := time.Now().Add(10 * time.Second)
		for cached.Stats().Cache.Entries != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the killed connection's entries were not dropped within 10s")
			}
			time.Sleep(time.Millisecond)
		}
		// The server no longer tracks anything for the store: only the
		// end of the connection tells it that this write happened.
		saveUser(t, writer, "k", "after"+strconv.Itoa(i))
		if u := loadUser(t, cached, "k"); u != "after"+strconv.Itoa(i) {
			t.Fatalf("after a kill and another process's Save: user %q", u)
		}
	}
}

// A Sentinel failover ends the connections to the old master: once the
// store is on the new one, nothing read from the old one is served.
func TestCacheSentinelFailover(t *testing.T) {
	t.Parallel()
	g := redisserver.StartSentinel(t, redisserver.SentinelConfig{DownAfter: time.Second})
	opts := Options{SentinelAddrs: g.SentinelAddrs(), MasterName: g.MasterName}
	writer := openStore(t, opts)
	opts.CacheSize = 1 << 20
	cached := openStore(t, opts)
	for i := range 20 {
		saveUser(t, writer, "f"+strconv.Itoa(i), "alice")
		loadUser(t, cached, "f"+strconv.Itoa(i))
	}
	if st := cached.Stats().Cache; st.Entries != 20 {
		t.Fatalf("%d entries before the failover, want 20", st.Entries)
	}
	old := g.Master
	old.Do(t, "CLIENT", "PAUSE", "120000", "WRITE")
	g.Failover(t)
	old.Do(t, "REPLICAOF", "127.0.0.1", fmt.Sprint(g.Master.Port))
	old.Do(t, "CLIENT", "UNPAUSE")
	if !waitFor(15*time.Second, func() bool { return cached.c.Addrs()[0] == g.Master.Addr }) {
		t.Fatalf("the store still uses %s", cached.c.Addrs()[0])
	}
	for i := range 20 {
		id := "f" + strconv.Itoa(i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sess := testSession(id)
		sess.Data["user"] = "bob"
		for writer.SaveContext(ctx, sess) != nil && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond) // the writer following the failover
		}
		cancel()
		if u := loadUser(t, cached, id); u != "bob" {
			t.Fatalf("%s after the failover: user %q, want bob", id, u)
		}
	}
}

// On a Redis Cluster each node tracks what was read from it, and a slot
// that moves leaves nothing stale behind.
func TestCacheCluster(t *testing.T) {
	t.Parallel()
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	writer := openStore(t, Options{ClusterAddrs: c.Addrs()[:1]})
	cached := openStore(t, Options{ClusterAddrs: c.Addrs()[:1], CacheSize: 1 << 20})
	const n = 60
	for i := range n {
		saveUser(t, writer, "cl"+strconv.Itoa(i), "alice")
		loadUser(t, cached, "cl"+strconv.Itoa(i))
	}
	gets := 0
	for _, m := range c.Masters(t) {
		gets += calls(t, m, "get")
	}
	for i := range n {
		if u := loadUser(t, cached, "cl"+strconv.Itoa(i)); u != "alice" {
			t.Fatalf("cached Load: %q", u)
		}
	}
	for _, m := range c.Masters(t) {
		gets -= calls(t, m, "get")
	}
	if gets != 0 {
		t.Errorf("%d GETs for cached Loads, want 0", -gets)
	}
	inv := cached.Stats().Cache.Invalidations
	for i := range n {
		saveUser(t, writer, "cl"+strconv.Itoa(i), "bob")
	}
	deadline := time.Now().Add(10 * time.Second)
	for cached.Stats().Cache.Invalidations < inv+n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		if u := loadUser(t, cached, "cl"+strconv.Itoa(i)); u != "bob" {
			t.Fatalf("after another process's write: %q", u)
		}
	}

	// A slot moves while both stores work on its keys; then every key
	// reads as the writer left it.
	slot := client.KeySlot("sessionx:", "{mv}")
	src := c.MasterFor(t, slot)
	var dst *redisserver.Server
	for _, m := range c.Masters(t) {
		if m != src {
			dst = m
			break
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	last := make([]atomic.Int64, 10)
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := i % len(last)
			if err := writer.Save(counterSession(fmt.Sprintf("{mv}%d", k), i)); err == nil {
				last[k].Store(int64(i))
			}
		}
	})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cached.Load(fmt.Sprintf("{mv}%d", i%len(last)))
		}
	})
	migrate(t, c, slot, src, dst)
	time.Sleep(100 * time.Millisecond) // both still at work after the move
	close(stop)
	wg.Wait()
	for k := range last {
		id := fmt.Sprintf("{mv}%d", k)
		want := int(last[k].Load())
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := cached.Load(id)
			if err == nil && got.Data["n"] == float64(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v, %v; want n=%d", id, got, err, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// counterSession is session id with data n.
func counterSession(id string, n int) *session.Session {
	s := testSession(id)
	s.Data["n"] = n
	return s
}

// A connection that goes silent (a partition: no FIN, no RST) is found by
// the health check, and what was read through it is then no longer
// served: within HealthCheckInterval + ReadTimeout of the last reply.
func TestCacheSilentConnection(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	proxy := redistest.StartProxy(t, srv.Addr)
	cached := openStore(t, Options{Addr: proxy.Addr(), CacheSize: 1 << 20,
		HealthCheckInterval: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	writer := openStore(t, Options{Addr: srv.Addr})
	saveUser(t, writer, "quiet", "alice")
	loadUser(t, cached, "quiet")
	if st := cached.Stats().Cache; st.Entries != 1 {
		t.Fatalf("not cached: %+v", st)
	}
	checks := cached.Stats().HealthChecks
	proxy.Partition()
	defer proxy.Heal()
	saveUser(t, writer, "quiet", "bob") // its invalidation is held by the partition
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for cached.Stats().Cache.Entries != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the silent connection's entries are still held after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if cached.Stats().HealthChecks == checks {
		t.Error("dropped without a health check")
	}
	t.Logf("dropped %v after the partition (bound: HealthCheckInterval + ReadTimeout = 400ms)", time.Since(start).Round(time.Millisecond))
	proxy.Heal()
	if u := loadUser(t, cached, "quiet"); u != "bob" {
		t.Fatalf("after the partition: user %q", u)
	}
}

// An ACL user without CLIENT runs without the cache: every Load reads
// Redis, and Logger says so once.
func TestCacheOffForAnACLUserWithoutClient(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -client"}})
	log := &argLogger{}
	s := openStore(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", CacheSize: 1 << 20, Logger: log})
	saveUser(t, s, "acl", "alice")
	before := calls(t, srv, "get")
	for range 5 {
		if u := loadUser(t, s, "acl"); u != "alice" {
			t.Fatalf("Load: %q", u)
		}
	}
	if n := calls(t, srv, "get") - before; n != 5 {
		t.Errorf("%d GETs for 5 Loads, want 5", n)
	}
	if w := log.warningsWith("client-side cache is off"); len(w) != 1 || !strings.Contains(w[0], "NOPERM") {
		t.Errorf("warnings: %q", w)
	}
}
