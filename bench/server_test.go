package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// server is the redis-server every test and benchmark of a run uses: the one
// at REDIS_ADDR (REDIS_PID names its process for srv-cpu-ns/op), or one
// TestMain started on a free loopback port without persistence.
var server struct {
	addr string
	pid  int    // 0: the server's CPU is not measured
	skip string // why there is no server (REDISSTORE_SKIP_REAL=1)
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain finds or starts the server, runs the tests and stops the server.
func runMain(m *testing.M) int {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		server.addr = addr
		server.pid, _ = strconv.Atoi(os.Getenv("REDIS_PID"))
		return m.Run()
	}
	cmd, addr, err := startRedis()
	if err != nil {
		if os.Getenv("REDISSTORE_SKIP_REAL") == "1" {
			server.skip = err.Error() + " (REDISSTORE_SKIP_REAL=1)"
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "%v; install it with \"apt-get install -y redis-server\", set REDIS_ADDR, or set REDISSTORE_SKIP_REAL=1 to skip\n", err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	server.addr, server.pid = addr, cmd.Process.Pid
	return m.Run()
}

// needServer skips tb when there is no server, which only
// REDISSTORE_SKIP_REAL=1 allows.
func needServer(tb testing.TB) string {
	tb.Helper()
	if server.addr == "" {
		tb.Skip(server.skip)
	}
	return server.addr
}

// startRedis starts redis-server on a free loopback port without persistence
// and waits until it answers PING.
func startRedis() (*exec.Cmd, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("bench: redis-server not found: %w", err)
	}
	var last error
	for range 5 { // a port found free may be taken before the server binds it
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--logfile", "", "--dir", os.TempDir())
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, "", fmt.Errorf("bench: start redis-server: %w", err)
		}
		if last = waitPing(addr, 10*time.Second); last == nil {
			return cmd, addr, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return nil, "", fmt.Errorf("bench: redis-server did not start: %w", last)
}

// freePort returns a loopback port that was free a moment ago, never 6379.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("bench: find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

// waitPing polls addr until it answers PING with +PONG.
func waitPing(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends one PING on a new connection.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("bench: PING answered %q", line)
	}
	return nil
}
