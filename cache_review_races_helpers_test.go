//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/session"
)

// gateTracker is the store's cache as the client's Tracker, with gates: an
// armed gate holds the first Invalidate of its key on the connection's
// reader goroutine until the test releases it. That is a reader goroutine
// that is late (descheduled, or its connection's bytes delayed by the
// network: a lost segment retransmitted), which nothing in the design
// rules out; every connection still reads its own stream in order.
type gateTracker struct {
	client.Tracker
	mu    sync.Mutex
	gates map[string]*gate
}

type gate struct {
	entered, release chan struct{}
	once             sync.Once
	used             bool
}

func (g *gateTracker) arm(key string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates == nil {
		g.gates = make(map[string]*gate)
	}
	gt := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	g.gates[key] = gt
	return gt
}

func (gt *gate) open() { gt.once.Do(func() { close(gt.release) }) }

// wait waits until the gate holds a reader, within 10 s.
func (gt *gate) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-gt.entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no invalidation reached the gate of %s within 10s", what)
	}
}

func (g *gateTracker) Invalidate(src *client.Source, key string) {
	g.mu.Lock()
	gt := g.gates[key]
	hold := gt != nil && !gt.used
	if hold {
		gt.used = true
	}
	g.mu.Unlock()
	if hold {
		close(gt.entered)
		<-gt.release
	}
	g.Tracker.Invalidate(src, key)
}

// openGatedStore is openStore with a cache whose Tracker is g (newStore,
// but for the Tracker).
func openGatedStore(t *testing.T, opts Options, g *gateTracker) *RedisStore {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := newSealer(opts.EncryptionKeys, cfg.ReadPlaintext, cfg.HashKeys, cfg.client.Logger)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := newLocalCache(cfg.CacheSize, cfg.CacheTTL)
	if err != nil || lc == nil {
		t.Fatal("no cache", err)
	}
	g.Tracker = lc
	ccfg := *cfg.client
	ccfg.Tracker = g
	c, err := client.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &RedisStore{cfg: cfg, id: func(s *session.Session) string { return s.ID }, codec: sessionCodec, c: c, seal: seal, cache: lc}
	s.ttl.Store(int64(cfg.TTL))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, gt := range g.gates {
			gt.open()
		}
		g.mu.Unlock()
		s.Close()
	})
	return s
}

// bigCounter is session id holding counter n, padded past 64 KiB so that
// a write of it goes through the bulk connection.
func bigCounter(id string, n int) []byte {
	return []byte(`{"id":"` + id + `","data":{"n":` + strconv.Itoa(n) + `,"pad":"` + strings.Repeat("x", 70<<10) + `"}}`)
}

// counterIn returns the counter of a session value, -1 for none.
func counterIn(t testing.TB, v []byte) int {
	t.Helper()
	if v == nil {
		return -1
	}
	var s struct {
		Data struct{ N int } `json:"data"`
	}
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("value %.40q: %v", v, err)
	}
	return s.Data.N
}

// location is the cache shard and generation stripe of the session id
// (internal/cache.locate).
func location(prefix, id string) (shard, stripe uint32) {
	h := client.KeyHash(prefix, id)
	return h % 16, h / 16 % 64
}

// keyLike returns an ID with stem as its start whose key goes to the same
// shared pipe as id's (of n shared pipes) and lies in another cache shard.
func keyLike(stem, id string, n int, samePipe bool) string {
	h := client.KeyHash("sessionx:", id)
	for i := 0; ; i++ {
		c := stem + strconv.Itoa(i)
		hc := client.KeyHash("sessionx:", c)
		if hc%16 == h%16 {
			continue
		}
		if samePipe && hc%uint32(n) != h%uint32(n) {
			continue
		}
		return c
	}
}

// waitUntil polls cond every millisecond for 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// rvLoad reads id through s, its counter (-1: none).
func rvLoad(t *testing.T, s *RedisStore, id string) int {
	t.Helper()
	st, err := s.LoadVersion(context.Background(), id)
	if err != nil {
		t.Fatalf("LoadVersion(%s): %v", id, err)
	}
	return counterIn(t, st.Value)
}
