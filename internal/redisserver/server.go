package redisserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a start or restart waits for the server to
// answer.
const startTimeout = 10 * time.Second

// exitTimeout bounds how long Kill and Shutdown wait for the process to exit.
const exitTimeout = 30 * time.Second

// Config describes a single redis-server. The zero value is a server without
// password or persistence (--save "" --appendonly no).
type Config struct {
	// Password is the requirepass (the default user's password). It is also
	// set as masterauth, so the server can follow a master with the same
	// password after a failover.
	Password string
	// Users are ACL rules, each one `user` line of redis.conf without the
	// keyword, e.g. "alice on >secret ~* +@all".
	Users []string
	// AppendOnly turns on the AOF with appendfsync everysec.
	AppendOnly bool
	// TLS also listens with TLS on Server.TLSAddr, with certificates made in
	// the test (see TLSFiles).
	TLS bool
	// TLSAuthClients makes the TLS port require a client certificate signed
	// by the test CA (TLSFiles.ClientCert). It implies nothing without TLS.
	TLSAuthClients bool
	// AdminUser and AdminPassword are the credentials Do, DoErr and the
	// readiness check use. Zero means: no user name and Password.
	AdminUser, AdminPassword string
	// Args are further redis-server arguments, e.g. "--maxmemory", "1mb".
	Args []string
}

// serverKind tells the config generator which kind of node it writes.
type serverKind int

const (
	kindPlain serverKind = iota
	kindSentinel
	kindCluster
)

// Server is a redis-server process on a loopback port, stopped with SIGKILL
// in t.Cleanup. Its exported fields are set by Start and never change; the
// methods are safe for concurrent use.
type Server struct {
	// Addr is the plain TCP address "127.0.0.1:port"; it is always present,
	// also with TLS, for administration.
	Addr string
	// Port is the port of Addr.
	Port int
	// TLSAddr is the TLS address when Config.TLS is set, otherwise "".
	TLSAddr string
	// Dir is the working directory (a t.TempDir). The configuration, the log
	// (redis.log) and the AOF live here and survive Restart.
	Dir string
	// TLS holds the CA, certificates and files when Config.TLS is set.
	TLS *TLSFiles
	// AdminUser and AdminPassword are what Do authenticates with (see
	// Config.AdminUser).
	AdminUser, AdminPassword string

	cfg      Config
	kind     serverKind
	extra    []string // further redis.conf lines (replicaof, sentinel, cluster)
	bin, cli string
	confPath string
	logPath  string
	busPort  int // cluster bus port, kindCluster only
	tlsPort  int

	mu   sync.Mutex // protects proc
	proc *process   // the current process; nil before the first start
}

// process is one run of redis-server.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited and been reaped
	logStart int64         // offset of this run's output in the log
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start starts redis-server with cfg on free loopback ports, waits until it
// answers (at most 10 s; the failure message carries the server's log) and
// kills it in t.Cleanup.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := newServer(t, cfg, kindPlain, nil)
	s.start(t)
	return s
}

// newServer prepares a Server without starting it.
func newServer(t testing.TB, cfg Config, kind serverKind, extra []string) *Server {
	t.Helper()
	s := &Server{
		cfg:           cfg,
		kind:          kind,
		extra:         extra,
		bin:           Binary(t),
		cli:           CLIBinary(t),
		Dir:           t.TempDir(),
		AdminUser:     cfg.AdminUser,
		AdminPassword: cfg.AdminPassword,
	}
	if s.AdminPassword == "" && s.AdminUser == "" {
		s.AdminPassword = cfg.Password
	}
	s.confPath = filepath.Join(s.Dir, "redis.conf")
	s.logPath = filepath.Join(s.Dir, "redis.log")
	if cfg.TLS {
		if ok, out := tlsSupported(s.bin); !ok {
			t.Fatalf("redisserver: %s was built without TLS support (--tls-port is rejected); Config.TLS needs a TLS build such as Debian's redis-server package. Probe output:\n%s", s.bin, out)
		}
		files, err := makeTLSFiles(filepath.Join(s.Dir, "tls"))
		if err != nil {
			t.Fatalf("redisserver: %v", err)
		}
		s.TLS = files
	}
	return s
}

// start picks free ports, writes the configuration and starts the first
// process, retrying with new ports when one was taken in between.
func (s *Server) start(t testing.TB) {
	t.Helper()
	t.Cleanup(s.stop)
	const attempts = 5
	for i := 1; ; i++ {
		n := 1
		if s.kind == kindCluster {
			n++
		}
		if s.cfg.TLS {
			n++
		}
		ports, err := freePorts(n)
		if err != nil {
			t.Fatalf("redisserver: %v", err)
		}
		s.Port = ports[0]
		s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
		rest := ports[1:]
		if s.kind == kindCluster {
			s.busPort, rest = rest[0], rest[1:]
		}
		if s.cfg.TLS {
			s.tlsPort = rest[0]
			s.TLSAddr = "127.0.0.1:" + strconv.Itoa(s.tlsPort)
		}
		if err := os.WriteFile(s.confPath, []byte(s.config()), 0o600); err != nil {
			t.Fatalf("redisserver: %v", err)
		}
		err = s.launchAndWait()
		if err == nil {
			return
		}
		tail := s.logTail()
		if i < attempts && strings.Contains(tail, "Address already in use") {
			continue
		}
		t.Fatalf("redisserver: start redis-server on %s: %v\n--- %s (tail) ---\n%s", s.Addr, err, s.logPath, tail)
	}
}

// config renders redis.conf for the current ports.
func (s *Server) config() string {
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}
	line("bind", "127.0.0.1")
	line("port", strconv.Itoa(s.Port))
	line("dir", quote(s.Dir))
	line("daemonize", "no")
	line("logfile", `""`)
	line("save", `""`)
	if s.kind != kindSentinel {
		line("enable-debug-command", "yes")
		// Full syncs start at once instead of waiting 5 s for more replicas.
		line("repl-diskless-sync-delay", "0")
		if s.cfg.AppendOnly {
			line("appendonly", "yes")
			line("appendfsync", "everysec")
		} else {
			line("appendonly", "no")
		}
	}
	if s.cfg.Password != "" {
		line("requirepass", quote(s.cfg.Password))
		if s.kind != kindSentinel {
			line("masterauth", quote(s.cfg.Password))
		}
	}
	for _, u := range s.cfg.Users {
		line("user", u)
	}
	if s.cfg.TLS {
		line("tls-port", strconv.Itoa(s.tlsPort))
		line("tls-cert-file", quote(s.TLS.CertFile))
		line("tls-key-file", quote(s.TLS.KeyFile))
		line("tls-ca-cert-file", quote(s.TLS.CAFile))
		if s.cfg.TLSAuthClients {
			line("tls-auth-clients", "yes")
		} else {
			line("tls-auth-clients", "no")
		}
	}
	if s.kind == kindCluster {
		line("cluster-port", strconv.Itoa(s.busPort))
	}
	for _, l := range s.extra {
		line(l)
	}
	return b.String()
}

// quote renders v as a double-quoted redis.conf argument.
func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(v) + `"`
}

// args is the command line after the binary.
func (s *Server) args() []string {
	a := []string{s.confPath}
	if s.kind == kindSentinel {
		a = append(a, "--sentinel")
	}
	return append(a, s.cfg.Args...)
}

// launch starts one process whose output goes to the log.
func (s *Server) launch() (*process, error) {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("redisserver: open log: %w", err)
	}
	defer logf.Close()
	st, err := logf.Stat()
	if err != nil {
		return nil, fmt.Errorf("redisserver: stat log: %w", err)
	}
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Pdeathsig: a test binary that dies (panic, timeout, SIGKILL) takes its
	// servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redisserver: start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logStart: st.Size()}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// launchAndWait starts a process, makes it current and waits until it is
// ready. On failure the process is killed.
func (s *Server) launchAndWait() error {
	p, err := s.launch()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(p, startTimeout); err != nil {
		killWait(p)
		return err
	}
	return nil
}

// errAuthRejected reports that the admin credentials do not work, which no
// amount of waiting fixes.
var errAuthRejected = errors.New("redisserver: admin credentials rejected")

// errUnverified reports a NOAUTH answer, which cannot tell which process
// gave it.
var errUnverified = errors.New("redisserver: server answers NOAUTH")

// waitReady polls until the server process p answers INFO as itself and is
// not loading its data set.
func (s *Server) waitReady(p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("redisserver: redis-server exited during startup (%v)", p.cmd.ProcessState)
		}
		ready, err := s.probe(p.cmd.Process.Pid)
		if ready {
			return nil
		}
		if errors.Is(err, errUnverified) || errors.Is(err, errAuthRejected) {
			// A NOAUTH or WRONGPASS answer does not say who gave it: another
			// server may hold the port our process failed to bind (it then
			// exits, and the caller retries on other ports). Trust it once
			// our process has said it listens; a sentinel never says so.
			if s.kind == kindSentinel || strings.Contains(s.logTail(), "Ready to accept connections") {
				if errors.Is(err, errUnverified) {
					return nil
				}
				return err
			}
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redisserver: no answer within %v (last: %v)", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits until the process has exited. Killing a server
// that is not running does nothing.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	p := s.current()
	if p == nil {
		return
	}
	if err := killWait(p); err != nil {
		t.Fatalf("redisserver: kill %s: %v", s.Addr, err)
	}
}

// Shutdown stops the server gracefully with SIGTERM (Redis then flushes the
// AOF like SHUTDOWN does) and waits until it has exited. A paused server is
// resumed first.
func (s *Server) Shutdown(t testing.TB) {
	t.Helper()
	p := s.current()
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		killWait(p)
		t.Fatalf("redisserver: %s did not exit within %v of SIGTERM; killed it\n--- log tail ---\n%s", s.Addr, exitTimeout, s.logTail())
	}
}

// Restart starts the server again on the same port, with the same directory
// and configuration, and waits until it answers. A running server is shut
// down gracefully first. If the port is briefly taken by someone else, the
// bind is retried for up to 15 s.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Shutdown(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.launchAndWait()
		if err == nil {
			return
		}
		tail := s.logTail()
		if strings.Contains(tail, "Address already in use") && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		t.Fatalf("redisserver: restart %s: %v\n--- %s (tail) ---\n%s", s.Addr, err, s.logPath, tail)
	}
}

// Pause stops the process with SIGSTOP: connections stay open, nothing is
// answered.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

// signal sends sig to the running process or fails the test.
func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	p := s.current()
	if p == nil || p.exited() {
		t.Fatalf("redisserver: %s is not running", s.Addr)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redisserver: signal %v to %s: %v", sig, s.Addr, err)
	}
}

// Pid returns the process id of the running server, or 0 when it is not
// running. It changes with every Restart.
func (s *Server) Pid() int {
	p := s.current()
	if p == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the server process is alive (it may be paused).
func (s *Server) Running() bool { return s.Pid() != 0 }

// LogPath returns the path of the server's log file in Dir.
func (s *Server) LogPath() string { return s.logPath }

// current returns the current process.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// stop kills the process; it runs in t.Cleanup.
func (s *Server) stop() {
	if p := s.current(); p != nil {
		killWait(p)
	}
}

// killWait sends SIGKILL to p and waits for its exit.
func killWait(p *process) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("redisserver: pid %d still alive %v after SIGKILL", p.cmd.Process.Pid, exitTimeout)
	}
}

// logTail returns the last lines the current process wrote to the log.
func (s *Server) logTail() string {
	var start int64
	if p := s.current(); p != nil {
		start = p.logStart
	}
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if start <= int64(len(b)) {
		b = b[start:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
