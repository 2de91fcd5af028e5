package redisserver

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// takenPort prepares s to start on the port of other, as if other had taken
// it between freePorts and the bind.
func takenPort(t *testing.T, s, other *Server) {
	t.Helper()
	t.Cleanup(s.stop)
	s.Port = other.Port
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	if err := os.WriteFile(s.confPath, []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Another password-protected server's NOAUTH on our port is not taken for
// our server being ready: ours fails to bind, and the start fails with the
// bind error in the log (which start retries on other ports).
func TestForeignNOAUTHIsNotReady(t *testing.T) {
	other := Start(t, Config{Password: "someone-elses"})
	s := newServer(t, Config{}, kindPlain, nil)
	takenPort(t, s, other)
	if err := s.launchAndWait(); err == nil {
		t.Fatalf("ready on a port another server holds; log:\n%s", s.logTail())
	}
	if tail := s.logTail(); !strings.Contains(tail, "Address already in use") {
		t.Errorf("the log does not show the bind failure start retries on:\n%s", tail)
	}
}

// Nor is its WRONGPASS taken for our credentials being wrong: that would
// end the start at once instead of retrying.
func TestForeignWRONGPASSIsNotFinal(t *testing.T) {
	other := Start(t, Config{Password: "someone-elses"})
	s := newServer(t, Config{Password: "mine"}, kindPlain, nil)
	takenPort(t, s, other)
	err := s.launchAndWait()
	if err == nil {
		t.Fatal("ready on a port another server holds")
	}
	if tail := s.logTail(); !strings.Contains(tail, "Address already in use") {
		t.Errorf("gave up before our process failed to bind (%v):\n%s", err, tail)
	}
}
