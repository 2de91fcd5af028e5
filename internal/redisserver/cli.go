package redisserver

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliTimeout bounds one redis-cli call, so that a paused server cannot hang
// a test forever.
const cliTimeout = 30 * time.Second

// Do runs an admin command through redis-cli on the plain port,
// authenticated with AdminUser/AdminPassword, and returns its trimmed --raw
// output (array elements one per line). An error reply or a failed call
// fails the test.
func (s *Server) Do(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.DoErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// DoErr is Do without failing the test: an error reply from the server, or
// redis-cli failing, is returned as an error.
func (s *Server) DoErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	a := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-e", "--raw"}
	if s.AdminUser != "" {
		a = append(a, "--user", s.AdminUser)
	}
	if s.AdminPassword != "" || s.AdminUser != "" {
		a = append(a, "--no-auth-warning", "-a", s.AdminPassword)
	}
	cmd := exec.CommandContext(ctx, s.cli, append(a, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = out
		}
		// Only the command name: later arguments may be secrets.
		name := ""
		if len(args) > 0 {
			name = args[0]
		}
		if ctx.Err() != nil {
			return out, fmt.Errorf("redisserver: %s %s: no answer within %v", s.Addr, name, cliTimeout)
		}
		return out, fmt.Errorf("redisserver: %s %s: %v: %s", s.Addr, name, err, msg)
	}
	return out, nil
}

// Info runs INFO [section] and returns its fields.
func (s *Server) Info(t testing.TB, section ...string) map[string]string {
	t.Helper()
	return parseInfo(s.Do(t, append([]string{"INFO"}, section...)...))
}

// waitFor polls cond every interval until it returns nil or timeout passes;
// it then fails the test with what and cond's last error.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redisserver: %s: not done within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
