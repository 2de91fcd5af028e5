package redisstore

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// openStore returns a store on opts and closes it when the test ends.
func openStore(t *testing.T, opts Options) *RedisStore {
	t.Helper()
	s, err := NewRedisStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// roundTrip saves a session and loads it back.
func roundTrip(t *testing.T, s *RedisStore, id string) {
	t.Helper()
	if err := s.Save(testSession(id)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := s.Load(id)
	if err != nil || got.ID != id || got.Data["user"] != "alice" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

func TestRealRedisConnectionOptions(t *testing.T) {
	plain := redisserver.Start(t, redisserver.Config{})
	pass := redisserver.Start(t, redisserver.Config{Password: marker})
	acl := redisserver.Start(t, redisserver.Config{Users: []string{"alice on >" + marker + " ~* +@all"}})
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"RESP3 negotiated", Options{Addr: plain.Addr}},
		{"RESP3 forced", Options{Addr: plain.Addr, Protocol: 3}},
		{"RESP2 forced", Options{Addr: plain.Addr, Protocol: 2}},
		{"client name", Options{Addr: plain.Addr, ClientName: "web-1"}},
		{"requirepass", Options{Addr: pass.Addr, Password: marker}},
		{"requirepass RESP2", Options{Addr: pass.Addr, Password: marker, Protocol: 2}},
		{"ACL user", Options{Addr: acl.Addr, Username: "alice", Password: marker}},
		{"ACL user RESP2", Options{Addr: acl.Addr, Username: "alice", Password: marker, Protocol: 2}},
		{"DB 3", Options{Addr: plain.Addr, DB: 3}},
		{"URL", Options{URL: "redis://" + plain.Addr + "/4?dial_timeout=2s&protocol=2"}},
		{"URL with password", Options{URL: "redis://:" + marker + "@" + pass.Addr + "/1"}},
		{"URL with ACL user", Options{URL: "redis://alice:" + marker + "@" + acl.Addr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, tc.opts)
			roundTrip(t, s, "opt-"+strings.ReplaceAll(tc.name, " ", "-"))
		})
	}
	// DB 3 really is database 3.
	s := openStore(t, Options{Addr: plain.Addr, DB: 3})
	roundTrip(t, s, "in-db3")
	if got := plain.Do(t, "-n", "3", "EXISTS", "sessionx:in-db3"); got != "1" {
		t.Errorf("EXISTS in db 3 = %q", got)
	}
	if got := plain.Do(t, "-n", "0", "EXISTS", "sessionx:in-db3"); got != "0" {
		t.Errorf("EXISTS in db 0 = %q", got)
	}
}

func TestRealRedisDBSurvivesClientKill(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, DB: 3, PoolSize: 2})
	roundTrip(t, s, "before-kill")
	dials := s.Stats().Pool.Dials
	srv.Do(t, "CLIENT", "KILL", "TYPE", "normal")
	// The next command finds its connection dead (noticed at once, or on
	// use and retried) and runs on a new one, which must select DB 3 again.
	roundTrip(t, s, "after-kill")
	if got := srv.Do(t, "-n", "3", "EXISTS", "sessionx:after-kill"); got != "1" {
		t.Errorf("after CLIENT KILL the session went to another DB: EXISTS = %q", got)
	}
	if st := s.Stats(); st.Pool.Dials <= dials {
		t.Errorf("Stats.Pool.Dials = %d, want a new connection after CLIENT KILL", st.Pool.Dials)
	}
}

func TestRealRedisTTL(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, TTL: time.Hour})
	roundTrip(t, s, "ttl")
	ttl, _ := strconv.Atoi(srv.Do(t, "TTL", "sessionx:ttl"))
	if ttl < 3590 || ttl > 3600 {
		t.Errorf("TTL = %d, want about 3600", ttl)
	}
	s.SetTTL(1500 * time.Millisecond) // not whole seconds: PX
	roundTrip(t, s, "pttl")
	pttl, _ := strconv.Atoi(srv.Do(t, "PTTL", "sessionx:pttl"))
	if pttl < 1000 || pttl > 1500 {
		t.Errorf("PTTL = %d, want 1000..1500", pttl)
	}
	s.SetTTL(300 * time.Millisecond)
	roundTrip(t, s, "short")
	time.Sleep(600 * time.Millisecond)
	if _, err := s.Load("short"); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("after a 300ms TTL: %v", err)
	}
}

func TestRealRedisWrongPasswordIsTypedAndSecret(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Password: "right-one"})
	for _, opts := range []Options{
		{Addr: srv.Addr, Password: marker},
		{Addr: srv.Addr, Password: marker, Protocol: 2},
		{Addr: srv.Addr, Username: "nobody", Password: marker},
		{URL: "redis://:" + marker + "@" + srv.Addr},
	} {
		_, err := NewRedisStore(opts)
		var se resp.Error
		if !errors.As(err, &se) || (se.Kind != "WRONGPASS" && se.Kind != "ERR") {
			t.Errorf("%v: err = %v, want a WRONGPASS server error", opts, err)
		}
		if err != nil && strings.Contains(fmt.Sprintf("%+v %#v", err, err), marker) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	_, err := NewRedisStore(Options{Addr: srv.Addr})
	var se resp.Error
	if !errors.As(err, &se) || se.Kind != "NOAUTH" {
		t.Errorf("no password: err = %v, want NOAUTH", err)
	}
}

func TestRealRedisServerDownAtNew(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewRedisStore(Options{Addr: addr, DialTimeout: time.Second})
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want a wrapped *net.OpError", err)
	}
}

func TestRealRedisKilledAndRestartedDuringUse(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, PoolSize: 4, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second})
	roundTrip(t, s, "k1")
	srv.Kill(t)
	for i := 0; i < 5; i++ {
		if err := s.Save(testSession("down")); err == nil {
			t.Fatal("Save succeeded with the server dead")
		} else if errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("server down reported as not found: %v", err)
		}
	}
	srv.Restart(t)
	// Recovery without restarting the store: the first call after the
	// restart already succeeds (dead pooled connections are replaced).
	roundTrip(t, s, "k2")
}

func TestRealRedisContextDeadlineRespected(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, ReadTimeout: 10 * time.Second})
	roundTrip(t, s, "dl")
	srv.Pause(t)
	defer srv.Resume(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.LoadContext(ctx, "dl")
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Load returned after %v with a 200ms deadline", elapsed)
	}
	t.Logf("Load with a 200ms deadline against a stopped server returned after %v", elapsed)
	srv.Resume(t)
	roundTrip(t, s, "dl-after")
}

func TestRealRedisTLS(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{TLS: true})
	good := &tls.Config{RootCAs: srv.TLS.CAPool}
	s := openStore(t, Options{Addr: srv.TLSAddr, TLSConfig: good})
	roundTrip(t, s, "tls")
	for name, cfg := range map[string]*tls.Config{
		"wrong CA":       {RootCAs: srv.TLS.OtherCAPool},
		"wrong hostname": {RootCAs: srv.TLS.CAPool, ServerName: "evil.example"},
		"system roots":   {},
	} {
		if _, err := NewRedisStore(Options{Addr: srv.TLSAddr, TLSConfig: cfg, DialTimeout: 2 * time.Second}); err == nil {
			t.Errorf("%s: TLS connection accepted", name)
		}
	}
}

func TestRealRedisUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := dir + "/redis.sock"
	redisserver.Start(t, redisserver.Config{Args: []string{"--unixsocket", sock, "--unixsocketperm", "700"}})
	s := openStore(t, Options{URL: "unix://" + sock + "?db=2"})
	roundTrip(t, s, "unix")
}

func TestRealRedisUpstreamCompatibility(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr})
	// Written as the go-redis store does: SET prefix+id <JSON> EX ttl,
	// through a plain connection of the test's own.
	up := upstreamSession(*testSession("from-upstream"))
	b, _ := json.Marshal(&up)
	rawDo(t, srv.Addr, "SET", "sessionx:from-upstream", string(b), "EX", "86400")
	got, err := s.Load("from-upstream")
	if err != nil || got.ID != "from-upstream" || !got.CreatedAt.Equal(up.CreatedAt) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	// And ours reads back byte for byte as upstream's JSON.
	in := testSession("from-us")
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal((*upstreamSession)(in))
	if v := rawDo(t, srv.Addr, "GET", "sessionx:from-us"); v.Str != string(want) {
		t.Errorf("stored %s\nwant   %s", v.Str, want)
	}
	var _ session.Store = s
}

// rawDo sends one command on a new plain connection and returns the reply.
func rawDo(t *testing.T, addr string, args ...string) resp.Value {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(resp.AppendCommand(nil, args...)); err != nil {
		t.Fatal(err)
	}
	v, err := resp.NewReader(bufio.NewReader(nc), resp.Limits{}).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
