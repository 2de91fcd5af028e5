//go:build !redisstore_nocache

package redisstore

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// calls returns how many times srv ran cmd (INFO commandstats).
func calls(t testing.TB, srv *redisserver.Server, cmd string) int {
	t.Helper()
	stat := srv.Info(t, "commandstats")["cmdstat_"+cmd]
	rest, ok := strings.CutPrefix(stat, "calls=")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	return n
}

// cachedPair returns a store with a cache and a plain one, the writer of
// "another process", on srv.
func cachedPair(t *testing.T, srv *redisserver.Server, opts Options) (cached, writer *RedisStore) {
	t.Helper()
	opts.Addr = srv.Addr
	writer = openStore(t, opts)
	if opts.CacheSize == 0 {
		opts.CacheSize = 1 << 20
	}
	return openStore(t, opts), writer
}

// loadUser loads id from s and returns its "user", "" when it has none.
func loadUser(t *testing.T, s *RedisStore, id string) string {
	t.Helper()
	got, err := s.Load(id)
	if errors.Is(err, ErrSessionNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	u, _ := got.Data["user"].(string)
	return u
}

func saveUser(t *testing.T, s *RedisStore, id, user string) {
	t.Helper()
	sess := testSession(id)
	sess.Data["user"] = user
	if err := s.Save(sess); err != nil {
		t.Fatalf("Save(%s): %v", id, err)
	}
}

// waitInvalidations waits until s has dropped more than n entries on
// Redis's word (the push has been read), within 10 s.
func waitInvalidations(t *testing.T, s *RedisStore, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Cache.Invalidations <= n {
		if time.Now().After(deadline) {
			t.Fatalf("no invalidation within 10s (%+v)", s.Stats().Cache)
		}
		time.Sleep(time.Millisecond)
	}
}

// A second Load of a session nothing changed costs Redis no command.
func TestCacheServesLoadsWithoutRedis(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "c1", "alice")
	if u := loadUser(t, cached, "c1"); u != "alice" {
		t.Fatalf("first Load: user %q", u)
	}
	gets := calls(t, srv, "get")
	for range 10 {
		if u := loadUser(t, cached, "c1"); u != "alice" {
			t.Fatalf("cached Load: user %q", u)
		}
		if _, err := cached.LoadVersion(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls(t, srv, "get") - gets; n != 0 {
		t.Errorf("%d GETs for cached Loads, want 0", n)
	}
	st := cached.Stats().Cache
	if st.Hits != 20 || st.Misses != 1 || st.Entries != 1 || st.Bytes <= 0 {
		t.Errorf("Stats.Cache = %+v, want 20 hits, 1 miss, 1 entry", st)
	}
	if st := writer.Stats().Cache; st != (CacheStats{}) {
		t.Errorf("a store without CacheSize has cache stats %+v", st)
	}
}

// Each cached Load returns a session of its own: changing one changes
// neither the cache nor the next Load's.
func TestCacheLoadsAreTheCallers(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "c2", "alice")
	loadUser(t, cached, "c2")
	a, err := cached.Load("c2")
	if err != nil {
		t.Fatal(err)
	}
	a.Data["user"] = "mallory"
	if u := loadUser(t, cached, "c2"); u != "alice" {
		t.Errorf("after changing a loaded session, Load: user %q", u)
	}
}

// Another process's write reaches the cache as an invalidation, and the
// next Load reads the new value.
func TestCacheDropsWhatAnotherProcessWrites(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "c3", "alice")
	loadUser(t, cached, "c3")
	loadUser(t, cached, "c3")
	n := cached.Stats().Cache.Invalidations
	saveUser(t, writer, "c3", "bob")
	waitInvalidations(t, cached, n)
	if u := loadUser(t, cached, "c3"); u != "bob" {
		t.Fatalf("after another process's Save: user %q, want bob", u)
	}
	loadUser(t, cached, "c3")
	n = cached.Stats().Cache.Invalidations
	if err := writer.Delete("c3"); err != nil {
		t.Fatal(err)
	}
	waitInvalidations(t, cached, n)
	if u := loadUser(t, cached, "c3"); u != "" {
		t.Fatalf("after another process's Delete: user %q, want none", u)
	}
}

// The store's own writes are seen by its next Load, at once: Save, Delete
// and the session manager's conditional writes.
func TestCacheReadsItsOwnWrites(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, _ := cachedPair(t, srv, Options{})
	ctx := context.Background()
	for i := range 50 {
		user := "u" + strconv.Itoa(i)
		saveUser(t, cached, "c4", user)
		if u := loadUser(t, cached, "c4"); u != user {
			t.Fatalf("Load after Save: %q, want %q", u, user)
		}
		if u := loadUser(t, cached, "c4"); u != user {
			t.Fatalf("second Load after Save: %q, want %q", u, user)
		}
	}
	if err := cached.Delete("c4"); err != nil {
		t.Fatal(err)
	}
	if u := loadUser(t, cached, "c4"); u != "" {
		t.Fatalf("Load after Delete: user %q", u)
	}

	// Conditional writes leave the value they wrote cached: no GET after.
	st, ok, err := cached.SaveVersion(ctx, "c5", []byte(`{"id":"c5","v":1}`), nil, time.Minute, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	misses := cached.Stats().Cache.Misses
	for i := 2; i < 20; i++ {
		value := []byte(`{"id":"c5","v":` + strconv.Itoa(i) + `}`)
		if st, ok, err = cached.SaveVersion(ctx, "c5", value, st.Version, time.Minute, false); err != nil || !ok {
			t.Fatalf("SaveVersion %d: %v, %v", i, ok, err)
		}
		got, err := cached.LoadVersion(ctx, "c5")
		if err != nil || string(got.Value) != string(value) || got.TTL <= 0 || got.TTL > time.Minute {
			t.Fatalf("LoadVersion after SaveVersion %d = %q, TTL %v, %v", i, got.Value, got.TTL, err)
		}
	}
	if n := cached.Stats().Cache.Misses - misses; n != 0 {
		t.Errorf("%d misses after conditional writes, want 0: the cache dropped what it wrote", n)
	}
	// A touch keeps the value and moves its TTL.
	if _, ok, err := cached.TouchVersion(ctx, "c5", st.Version, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, err := cached.LoadVersion(ctx, "c5")
	if err != nil || got.TTL <= time.Minute {
		t.Fatalf("LoadVersion after a touch to 1h: TTL %v, %v", got.TTL, err)
	}
	// Retire and Revoke leave markers, seen at once.
	if _, ok, err := cached.Retire(ctx, "c5", got.Version, session.Marker{At: time.Now()}, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got, err := cached.LoadVersion(ctx, "c5"); err != nil || got.Marker == nil {
		t.Fatalf("LoadVersion after Retire = %+v, %v", got, err)
	}
	saveUser(t, cached, "c6", "alice")
	loadUser(t, cached, "c6")
	if _, err := cached.Revoke(ctx, "c6", session.Marker{At: time.Now()}, time.Minute, false); err != nil {
		t.Fatal(err)
	}
	if u := loadUser(t, cached, "c6"); u != "" {
		t.Fatalf("Load after Revoke: user %q", u)
	}
}

// What a conditional write left cached is still tracked: another
// process's write after it reaches the cache. (The connection has NOLOOP,
// and a write ends the server's tracking of the key: the script reads the
// key again after writing it.)
func TestCacheTracksWhatItWrote(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	ctx := context.Background()
	st, ok, err := cached.SaveVersion(ctx, "c7", []byte(`{"id":"c7","data":{"user":"alice"}}`), nil, time.Minute, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err = cached.SaveVersion(ctx, "c7", []byte(`{"id":"c7","data":{"user":"carol"}}`), st.Version, time.Minute, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if u := loadUser(t, cached, "c7"); u != "carol" {
		t.Fatalf("Load after SaveVersion: user %q", u)
	}
	if st := cached.Stats().Cache; st.Misses != 0 {
		t.Fatalf("the value written was not kept: %+v", st)
	}
	n := cached.Stats().Cache.Invalidations
	saveUser(t, writer, "c7", "bob")
	waitInvalidations(t, cached, n)
	if u := loadUser(t, cached, "c7"); u != "bob" {
		t.Fatalf("after another process's Save: user %q, want bob", u)
	}
}

// With EncryptionKeys the cache keeps the sealed bytes and each Load opens
// a copy: the third Load (the second served from the cache) opens as the
// first did. (Load opened in place, so the cached bytes were plaintext
// after the first hit, and the next one failed as tampered.)
func TestCacheOfSealedValues(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	key := bytes.Repeat([]byte{7}, 32)
	for _, hashed := range []bool{false, true} {
		prefix := "sealed" + strconv.FormatBool(hashed) + ":"
		opts := Options{Addr: srv.Addr, Prefix: prefix, EncryptionKeys: [][]byte{key}, HashKeys: hashed}
		writer := openStore(t, opts)
		opts.CacheSize = 1 << 20
		cached := openStore(t, opts)
		saveUser(t, writer, "s1", "alice")
		for i := range 5 {
			if u := loadUser(t, cached, "s1"); u != "alice" {
				t.Fatalf("HashKeys %v, Load %d: user %q", hashed, i, u)
			}
			if _, err := cached.LoadVersion(context.Background(), "s1"); err != nil {
				t.Fatalf("HashKeys %v, LoadVersion %d: %v", hashed, i, err)
			}
		}
		if st := cached.Stats(); st.Cache.Hits != 9 || st.UnopenedValues != 0 {
			t.Errorf("HashKeys %v: %d hits, %d values that did not open; want 9, 0", hashed, st.Cache.Hits, st.UnopenedValues)
		}
		n := cached.Stats().Cache.Invalidations
		saveUser(t, writer, "s1", "bob")
		waitInvalidations(t, cached, n)
		if u := loadUser(t, cached, "s1"); u != "bob" {
			t.Fatalf("HashKeys %v, after another process's Save: %q", hashed, u)
		}
	}
}

// LoadVersion's Value and Version are the caller's: changing them changes
// neither the cache nor the next Load.
func TestCacheLoadVersionIsTheCallers(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "lv", "alice")
	for range 2 {
		st, err := cached.LoadVersion(context.Background(), "lv")
		if err != nil {
			t.Fatal(err)
		}
		clear(st.Value)
		clear(st.Version)
	}
	if u := loadUser(t, cached, "lv"); u != "alice" {
		t.Fatalf("after changing what LoadVersion returned: %q", u)
	}
}

// A conditional write that the server first answers NOSCRIPT (a new
// server, SCRIPT FLUSH, a failover) is sent again with EVAL, and the cache
// keeps what that wrote: the error reply, a write that did not run, drops
// nothing.
func TestCacheKeepsAWriteRetriedAfterNoScript(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, _ := cachedPair(t, srv, Options{})
	ctx := context.Background()
	for i := range 3 {
		srv.Do(t, "SCRIPT", "FLUSH")
		id := "ns" + strconv.Itoa(i)
		if _, ok, err := cached.SaveVersion(ctx, id, []byte(`{"id":"`+id+`"}`), nil, time.Minute, false); err != nil || !ok {
			t.Fatal(ok, err)
		}
		misses := cached.Stats().Cache.Misses
		if _, err := cached.LoadVersion(ctx, id); err != nil {
			t.Fatal(err)
		}
		if cached.Stats().Cache.Misses != misses {
			t.Fatalf("the write after SCRIPT FLUSH was not kept: %+v", cached.Stats().Cache)
		}
	}
}

// A cancelled context gets its error from a cached Load too, as without
// the cache.
func TestCacheHitHonoursTheContext(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "ctx", "alice")
	loadUser(t, cached, "ctx")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cached.LoadContext(ctx, "ctx"); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadContext with a cancelled context = %v", err)
	}
	if _, err := cached.LoadVersion(ctx, "ctx"); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadVersion with a cancelled context = %v", err)
	}
}
