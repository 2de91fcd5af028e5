package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/bench/goredisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// faultsLong makes the fault comparisons of faults_test.go run five times
// longer than CI's default, for figures with less noise.
var faultsLong = flag.Bool("faults.long", false, "run the fault comparisons (TestFaults*) 5 times longer")

// faultDur is d, or 5*d under -faults.long.
func faultDur(d time.Duration) time.Duration {
	if *faultsLong {
		return 5 * d
	}
	return d
}

// faultConfig is what the fault comparisons tell both stacks; everything
// else is each library's default (they agree: DialTimeout 5 s, ReadTimeout
// and WriteTimeout 3 s, PoolSize 10 per GOMAXPROCS, PoolTimeout 4 s).
type faultConfig struct {
	Addr          string
	Password      string
	SentinelAddrs []string
	MasterName    string
}

// faultStore is the part of a session store the fault comparisons use.
// Load of a missing session returns an error matching session.ErrNotFound.
type faultStore interface {
	Load(ctx context.Context, id string) (*session.Session, error)
	Save(ctx context.Context, sess *session.Session) error
	Close() error
}

// faultStack names a store and opens it as a user would, with defaults.
type faultStack struct {
	name string
	open func(cfg faultConfig) (faultStore, error)
}

// faultStacks are the stacks compared: redisstore and sessionx's store on
// go-redis v9 (redis.NewClient or redis.NewFailoverClient with the options
// its README shows; ContextTimeoutEnabled is off by default there, so
// go-redis bounds socket I/O by ReadTimeout and WriteTimeout, not by the
// context's deadline).
var faultStacks = []faultStack{
	{"redisstore", openFaultRedisstore},
	{"go-redis", openFaultGoredis},
}

// faultRedisstore adapts *redisstore.RedisStore to faultStore.
type faultRedisstore struct{ *redisstore.RedisStore }

func (s faultRedisstore) Load(ctx context.Context, id string) (*session.Session, error) {
	return s.LoadContext(ctx, id)
}

func (s faultRedisstore) Save(ctx context.Context, sess *session.Session) error {
	return s.SaveContext(ctx, sess)
}

func openFaultRedisstore(cfg faultConfig) (faultStore, error) {
	s, err := redisstore.NewRedisStore(redisstore.Options{
		Addr:          cfg.Addr,
		Password:      cfg.Password,
		SentinelAddrs: cfg.SentinelAddrs,
		MasterName:    cfg.MasterName,
	})
	if err != nil {
		return nil, err
	}
	return faultRedisstore{s}, nil
}

func openFaultGoredis(cfg faultConfig) (faultStore, error) {
	var c *redis.Client
	if len(cfg.SentinelAddrs) > 0 {
		c = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    cfg.MasterName,
			SentinelAddrs: cfg.SentinelAddrs,
			Password:      cfg.Password,
		})
	} else {
		c = redis.NewClient(&redis.Options{Addr: cfg.Addr, Password: cfg.Password})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return goredisstore.NewWithClient(ctx, c)
}

// openFault opens st or fails the test.
func openFault(t testing.TB, st faultStack, cfg faultConfig) faultStore {
	t.Helper()
	s, err := st.open(cfg)
	if err != nil {
		t.Fatalf("%s: open: %v", st.name, err)
	}
	return s
}

// smallSession is a session of about 150 bytes of JSON.
func smallSession(id string, n int) *session.Session {
	now := time.Now()
	return &session.Session{
		ID:        id,
		Data:      map[string]interface{}{"user": "u-" + id, "n": n},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// callResult is one timed call.
type callResult struct {
	start   time.Time
	elapsed time.Duration
	err     error
}

// results collects callResults from many goroutines.
type results struct {
	mu  sync.Mutex // protects all
	all []callResult
}

func (r *results) add(c callResult) {
	r.mu.Lock()
	r.all = append(r.all, c)
	r.mu.Unlock()
}

// snapshot returns the calls recorded so far.
func (r *results) snapshot() []callResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// quantile returns the q-quantile (0..1) of ds by the nearest rank, or 0
// for none. ds is sorted in place.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// pctl renders p50, p99 and max of ds.
func pctl(ds []time.Duration) string {
	if len(ds) == 0 {
		return "p50 - p99 - max -"
	}
	return fmt.Sprintf("p50 %s p99 %s max %s", ms(quantile(ds, 0.5)), ms(quantile(ds, 0.99)), ms(quantile(ds, 1)))
}

// ms renders d in milliseconds, or seconds from 10 s up.
func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

// pct is 100*n/of, or 0.
func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// errClass names the class of err the same way for both stacks: a Redis
// error kind, "deadline", "canceled", "refused", "reset", "EOF", "i/o
// timeout", "pool timeout", or the start of the message.
func errClass(err error) string {
	if err == nil {
		return "ok"
	}
	msg := err.Error()
	for _, kind := range []string{"WRONGPASS", "NOAUTH", "READONLY", "LOADING", "MASTERDOWN", "OOM"} {
		if strings.Contains(msg, kind) {
			return kind
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, errStillRunning):
		return "still running"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, redisstore.ErrPoolTimeout), errors.Is(err, redis.ErrPoolTimeout):
		return "pool timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "i/o timeout"
	}
	if len(msg) > 60 {
		msg = msg[:60] + "..."
	}
	return strconv.Quote(msg)
}

// tally counts errors by class.
type tally struct {
	mu sync.Mutex // protects m
	m  map[string]int
}

func (t *tally) add(err error) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[string]int)
	}
	t.m[errClass(err)]++
	t.mu.Unlock()
}

// total is the number of errors counted.
func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.m {
		n += c
	}
	return n
}

// String lists the classes, most frequent first: "WRONGPASS 812, EOF 3".
func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) == 0 {
		return "none"
	}
	type kv struct {
		k string
		n int
	}
	var s []kv
	for k, n := range t.m {
		s = append(s, kv{k, n})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].n > s[j].n || s[i].n == s[j].n && s[i].k < s[j].k })
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.n)
	}
	return strings.Join(parts, ", ")
}

// adminConn is one authenticated connection for administration, so that
// the server's connection counters move only for the stacks under test.
// Replies are returned as text: arrays one element a line.
type adminConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialAdmin connects to addr and authenticates (user may be empty; no AUTH
// when password is empty). It fails the test on error and closes the
// connection in t.Cleanup.
func dialAdmin(t testing.TB, addr, user, password string) *adminConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("admin: dial %s: %v", addr, err)
	}
	a := &adminConn{c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if password != "" {
		args := []string{"AUTH", password}
		if user != "" {
			args = []string{"AUTH", user, password}
		}
		if _, err := a.do(args...); err != nil {
			t.Fatalf("admin: AUTH on %s: %v", addr, err)
		}
	}
	return a
}

// do sends one command and reads its reply within 10 s.
func (a *adminConn) do(args ...string) (string, error) {
	_ = a.c.SetDeadline(time.Now().Add(10 * time.Second))
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, s := range args {
		b = appendBulk(b, s)
	}
	if _, err := a.c.Write(b); err != nil {
		return "", err
	}
	return a.read()
}

// must is do that fails the test on error; the error names the command
// only (later arguments may be passwords).
func (a *adminConn) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := a.do(args...)
	if err != nil {
		t.Fatalf("admin: %s: %v", args[0], err)
	}
	return out
}

// read reads one reply.
func (a *adminConn) read() (string, error) {
	line, err := a.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("admin: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New("admin: " + line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		v := make([]byte, n+2)
		if _, err := io.ReadFull(a.r, v); err != nil {
			return "", err
		}
		return string(v[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := a.read()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("admin: unexpected reply %q", line)
}

// infoField returns one field of INFO section.
func (a *adminConn) infoField(t testing.TB, section, field string) int64 {
	t.Helper()
	out := a.must(t, "INFO", section)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("admin: INFO %s %s = %q", section, field, v)
			}
			return n
		}
	}
	t.Fatalf("admin: INFO %s has no %s", section, field)
	return 0
}

// connsReceived is INFO stats total_connections_received.
func (a *adminConn) connsReceived(t testing.TB) int64 {
	t.Helper()
	return a.infoField(t, "stats", "total_connections_received")
}

// missing counts the keys (sessionx's prefix + id) absent from the server.
func (a *adminConn) missing(t testing.TB, ids []string) int {
	t.Helper()
	lost := 0
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		args := []string{"EXISTS"}
		for _, id := range ids[:n] {
			args = append(args, keyPrefix+id)
		}
		got, err := strconv.Atoi(a.must(t, args...))
		if err != nil {
			t.Fatalf("admin: EXISTS: %v", err)
		}
		lost += n - got
		ids = ids[n:]
	}
	return lost
}
