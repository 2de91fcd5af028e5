package redisserver

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rawCommand sends one command over a fresh plain connection and returns the
// first reply line.
func rawCommand(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(encodeCommand(args...)); err != nil {
		t.Fatal(err)
	}
	line, err := readLine(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return line
}

func TestStartAnswersPingOnLoopback(t *testing.T) {
	start := time.Now()
	s := Start(t, Config{})
	t.Logf("single server up in %v", time.Since(start))
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") || s.Port == reservedPort {
		t.Fatalf("Addr = %q", s.Addr)
	}
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := rawCommand(t, s.Addr, "PING"); got != "+PONG" {
		t.Fatalf("raw PING = %q", got)
	}
	cfg := s.Do(t, "CONFIG", "GET", "save")
	if cfg != "save" {
		t.Fatalf("CONFIG GET save = %q, want an empty save", cfg)
	}
	if got := s.Do(t, "CONFIG", "GET", "appendonly"); got != "appendonly\nno" {
		t.Fatalf("appendonly = %q", got)
	}
	if got := s.Do(t, "CONFIG", "GET", "bind"); got != "bind\n127.0.0.1" {
		t.Fatalf("bind = %q", got)
	}
	if s.Pid() == 0 || !s.Running() {
		t.Fatal("Pid() = 0 for a running server")
	}
}

func TestDoErrReturnsErrorReplies(t *testing.T) {
	s := Start(t, Config{})
	if _, err := s.DoErr("NOSUCHCOMMAND"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("err = %v, want unknown command", err)
	}
	if got, err := s.DoErr("GET", "missing"); err != nil || got != "" {
		t.Fatalf("GET missing = %q, %v", got, err)
	}
	if got := s.Do(t, "SET", "k", "-1"); got != "OK" {
		t.Fatalf("SET with a dash value = %q", got)
	}
}

func TestPasswordIsRequired(t *testing.T) {
	s := Start(t, Config{Password: "s3cret pass"})
	if got := rawCommand(t, s.Addr, "PING"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("unauthenticated PING = %q, want NOAUTH", got)
	}
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("Do PING = %q", got)
	}
	if got := rawCommand(t, s.Addr, "AUTH", "wrong"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Fatalf("AUTH wrong = %q", got)
	}
	if got := rawCommand(t, s.Addr, "AUTH", "s3cret pass"); got != "+OK" {
		t.Fatalf("AUTH right = %q", got)
	}
}

func TestACLUser(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		whoami string
	}{
		{"default user open", Config{Users: []string{"alice on >alicepw ~* +@all"}}, "default"},
		{"default user off, admin is alice", Config{
			Users:     []string{"default off", "alice on >alicepw ~* +@all"},
			AdminUser: "alice", AdminPassword: "alicepw",
		}, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Start(t, tt.cfg)
			if got := rawCommand(t, s.Addr, "AUTH", "alice", "alicepw"); got != "+OK" {
				t.Fatalf("AUTH alice = %q", got)
			}
			if got := rawCommand(t, s.Addr, "AUTH", "alice", "nope"); !strings.HasPrefix(got, "-WRONGPASS") {
				t.Fatalf("AUTH alice nope = %q", got)
			}
			if got := s.Do(t, "ACL", "WHOAMI"); got != tt.whoami {
				t.Fatalf("ACL WHOAMI = %q, want %q", got, tt.whoami)
			}
		})
	}
}

func TestKillRestartKeepsAppendOnlyData(t *testing.T) {
	s := Start(t, Config{AppendOnly: true, Password: "pw"})
	addr, pid := s.Addr, s.Pid()
	s.Do(t, "SET", "before-kill", "1")
	// appendfsync everysec may lose the last second to kill -9; a rewrite
	// leaves an fsynced base file, so the test does not depend on timing.
	s.Do(t, "BGREWRITEAOF")
	waitFor(t, "AOF rewrite", 10*time.Second, func() error {
		info := s.Info(t, "persistence")
		if info["aof_rewrite_in_progress"] != "0" || info["aof_rewrite_scheduled"] != "0" {
			return fmt.Errorf("rewrite running")
		}
		return nil
	})
	s.Kill(t)
	if s.Pid() != 0 || s.Running() {
		t.Fatal("server still running after Kill")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("port still accepting after Kill")
	}
	start := time.Now()
	s.Restart(t)
	t.Logf("restart after kill took %v", time.Since(start))
	if s.Addr != addr || s.Pid() == pid {
		t.Fatalf("after restart Addr=%s pid=%d (was %s, %d)", s.Addr, s.Pid(), addr, pid)
	}
	if got := s.Do(t, "GET", "before-kill"); got != "1" {
		t.Fatalf("GET before-kill after kill -9 = %q", got)
	}
	s.Do(t, "SET", "before-shutdown", "2")
	s.Shutdown(t)
	s.Restart(t)
	if got := s.Do(t, "GET", "before-shutdown"); got != "2" {
		t.Fatalf("GET before-shutdown after graceful restart = %q", got)
	}
	// Restart of a running server shuts it down first.
	s.Restart(t)
	if got := s.Do(t, "GET", "before-kill"); got != "1" {
		t.Fatalf("GET after restart of a running server = %q", got)
	}
}

func TestPauseAndResume(t *testing.T) {
	s := Start(t, Config{})
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	s.Pause(t)
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write(encodeCommand("PING")); err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(r); err == nil {
		t.Fatalf("paused server answered %q", line)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	s.Resume(t)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := readLine(r); err != nil || line != "+PONG" {
		t.Fatalf("after resume: %q, %v", line, err)
	}
}

func TestStartFailureCarriesTheLog(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ft, Config{Args: []string{"--no-such-directive", "x"}})
	}()
	<-done
	if !strings.Contains(ft.msg, "no-such-directive") {
		t.Fatalf("failure message does not carry the log:\n%s", ft.msg)
	}
}

// fatalRecorder captures Fatal instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Helper() {}
