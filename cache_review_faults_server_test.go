//go:build !redisstore_nocache

package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/redistest"
)

// SWAPDB from another client changes what the store's DB holds under every
// key, and Redis sends no invalidation for it: a cached Load must not keep
// serving the swapped-out value.
func TestCacheReviewSwapDB(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cached, writer := cachedPair(t, srv, Options{})
	saveUser(t, writer, "sw", "alice")
	if u := loadUser(t, cached, "sw"); u != "alice" {
		t.Fatalf("first Load: %q", u)
	}
	loadUser(t, cached, "sw")
	// DB 1 holds bob under the same key; swap it in.
	other := openStore(t, Options{Addr: srv.Addr, DB: 1})
	saveUser(t, other, "sw", "bob")
	srv.Do(t, "SWAPDB", "0", "1")
	time.Sleep(200 * time.Millisecond)
	if u := loadUser(t, writer, "sw"); u != "bob" {
		t.Fatalf("uncached store after SWAPDB: %q, want bob", u)
	}
	if u := loadUser(t, cached, "sw"); u != "bob" {
		t.Errorf("cached Load 200ms after SWAPDB: user %q, Redis holds bob (cache %+v)", u, cached.Stats().Cache)
	}
}

// A Save whose context ends after Redis ran its SET but before the reply
// came back returns the context's error. Without the cache, a Load right
// after is queued behind that SET on the key's connection and reads what
// it wrote; with the cache it must not serve the value the SET replaced.
func TestCacheReviewCancelledSaveThenLoad(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	for _, size := range []int{0, 1 << 20} {
		proxy := redistest.StartProxy(t, srv.Addr)
		s := openStore(t, Options{Addr: proxy.Addr(), CacheSize: size})
		saveUser(t, s, "cs", "alice")
		loadUser(t, s, "cs")
		loadUser(t, s, "cs")
		proxy.SetDelay(300 * time.Millisecond) // SET applied at ~300ms, its reply read at ~600ms
		sess := testSession("cs")
		sess.Data["user"] = "bob"
		ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
		err := s.SaveContext(ctx, sess)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CacheSize %d: SaveContext: %v, want the deadline", size, err)
		}
		got := srv.Do(t, "GET", "sessionx:cs")
		if !strings.Contains(got, "bob") {
			t.Fatalf("Redis did not run the SET in time: %q", got)
		}
		if u := loadUser(t, s, "cs"); u != "bob" {
			t.Errorf("CacheSize %d: Load after a Save that timed out once Redis had run its SET: user %q, Redis holds bob (cache %+v)", size, u, s.Stats().Cache)
		}
		proxy.SetDelay(0)
	}
}

// The same for a logout: a Delete that times out once Redis ran its DEL.
// Without the cache the next Load finds no session; with it, the deleted
// session must not come back from memory.
func TestCacheReviewCancelledDeleteThenLoad(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	for _, size := range []int{0, 1 << 20} {
		proxy := redistest.StartProxy(t, srv.Addr)
		s := openStore(t, Options{Addr: proxy.Addr(), CacheSize: size})
		saveUser(t, s, "cd", "alice")
		loadUser(t, s, "cd")
		proxy.SetDelay(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
		err := s.DeleteContext(ctx, "cd")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CacheSize %d: DeleteContext: %v, want the deadline", size, err)
		}
		if got := srv.Do(t, "EXISTS", "sessionx:cd"); strings.TrimSpace(got) != "0" {
			t.Fatalf("Redis did not run the DEL in time: %q", got)
		}
		if u := loadUser(t, s, "cd"); u != "" {
			t.Errorf("CacheSize %d: Load after a Delete that timed out once Redis had run its DEL: user %q, Redis holds nothing", size, u)
		}
		proxy.SetDelay(0)
	}
}

// Changes made by other clients in ways other than a plain write: each
// must reach the cache (within the 10s waitInvalidations allows) or the
// value must not be served.
func TestCacheReviewOtherClientsChanges(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, srv *redisserver.Server, writer *RedisStore)
		want   string // user after the change; "" none
	}{
		{"script from another client", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			srv.Do(t, "EVAL", "redis.call('DEL', KEYS[1]); return redis.call('SET', KEYS[1], ARGV[1])", "1", "sessionx:oc", `{"id":"oc","data":{"user":"bob"}}`)
		}, "bob"},
		{"MULTI/EXEC from another client", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			nc, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			v := `{"id":"oc","data":{"user":"bob"}}`
			fmt.Fprintf(nc, "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$11\r\nsessionx:oc\r\n$%d\r\n%s\r\n*1\r\n$4\r\nEXEC\r\n", len(v), v)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(nc)
			for _, want := range []string{"+OK", "+QUEUED", "*1", "+OK"} {
				line, err := br.ReadString('\n')
				if err != nil || strings.TrimSpace(line) != want {
					t.Fatalf("MULTI/EXEC: %q, %v; want %s", line, err, want)
				}
			}
		}, "bob"},
		{"COPY from DB 1 with REPLACE", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			other := openStore(t, Options{Addr: srv.Addr, DB: 1})
			saveUser(t, other, "oc", "bob")
			srv.Do(t, "EVAL", "redis.call('SELECT', 1); return redis.call('COPY', KEYS[1], KEYS[1], 'DB', 0, 'REPLACE')", "1", "sessionx:oc")
		}, "bob"},
		{"MOVE to DB 1", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			srv.Do(t, "MOVE", "sessionx:oc", "1")
		}, ""},
		{"RENAME onto it", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			saveUser(t, w, "oc2", "bob")
			srv.Do(t, "RENAME", "sessionx:oc2", "sessionx:oc")
		}, "bob"},
		{"FLUSHDB", func(t *testing.T, srv *redisserver.Server, w *RedisStore) { srv.Do(t, "FLUSHDB") }, ""},
		{"FLUSHALL ASYNC", func(t *testing.T, srv *redisserver.Server, w *RedisStore) { srv.Do(t, "FLUSHALL", "ASYNC") }, ""},
		{"DEBUG RELOAD after a change the RDB holds", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			srv.Do(t, "SET", "sessionx:oc", `{"id":"oc","data":{"user":"bob"}}`)
			srv.Do(t, "DEBUG", "RELOAD")
		}, "bob"},
		{"PEXPIRE 1", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			srv.Do(t, "PEXPIRE", "sessionx:oc", "1")
			time.Sleep(5 * time.Millisecond)
		}, ""},
		{"RESTORE REPLACE", func(t *testing.T, srv *redisserver.Server, w *RedisStore) {
			saveUser(t, w, "oc3", "bob")
			srv.Do(t, "EVAL", "local d = redis.call('DUMP', KEYS[2]); return redis.call('RESTORE', KEYS[1], 0, d, 'REPLACE')", "2", "sessionx:oc", "sessionx:oc3")
		}, "bob"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{Args: []string{"--enable-debug-command", "yes"}})
			cached, writer := cachedPair(t, srv, Options{})
			saveUser(t, writer, "oc", "alice")
			loadUser(t, cached, "oc")
			loadUser(t, cached, "oc")
			tc.change(t, srv, writer)
			if u := loadUser(t, writer, "oc"); u != tc.want {
				t.Fatalf("uncached Load after the change: %q, want %q", u, tc.want)
			}
			deadline := time.Now().Add(2 * time.Second)
			var u string
			for time.Now().Before(deadline) {
				if u = loadUser(t, cached, "oc"); u == tc.want {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Errorf("cached Load 2s after the change: user %q, Redis holds %q (%+v)", u, tc.want, cached.Stats().Cache)
		})
	}
}

// A key that expires in Redis while cached is not served after its TTL,
// whether or not Redis's expiry notice has arrived (active expiry off).
func TestCacheReviewKeyExpiresWhileCached(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--enable-debug-command", "yes"}})
	srv.Do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	cached, _ := cachedPair(t, srv, Options{})
	srv.Do(t, "SET", "sessionx:ex", `{"id":"ex","data":{"user":"alice"}}`, "PX", "50")
	if u := loadUser(t, cached, "ex"); u != "alice" {
		t.Fatalf("first Load: %q", u)
	}
	time.Sleep(60 * time.Millisecond)
	if u := loadUser(t, cached, "ex"); u != "" {
		t.Errorf("Load 60ms after a 50ms key: user %q", u)
	}
	// The same through a conditional write (KEEPTTL and a touch).
	ctx := context.Background()
	st, ok, err := cached.SaveVersion(ctx, "ex2", []byte(`{"id":"ex2"}`), nil, 50*time.Millisecond, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err = cached.SaveVersion(ctx, "ex2", []byte(`{"id":"ex2","n":2}`), st.Version, 0, true); err != nil || !ok {
		t.Fatal(ok, err)
	}
	time.Sleep(60 * time.Millisecond)
	if got, err := cached.LoadVersion(ctx, "ex2"); err != nil || got.Value != nil {
		t.Errorf("LoadVersion 60ms after a 50ms key kept by KEEPTTL: %q, %v", got.Value, err)
	}
}

// Server gone and back on the same port (SHUTDOWN, SIGKILL, restart), a
// stall longer than ReadTimeout (DEBUG SLEEP), a stopped process: a cached
// Load never returns what another process wrote meanwhile.
func TestCacheReviewServerRestartsAndStalls(t *testing.T) {
	cases := []struct {
		name string
		act  func(t *testing.T, srv *redisserver.Server)
	}{
		{"shutdown and restart", func(t *testing.T, srv *redisserver.Server) { srv.Restart(t) }},
		{"kill and restart", func(t *testing.T, srv *redisserver.Server) { srv.Kill(t); srv.Restart(t) }},
		{"DEBUG SLEEP over ReadTimeout", func(t *testing.T, srv *redisserver.Server) {
			go srv.DoErr("DEBUG", "SLEEP", "1.5")
			time.Sleep(1700 * time.Millisecond)
		}},
		{"SIGSTOP over ReadTimeout", func(t *testing.T, srv *redisserver.Server) {
			srv.Pause(t)
			time.Sleep(1500 * time.Millisecond)
			srv.Resume(t)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{Args: []string{"--enable-debug-command", "yes", "--save", "", "--appendonly", "yes", "--appendfsync", "always"}})
			cached, _ := cachedPair(t, srv, Options{ReadTimeout: 500 * time.Millisecond, HealthCheckInterval: 200 * time.Millisecond})
			saveUser(t, cached, "rs", "alice")
			loadUser(t, cached, "rs")
			loadUser(t, cached, "rs")
			tc.act(t, srv)
			// Another process writes right after, with its own connection.
			if out, err := srv.DoErr("SET", "sessionx:rs", `{"id":"rs","data":{"user":"bob"}}`); err != nil {
				t.Fatalf("SET: %v %s", err, out)
			}
			deadline := time.Now().Add(3 * time.Second)
			var u string
			for time.Now().Before(deadline) {
				got, err := cached.Load("rs")
				if err == nil {
					u, _ = got.Data["user"].(string)
					if u == "bob" {
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Errorf("3s after the server came back and another process wrote bob: Load says %q (%+v)", u, cached.Stats().Cache)
		})
	}
}
