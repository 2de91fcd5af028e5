//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
)

const reviewValue = `{"id":"p","data":{"user":"alice"}}`

// A LoadContext with a context that has already ended returns the
// context's error without the cache; with it, it must too (a cancelled
// request's handler must not go on as if its session loaded).
func TestCacheReviewEndedContextLoad(t *testing.T) {
	for _, size := range []int{0, 1 << 20} {
		srv := redistest.Start(t, redistest.Config{})
		srv.Handle(redistest.Rule{Command: "CLIENT", Match: func(args []string) bool { return len(args) > 1 && args[1] == "TRACKING" }, Reply: "+OK\r\n"})
		srv.Put("sessionx:p", reviewValue, 0)
		s := openStore(t, Options{Addr: srv.Addr(), CacheSize: size, HealthCheckInterval: -1})
		loadUser(t, s, "p")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.LoadContext(ctx, "p")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CacheSize %d: LoadContext with a cancelled context: %v, want context.Canceled", size, err)
		}
		_, err = s.LoadVersion(ctx, "p")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CacheSize %d: LoadVersion with a cancelled context: %v, want context.Canceled", size, err)
		}
	}
}

// Odd replies to the tracked conditional write: no panic, no lost
// connection, a clear result, and nothing kept that the server did not say
// it holds.
func TestCacheReviewHostileScriptReplies(t *testing.T) {
	cases := []struct {
		reply     string
		wantOK    bool
		wantErr   bool // ErrInvalidSession
		wantValue string
	}{
		{reply: "$6\r\n+abcde\r\n", wantOK: true},
		{reply: "$1\r\n~\r\n"},                  // as without the cache: a conflict with an empty value
		{reply: "$3\r\n~12\r\n", wantErr: true}, // no space: no current value
		{reply: "$5\r\n~-5 x\r\n", wantValue: "x"},
		{reply: "$21\r\n+99999999999999999999\r\n", wantOK: true},
		{reply: "$3\r\n+-1\r\n", wantOK: true},
		{reply: ":12\r\n", wantErr: false},
		{reply: "*2\r\n$1\r\n+\r\n:5\r\n"},
		{reply: "_\r\n"},
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.reply), func(t *testing.T) {
			srv, s := faultCache(t)
			loadUser(t, s, "p")
			dials := s.Stats().Pool.Dials
			srv.Handle(redistest.Rule{Command: "EVALSHA", Reply: tc.reply, Times: 1})
			st, ok, err := s.SaveVersion(context.Background(), "p", []byte(`{"id":"p","data":{"user":"bob"}}`), []byte(reviewValue), time.Minute, false)
			t.Logf("SaveVersion: %+v %v %v", st, ok, err)
			if tc.wantErr && !errors.Is(err, ErrInvalidSession) {
				t.Errorf("SaveVersion: ok %v, stored %q, err %v; want ErrInvalidSession for a malformed reply", ok, st.Value, err)
			}
			if tc.wantOK && (!ok || err != nil) {
				t.Errorf("SaveVersion: %v, %v; want ok", ok, err)
			}
			if tc.wantValue != "" && string(st.Value) != tc.wantValue {
				t.Errorf("SaveVersion: stored %q, want %q", st.Value, tc.wantValue)
			}
			if d := s.Stats().Pool.Dials; d != dials {
				t.Errorf("the reply cost the connection: %d dials, then %d", dials, d)
			}
			// Unless the reply claimed the value written, the server still
			// holds alice and the next Load says so.
			if !tc.wantOK && tc.wantValue == "" {
				if u := loadUser(t, s, "p"); u != "alice" {
					t.Errorf("Load after the reply: user %q, the server holds alice", u)
				}
			}
		})
	}
}

// Pushes of every size and shape: thousands of keys, nested arrays, bulk
// errors and other types as keys. The store keeps its connection, serves
// nothing the push named, and does not panic.
func TestCacheReviewHostilePushes(t *testing.T) {
	var many strings.Builder
	many.WriteString(">2\r\n$10\r\ninvalidate\r\n*5000\r\n")
	for i := range 4999 {
		k := "sessionx:k" + strconv.Itoa(i)
		many.WriteString("$" + strconv.Itoa(len(k)) + "\r\n" + k + "\r\n")
	}
	many.WriteString("$10\r\nsessionx:p\r\n")
	cases := map[string]string{
		"5000 keys":           many.String(),
		"nested array":        ">2\r\n$10\r\ninvalidate\r\n*1\r\n*1\r\n$10\r\nsessionx:p\r\n",
		"bulk error key":      ">2\r\n$10\r\ninvalidate\r\n*1\r\n!10\r\nsessionx:p\r\n",
		"set of keys":         ">2\r\n$10\r\ninvalidate\r\n~1\r\n$10\r\nsessionx:p\r\n",
		"verbatim key":        ">2\r\n$10\r\ninvalidate\r\n*1\r\n=14\r\ntxt:sessionx:p\r\n",
		"push as first elem":  ">2\r\n>1\r\n$10\r\ninvalidate\r\n*1\r\n$10\r\nsessionx:p\r\n",
		"simple-string kind":  ">2\r\n+invalidate\r\n*1\r\n$10\r\nsessionx:p\r\n",
		"attribute then push": "|1\r\n+a\r\n+b\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$10\r\nsessionx:p\r\n",
		"empty push":          ">0\r\n",
		"empty key list":      ">2\r\n$10\r\ninvalidate\r\n*0\r\n",
	}
	for name, push := range cases {
		t.Run(name, func(t *testing.T) {
			srv, _ := faultCache(t)
			// One connection: the push comes on the one that read the key.
			s := openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, PoolSize: 1, HealthCheckInterval: -1})
			loadUser(t, s, "p")
			loadUser(t, s, "p")
			srv.Put("sessionx:p", `{"id":"p","data":{"user":"bob"}}`, 0)
			srv.Handle(redistest.Rule{Command: "PING", Reply: push + "+PONG\r\n", Times: 1})
			if err := s.Ping(context.Background()); err != nil {
				t.Logf("Ping: %v", err)
			}
			u := loadUser(t, s, "p")
			if name != "empty push" && name != "empty key list" && u != "bob" {
				t.Errorf("Load after the push: user %q, server holds bob (%+v)", u, s.Stats().Cache)
			}
		})
	}
}

// Values and sizes at the edges: a value over a shard's share is never
// kept; a CacheSize of 1 or 100 bytes is refused or keeps nothing, and
// loses nothing.
func TestCacheReviewSizes(t *testing.T) {
	for _, size := range []int{1, 100, 64 << 10} {
		srv, _ := faultCache(t)
		s, err := NewRedisStore(Options{Addr: srv.Addr(), CacheSize: size, HealthCheckInterval: -1})
		if err != nil {
			t.Logf("CacheSize %d: %v", size, err)
			continue
		}
		t.Cleanup(func() { s.Close() })
		big := `{"id":"p","data":{"user":"alice","pad":"` + strings.Repeat("x", size/16) + `"}}`
		srv.Put("sessionx:p", big, 0)
		for range 3 {
			if u := loadUser(t, s, "p"); u != "alice" {
				t.Fatalf("CacheSize %d: user %q", size, u)
			}
		}
		st := s.Stats().Cache
		if st.Entries != 0 || st.Bytes != 0 {
			t.Errorf("CacheSize %d: kept a value over its shard's share: %+v", size, st)
		}
	}
}

// A Prefix longer than Get's stack buffer, and the longest ID.
func TestCacheReviewLongKeys(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "CLIENT", Match: func(args []string) bool { return len(args) > 1 && args[1] == "TRACKING" }, Reply: "+OK\r\n"})
	prefix := strings.Repeat("P", 300) + ":"
	id := strings.Repeat("i", MaxIDLength)
	s := openStore(t, Options{Addr: srv.Addr(), Prefix: prefix, CacheSize: 1 << 20, HealthCheckInterval: -1})
	srv.Put(prefix+id, `{"id":"`+id+`","data":{"user":"alice"}}`, 0)
	loadUser(t, s, id)
	gets := srv.Count("GET")
	if u := loadUser(t, s, id); u != "alice" {
		t.Fatalf("user %q", u)
	}
	if srv.Count("GET") != gets {
		t.Errorf("a long key was not served from the cache")
	}
	srv.Put(prefix+id, `{"id":"`+id+`","data":{"user":"bob"}}`, 0)
	k := prefix + id
	srv.Handle(redistest.Rule{Command: "PING", Reply: ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + strconv.Itoa(len(k)) + "\r\n" + k + "\r\n+PONG\r\n", Times: 1})
	s.Ping(context.Background())
	if u := loadUser(t, s, id); u != "bob" {
		t.Errorf("after an invalidation of the long key: user %q", u)
	}
}

// The longest CacheTTL a time.Duration holds is accepted by New: it must
// mean "as long as Redis tracks it", not "never serve".
func TestCacheReviewLongestCacheTTL(t *testing.T) {
	srv, _ := faultCache(t)
	s := openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, CacheTTL: math.MaxInt64, HealthCheckInterval: -1})
	loadUser(t, s, "p")
	gets := srv.Count("GET")
	loadUser(t, s, "p")
	if n := srv.Count("GET") - gets; n != 0 {
		t.Errorf("CacheTTL %v: the second Load read Redis (%+v): the cache never serves", time.Duration(math.MaxInt64), s.Stats().Cache)
	}
}

// CacheTTL of a millisecond: a value is served for a millisecond at most.
func TestCacheReviewTinyCacheTTL(t *testing.T) {
	srv, _ := faultCache(t)
	s := openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, CacheTTL: time.Millisecond, HealthCheckInterval: -1})
	loadUser(t, s, "p")
	srv.Put("sessionx:p", `{"id":"p","data":{"user":"bob"}}`, 0) // no invalidation
	time.Sleep(5 * time.Millisecond)
	if u := loadUser(t, s, "p"); u != "bob" {
		t.Errorf("CacheTTL 1ms, 5ms later: user %q", u)
	}
}

// Close, then Load and Stats: typed errors, nothing served from memory.
func TestCacheReviewCloseThenLoad(t *testing.T) {
	_, s := faultCache(t)
	loadUser(t, s, "p")
	loadUser(t, s, "p")
	s.Close()
	if _, err := s.Load("p"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: %v, want ErrClosed", err)
	}
	if _, err := s.LoadVersion(context.Background(), "p"); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadVersion after Close: %v, want ErrClosed", err)
	}
	st := s.Stats()
	t.Logf("Stats after Close: %+v", st.Cache)
}

// A RESP2-only server (no HELLO): the cache is off, every Load reads, and
// Logger says so once.
func TestCacheReviewRESP2Server(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	srv.Handle(redistest.Rule{Command: "HELLO", Reply: redistest.ReplyUnknownHELLO})
	srv.Handle(redistest.Rule{Command: "CLIENT", Match: func(args []string) bool { return len(args) > 1 && args[1] == "TRACKING" }, Reply: "+OK\r\n"})
	srv.Put("sessionx:p", reviewValue, 0)
	log := &argLogger{}
	s := openStore(t, Options{Addr: srv.Addr(), CacheSize: 1 << 20, Logger: log})
	for range 3 {
		loadUser(t, s, "p")
	}
	if n := srv.Count("GET"); n != 3 {
		t.Errorf("%d GETs for 3 Loads on a RESP2 server", n)
	}
	if n := srv.Count("CLIENT"); n != 0 {
		t.Errorf("CLIENT TRACKING sent %d times to a RESP2 server", n)
	}
	if w := log.warningsWith("client-side cache is off"); len(w) != 1 {
		t.Errorf("warned %d times: %q", len(w), w)
	}
	if _, err := New[map[string]any](Options{Addr: srv.Addr(), CacheSize: 1, Protocol: 2}, func(*map[string]any) string { return "" }); err == nil {
		t.Error("New accepted CacheSize with Protocol 2")
	}
}

// A CacheSize too small to hold a single entry (each shard gets a
// sixteenth, each entry costs EntryOverhead besides its key and value),
// such as 64 meant as megabytes, turns tracking, the PTTL of every read
// and the 1s health checks on for a cache that can never serve: New should
// say so rather than accept it silently.
func TestCacheReviewCacheSizeThatHoldsNothing(t *testing.T) {
	srv, _ := faultCache(t)
	for _, size := range []int{64, 1000, 2560} {
		s, err := NewRedisStore(Options{Addr: srv.Addr(), CacheSize: size})
		if err != nil {
			continue // refused: fine
		}
		loadUser(t, s, "p")
		gets := srv.Count("GET")
		loadUser(t, s, "p")
		if srv.Count("GET") != gets {
			t.Errorf("CacheSize %d: accepted, yet no value can ever be kept (shard share %d bytes < EntryOverhead); every Load also sends PTTL", size, size/16)
		}
		s.Close()
	}
}

// A write the server ran but answered in a shape the client did not expect
// (the reply was read: the write reached the server and ran). The cache
// must not keep serving the value it replaced: the reply is no proof that
// nothing changed.
func TestCacheReviewWriteRanOddReply(t *testing.T) {
	bob := `{"id":"p","data":{"user":"bob"}}`
	cases := []struct {
		name  string
		rule  func(srv *redistest.Server) redistest.Rule
		write func(s *RedisStore) error
		want  string
	}{
		{"SET answered :1", func(srv *redistest.Server) redistest.Rule {
			return redistest.Rule{Command: "SET", Reply: ":1\r\n", Times: 1, Match: func([]string) bool { srv.Put("sessionx:p", bob, 0); return true }}
		}, func(s *RedisStore) error {
			sess := testSession("p")
			sess.Data["user"] = "bob"
			return s.Save(sess)
		}, "bob"},
		{"SET answered $2 OK", func(srv *redistest.Server) redistest.Rule {
			return redistest.Rule{Command: "SET", Reply: "$2\r\nOK\r\n", Times: 1, Match: func([]string) bool { srv.Put("sessionx:p", bob, 0); return true }}
		}, func(s *RedisStore) error {
			sess := testSession("p")
			sess.Data["user"] = "bob"
			return s.Save(sess)
		}, "bob"},
		{"DEL answered +OK", func(srv *redistest.Server) redistest.Rule {
			return redistest.Rule{Command: "DEL", Reply: "+OK\r\n", Times: 1, Match: func([]string) bool { srv.FlushAll(); return true }}
		}, func(s *RedisStore) error { return s.Delete("p") }, ""},
		{"EVALSHA answered :1", func(srv *redistest.Server) redistest.Rule {
			return redistest.Rule{Command: "EVALSHA", Reply: ":1\r\n", Times: 1, Match: func([]string) bool { srv.Put("sessionx:p", bob, 0); return true }}
		}, func(s *RedisStore) error {
			_, _, err := s.SaveVersion(context.Background(), "p", []byte(bob), []byte(reviewValue), time.Minute, false)
			return err
		}, "bob"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, s := faultCache(t)
			loadUser(t, s, "p")
			loadUser(t, s, "p")
			srv.Handle(tc.rule(srv))
			err := tc.write(s)
			t.Logf("write: %v", err)
			if u := loadUser(t, s, "p"); u != tc.want {
				t.Errorf("Load after a write the server ran and answered oddly: user %q, the server holds %q (%+v)", u, tc.want, s.Stats().Cache)
			}
		})
	}
}
