package redisstore

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Environment of the child process of TestReliabilityPersistence: the
// server's address and the sessions to load, as "prefix:count,prefix:count".
const (
	childAddrEnv     = "REDISSTORE_RELIABILITY_CHILD_ADDR"
	childSessionsEnv = "REDISSTORE_RELIABILITY_CHILD_SESSIONS"
)

// saveOwned saves count sessions prefix-0.. whose Data names their ID.
func saveOwned(t *testing.T, s *RedisStore, prefix string, count int) {
	t.Helper()
	for i := range count {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if err := s.Save(&session.Session{ID: id, Data: map[string]interface{}{"owner": id}}); err != nil {
			t.Fatalf("Save %s: %v", id, err)
		}
	}
}

// loadOwned counts the sessions prefix-0.. that load with the right owner.
func loadOwned(s *RedisStore, prefix string, count int) (ok int, firstErr error) {
	for i := range count {
		id := fmt.Sprintf("%s-%d", prefix, i)
		got, err := s.Load(id)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case got.Data["owner"] != id:
			if firstErr == nil {
				firstErr = fmt.Errorf("%s loaded as %v", id, got)
			}
		default:
			ok++
		}
	}
	return ok, firstErr
}

// Scenario 8: with appendonly yes and appendfsync everysec, sessions survive
// a graceful restart of redis-server and a kill -9 (those saved more than a
// second before it), and a new process loads the sessions the old one saved.
func TestReliabilityPersistence(t *testing.T) {
	if addr := os.Getenv(childAddrEnv); addr != "" {
		persistenceChild(t, addr)
		return
	}
	const n = 500
	srv := redisserver.Start(t, redisserver.Config{AppendOnly: true})
	if got := srv.Do(t, "CONFIG", "GET", "appendfsync"); !strings.HasSuffix(got, "everysec") {
		t.Fatalf("appendfsync = %q", got)
	}
	s := openStore(t, Options{Addr: srv.Addr})

	saveOwned(t, s, "graceful", n)
	srv.Restart(t) // SIGTERM: Redis flushes the AOF and exits
	graceful, err := loadOwned(s, "graceful", n)
	if graceful != n {
		t.Errorf("after a graceful restart %d of %d sessions load (first error %v)", graceful, n, err)
	}

	saveOwned(t, s, "early", n)
	time.Sleep(1500 * time.Millisecond) // past the next everysec fsync
	saveOwned(t, s, "late", n)
	srv.Kill(t)
	srv.Restart(t)
	early, err := loadOwned(s, "early", n)
	if early != n {
		t.Errorf("after kill -9 %d of %d sessions saved more than 1s before load (first error %v)", early, n, err)
	}
	late, _ := loadOwned(s, "late", n)

	// The application restarts: a new process opens its own store.
	cmd := exec.Command(os.Args[0], "-test.run=^TestReliabilityPersistence$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childAddrEnv+"="+srv.Addr,
		fmt.Sprintf("%s=graceful:%d,early:%d", childSessionsEnv, n, n))
	out, err := cmd.CombinedOutput()
	child := "loaded all"
	switch {
	case err != nil:
		child = "failed: " + err.Error()
		t.Errorf("child process: %v\n%s", err, out)
	case strings.Count(string(out), "sessions load") != 2:
		child = "did not run"
		t.Errorf("child process ran no check:\n%s", out)
	}
	t.Logf("figure: appendonly everysec, %d sessions per batch: graceful restart %d/%d load; kill -9: %d/%d saved >1s before load, %d/%d saved just before; new process (pid != %d) loading the %d sessions of this one: %s",
		n, graceful, n, early, n, late, n, os.Getpid(), 2*n, child)
}

// persistenceChild is the new process of TestReliabilityPersistence: it
// loads the sessions the parent saved and fails when one is missing.
func persistenceChild(t *testing.T, addr string) {
	s := openStore(t, Options{Addr: addr})
	for _, batch := range strings.Split(os.Getenv(childSessionsEnv), ",") {
		prefix, count, _ := strings.Cut(batch, ":")
		n, err := strconv.Atoi(count)
		if err != nil {
			t.Fatalf("bad %s %q", childSessionsEnv, batch)
		}
		ok, err := loadOwned(s, prefix, n)
		t.Logf("child pid %d: %d of %d %s sessions load", os.Getpid(), ok, n, prefix)
		if ok != n {
			t.Errorf("%d of %d %s sessions load (first error %v)", ok, n, prefix, err)
		}
	}
}
