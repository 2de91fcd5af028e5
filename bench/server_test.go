package bench

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// meter measures the CPU time of this process and of the server between
// startMeter and report.
type meter struct {
	pid       int // the server's process; 0: not measured
	self, srv time.Duration
}

// startMeter reports b's allocations and starts measuring CPU time; pid is
// the server's process or 0.
func startMeter(b *testing.B, pid int) *meter {
	b.ReportAllocs()
	m := &meter{pid: pid, self: selfCPU(b)}
	if pid != 0 {
		srv, err := procCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		m.srv = srv
	}
	return m
}

// report adds cpu-ns/op (getrusage of this process, user + system) and,
// when the server is measured, srv-cpu-ns/op to b's results. Call it after
// the benchmark loop.
func (m *meter) report(b *testing.B) {
	if b.N == 0 {
		return
	}
	n := float64(b.N)
	b.ReportMetric(float64(selfCPU(b)-m.self)/n, "cpu-ns/op")
	if m.pid != 0 {
		srv, err := procCPU(m.pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(srv-m.srv)/n, "srv-cpu-ns/op")
	}
}

// selfCPU returns the user and system CPU time of this process so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 per second for user space.
const clockTick = 10 * time.Millisecond

// procCPU returns the user and system CPU time of process pid so far, from
// fields 14 and 15 of /proc/<pid>/stat (all of its threads).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: server CPU: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted after its closing parenthesis, from field 3.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bench: server CPU: malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("bench: server CPU: short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: server CPU: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
