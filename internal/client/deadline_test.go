package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// Replies a fake sentinel and its master give.
const roleMaster = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"

// sentinelReply is SENTINEL get-master-addr-by-name's answer naming addr.
func sentinelReply(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return string(resp.AppendCommand(nil, host, port))
}

// fakeSentinels starts n fault servers that name master as the master.
func fakeSentinels(t *testing.T, n int, master string) []*redistest.Server {
	t.Helper()
	var ss []*redistest.Server
	for range n {
		s := redistest.Start(t, redistest.Config{})
		s.Handle(redistest.Rule{Command: "SENTINEL", Reply: sentinelReply(master)})
		ss = append(ss, s)
	}
	return ss
}

func addrsOf(ss []*redistest.Server) []string {
	var a []string
	for _, s := range ss {
		a = append(a, s.Addr())
	}
	return a
}

// mute makes s answer nothing from now on: every command waits an hour.
func mute(s *redistest.Server) {
	s.ClearRules()
	s.Handle(redistest.Rule{Delay: time.Hour})
}

// muteListener accepts connections and never answers; it reports how many
// it accepted.
func muteListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			accepted.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), accepted
}

func setBatch(b *Batch, id string, value []byte) {
	b.Add(ReplyOK, "SET", Key("deadline:", id), Bytes(value))
}

// Item 1 of issue 13: with the master gone and every sentinel silent, a
// call without a deadline returns within ReadTimeout (+10%), not after a
// DialTimeout per sentinel.
func TestSilentSentinelsKeepTheRetryBound(t *testing.T) {
	master := redistest.Start(t, redistest.Config{})
	master.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	sentinels := fakeSentinels(t, 3, master.Addr())
	const readTimeout = 2 * time.Second
	c := newTestClient(t, Config{SentinelAddrs: addrsOf(sentinels), MasterName: "m",
		ReadTimeout: readTimeout, DialTimeout: 4 * time.Second})
	var b Batch
	setBatch(&b, "a", []byte("v"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	for _, s := range sentinels {
		mute(s)
	}
	master.Close() // refused from now on
	start := time.Now()
	setBatch(&b, "a", []byte("v"))
	err := c.Do(context.Background(), &b)
	took := time.Since(start)
	t.Logf("figure: master gone, 3 silent sentinels: a call without deadline failed after %v (ReadTimeout %v): %v",
		took.Round(time.Millisecond), readTimeout, err)
	if err == nil {
		t.Fatal("the call succeeded with no master")
	}
	if limit := readTimeout + readTimeout/10; took > limit {
		t.Errorf("the call took %v, over ReadTimeout + 10%% (%v)", took, limit)
	}
}

// Item 1 of issue 13: Close does not wait for the watcher's dial to a new
// master that never answers.
func TestCloseDoesNotWaitForASentinelSwitch(t *testing.T) {
	defer func(d time.Duration) { SentinelWatchInterval = d }(SentinelWatchInterval)
	SentinelWatchInterval = 20 * time.Millisecond
	master := redistest.Start(t, redistest.Config{})
	master.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	sentinels := fakeSentinels(t, 3, master.Addr())
	c, err := New(Config{SentinelAddrs: addrsOf(sentinels), MasterName: "m", DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	silent, accepted := muteListener(t)
	for _, s := range sentinels {
		s.ClearRules()
		s.Handle(redistest.Rule{Command: "SENTINEL", Reply: sentinelReply(silent)})
	}
	// The watcher asks, hears of a new master and dials it: it hangs there.
	deadline := time.Now().Add(10 * time.Second)
	for accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if accepted.Load() == 0 {
		t.Fatal("the watcher never dialed the new master")
	}
	start := time.Now()
	c.Close()
	took := time.Since(start)
	t.Logf("figure: Close during the watcher's dial to a silent master: %v", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("Close took %v behind a dial (DialTimeout 5s)", took)
	}
	waitClientGoroutines(t)
}

// Item 3 of issue 13: a read deadline left from a quick call does not cut
// a reply that arrives slowly but within its own ReadTimeout.
func TestLeftoverDeadlineDoesNotCutASlowReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveTrickle(ln, 300*time.Millisecond)
	c := newTestClient(t, Config{Addr: ln.Addr().String(), PoolSize: 1, ReadTimeout: 400 * time.Millisecond})
	for run := range 3 {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "quick"))
		if err := c.Do(context.Background(), &b); err != nil { // arms the deadline at now + 400 ms
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		start := time.Now()
		b.Add(ReplyBulk, "GET", Key("k:", "slow")) // trickles for 300 ms: due in 400
		if err := c.Do(context.Background(), &b); err != nil {
			t.Fatalf("run %d: the slow reply failed after %v: %v", run, time.Since(start), err)
		}
		if got := string(b.Replies[0].Bulk); got != "0123456789" {
			t.Fatalf("run %d: reply %q", run, got)
		}
	}
}

// serveTrickle answers PING, HELLO (as an old server) and GET: a key
// ending in "slow" gets its 10-byte value one byte at a time over d.
func serveTrickle(ln net.Listener, d time.Duration) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			rd := resp.NewReader(bufio.NewReader(nc), resp.Limits{})
			for {
				v, err := rd.ReadValue()
				if err != nil || len(v.Elems) == 0 {
					return
				}
				switch strings.ToUpper(v.Elems[0].Str) {
				case "HELLO":
					nc.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
				case "PING":
					nc.Write([]byte("+PONG\r\n"))
				case "GET":
					if !strings.HasSuffix(v.Elems[1].Str, "slow") {
						nc.Write([]byte("$1\r\nq\r\n"))
						continue
					}
					nc.Write([]byte("$10\r\n"))
					for i := range 10 {
						time.Sleep(d / 10)
						nc.Write([]byte{'0' + byte(i)})
					}
					nc.Write([]byte("\r\n"))
				default:
					nc.Write([]byte("-ERR unexpected\r\n"))
				}
			}
		}()
	}
}

// Item 6 of issue 13: while every handshake fails (the password changed),
// calls fail at once with that failure and the server sees at most about
// 20 dials a second; once it accepts again, calls succeed within the
// backoff's bound.
func TestFailingHandshakesAreBackedOff(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr()})
	ctx := context.Background()
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k:", "a"))
	if err := c.Do(ctx, &b); err != nil {
		t.Fatal(err)
	}
	srv.Handle(redistest.Rule{Command: "HELLO", Reply: redistest.ReplyWRONGPASS})
	srv.CloseConns()
	for c.Stats().Pool.Open > 0 { // the pipes saw the close: every call now dials
		time.Sleep(time.Millisecond)
	}
	hellos := srv.Count("HELLO")
	const callers, span = 64, 2 * time.Second
	var calls, wrongpass atomic.Int64
	var other atomic.Value
	var mu sync.Mutex
	var lat []time.Duration
	stop := time.Now().Add(span)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				var b Batch
				b.Add(ReplyBulk, "GET", Key("k:", "a"))
				start := time.Now()
				err := c.Do(ctx, &b)
				d := time.Since(start)
				calls.Add(1)
				if se, ok := errors.AsType[resp.Error](err); ok && se.Kind == "WRONGPASS" {
					wrongpass.Add(1)
				} else {
					other.CompareAndSwap(nil, fmt.Sprint(err))
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	dials := srv.Count("HELLO") - hellos
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	rate := float64(dials) / span.Seconds()
	t.Logf("figure: handshakes failing, %d callers for %v: %d calls (%d WRONGPASS), %d dials (%.1f/s), call p50 %v",
		callers, span, calls.Load(), wrongpass.Load(), dials, rate, p50)
	if rate > 20 {
		t.Errorf("%.1f dials/s while every handshake fails, want <= 20", rate)
	}
	if wrongpass.Load() != calls.Load() {
		t.Errorf("%d of %d failed calls did not say WRONGPASS, the first: %v", calls.Load()-wrongpass.Load(), calls.Load(), other.Load())
	}
	srv.ClearRules()
	took := untilACallSucceeds(t, c, "the server accepting again")
	t.Logf("figure: first success %v after the server accepted again", took.Round(time.Millisecond))
	if took > maxDialBackoff+500*time.Millisecond {
		t.Errorf("first success %v after the server accepted again, over the backoff's %v", took, maxDialBackoff)
	}
}

// Item 8 of issue 13: Close does not wait for a dial whose handshake
// hangs, and leaves no goroutine.
func TestCloseDoesNotWaitForAHungDial(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c, err := New(Config{Addr: srv.Addr(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(redistest.Rule{Command: "HELLO", Delay: time.Hour})
	srv.CloseConns()
	hellos := srv.Count("HELLO")
	errc := make(chan error, 1)
	go func() {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		errc <- c.Do(context.Background(), &b)
	}()
	for srv.Count("HELLO") == hellos {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	c.Close()
	took := time.Since(start)
	callErr := <-errc
	t.Logf("figure: Close during a hung handshake: %v; the call: %v", took.Round(time.Millisecond), callErr)
	if took > 500*time.Millisecond {
		t.Errorf("Close took %v behind a hung dial (DialTimeout 5s)", took)
	}
	if callErr == nil {
		t.Error("the call succeeded on a server that never finished the handshake")
	}
	waitClientGoroutines(t)
}

// Item 8 of issue 13: with calls in flight that will never be answered,
// Close returns once ReadTimeout has passed for them, and leaves no
// goroutine.
func TestCloseWithUnansweredCallsIsBoundedByReadTimeout(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	const readTimeout = 500 * time.Millisecond
	c, err := New(Config{Addr: srv.Addr(), ReadTimeout: readTimeout})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(redistest.Rule{Command: "GET", Delay: time.Hour})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			b.Add(ReplyBulk, "GET", Key("k:", "a"))
			c.Do(context.Background(), &b)
		}()
	}
	for srv.Count("GET") == 0 { // the server holds the rest behind the first on its connection
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others are written or refused: either way Close is bounded
	start := time.Now()
	c.Close()
	took := time.Since(start)
	wg.Wait()
	t.Logf("figure: Close with 8 calls never answered: %v (ReadTimeout %v)", took.Round(time.Millisecond), readTimeout)
	if took > readTimeout+500*time.Millisecond {
		t.Errorf("Close took %v, over ReadTimeout %v + 500 ms", took, readTimeout)
	}
	waitClientGoroutines(t)
}

// untilACallSucceeds calls GET until one succeeds and returns how long
// that took; it fails t after 5 s.
func untilACallSucceeds(t *testing.T, c *Client, since string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		if c.Do(context.Background(), &b) == nil {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no call succeeded within 5 s of %s", since)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClientGoroutines waits until no goroutine of the client or its pools
// runs (the test's fault servers may keep theirs), or fails.
func waitClientGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		var left []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if (strings.Contains(g, "redisstore/internal/client.") || strings.Contains(g, "redisstore/pool.")) &&
				!strings.Contains(g, "_test.go") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the client left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Item 2 of issue 13: a small call with a 100 ms deadline returns within
// 120 ms (p99) beside 200 callers saving 1 MiB values.
func TestSmallCallsKeepTheirDeadlineBesideBigValues(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	bigCallers, smallCallers, span := 200, 50, 3*time.Second
	if raceEnabled {
		bigCallers = 50 // the race detector makes copying 1 MiB slow
	}
	bw := startBigWriters(c, bigCallers, 1<<20)
	var mu sync.Mutex
	var took, control []time.Duration
	var smallOK atomic.Int64
	var swg sync.WaitGroup
	end := time.Now().Add(span)
	// Each small caller, and each of as many control goroutines that only
	// wait for their deadline (to tell the scheduler's delays on a loaded
	// machine from a call's), times one 100 ms context after another.
	timed := func(out *[]time.Duration, f func(ctx context.Context)) {
		defer swg.Done()
		for time.Now().Before(end) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			start := time.Now()
			f(ctx)
			d := time.Since(start)
			cancel()
			mu.Lock()
			*out = append(*out, d)
			mu.Unlock()
		}
	}
	for range smallCallers {
		swg.Add(2)
		go timed(&control, func(ctx context.Context) { <-ctx.Done() })
		go timed(&took, func(ctx context.Context) {
			var b Batch
			b.Add(ReplyBulk, "GET", Key("deadline:", "small"))
			if c.Do(ctx, &b) == nil {
				smallOK.Add(1)
			}
		})
	}
	swg.Wait()
	bw.stop()
	slices.Sort(took)
	slices.Sort(control)
	p := func(q float64) time.Duration { return took[int(q*float64(len(took)-1))] }
	controlP99 := control[int(0.99*float64(len(control)-1))]
	late := 0
	for _, d := range took {
		if d > 100*time.Millisecond {
			late++
		}
	}
	t.Logf("figure: %d callers saving 1 MiB (%d saved), %d small calls with a 100 ms deadline (%d ok): returned p50 %v, p99 %v, max %v; %d past 100 ms; goroutines only waiting 100 ms: p99 %v",
		bigCallers, bw.ok.Load(), len(took), smallOK.Load(), p(0.5), p(0.99), took[len(took)-1], late, controlP99)
	// The target is 120 ms; a machine so loaded that goroutines which only
	// wait for their deadline return later than that moves the bound by as
	// much. Before the fix small calls waited for the big values: p99
	// 1-2.4 s. Under the race detector the test looks for data races only:
	// its slow copies of 1 MiB values starve the scheduler unevenly (a p99
	// of 1.4 s beside a control of 0.6 s was seen on a loaded machine), and
	// scripts/test.sh runs the test again without it, where the bound holds.
	if raceEnabled {
		return
	}
	limit := max(120*time.Millisecond, controlP99+20*time.Millisecond)
	if p99 := p(0.99); p99 > limit {
		t.Errorf("p99 of the small calls %v, want <= %v", p99, limit)
	}
}

// Item 7 of issue 13: a silent partition (no FIN, no RST) is found on idle
// connections by the health check within HealthCheckInterval +
// ReadTimeout, without a caller; after the partition heals the first call
// succeeds on a new connection at once.
func TestSilentPartitionIsFoundByHealthChecks(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	px := redistest.StartProxy(t, srv.Addr())
	const every, readTimeout = 200 * time.Millisecond, 500 * time.Millisecond
	c := newTestClient(t, Config{Addr: px.Addr(), HealthCheckInterval: every, ReadTimeout: readTimeout, DialTimeout: time.Second})
	ctx := context.Background()
	for range 4 {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		if err := c.Do(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	if open := c.Stats().Pool.Open; open == 0 {
		t.Fatal("no connection open after four calls")
	}
	px.Partition()
	partitioned := time.Now()
	for c.Stats().Pool.Open > 0 {
		if time.Since(partitioned) > 10*time.Second {
			t.Fatalf("after %v of partition %d connections are still open, none found dead", time.Since(partitioned), c.Stats().Pool.Open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	found := time.Since(partitioned)
	t.Logf("figure: silent partition: idle connections closed %v after it began (HealthCheckInterval %v, ReadTimeout %v); %d health checks",
		found.Round(time.Millisecond), every, readTimeout, c.Stats().HealthChecks)
	if limit := every + readTimeout + 500*time.Millisecond; found > limit {
		t.Errorf("the dead connections were closed after %v, over %v", found, limit)
	}
	px.Heal()
	start := time.Now()
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k:", "a"))
	if err := c.Do(ctx, &b); err != nil {
		t.Fatalf("the first call after the partition healed: %v", err)
	}
	t.Logf("figure: first call after the partition healed: %v", time.Since(start).Round(100*time.Microsecond))
}

// An idle connection gets its PING every HealthCheckInterval, also when
// that is shorter than ReadTimeout: the deadline a call's reply left (its
// due time, ReadTimeout after it was sent) does not hold the next check
// back. (It did: checks came every ReadTimeout, so a silent connection
// was found within 2 x ReadTimeout, not HealthCheckInterval +
// ReadTimeout, the documented bound.)
func TestHealthChecksKeepTheirIntervalUnderReadTimeout(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr(), PoolSize: 1, HealthCheckInterval: 50 * time.Millisecond, ReadTimeout: 10 * time.Second})
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k:", "a"))
	if err := c.Do(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second) // 100 checks' worth; one ReadTimeout would be 10s
	for c.Stats().HealthChecks < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d health checks in 5s at an interval of 50ms", c.Stats().HealthChecks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Item 7 of issue 13: during a silent partition a call without a deadline
// ends within CallBound (its dial's handshake hangs until DialTimeout); the
// calls after it fail at once while dials back off; after the partition
// heals calls succeed again within the backoff's bound.
func TestCallsDuringAPartitionAreBounded(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	px := redistest.StartProxy(t, srv.Addr())
	cfg := Config{Addr: px.Addr(), ReadTimeout: 500 * time.Millisecond, DialTimeout: time.Second, HealthCheckInterval: -1}
	c := newTestClient(t, cfg)
	ctx := context.Background()
	get := func() (time.Duration, error) {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		start := time.Now()
		err := c.Do(ctx, &b)
		return time.Since(start), err
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	px.Partition()
	px.Reset() // the open connections end; new ones hang in their handshake
	bound := cfg.WithDefaults().CallBound()
	var worst time.Duration
	slow := 0
	for range 20 {
		took, err := get()
		if err == nil {
			t.Fatal("a call succeeded during the partition")
		}
		worst = max(worst, took)
		if took > 100*time.Millisecond {
			slow++
		}
		if took > bound+200*time.Millisecond {
			t.Errorf("a call took %v during the partition, over CallBound %v: %v", took, bound, err)
		}
	}
	t.Logf("figure: 20 calls without deadline during a partition: %d over 100 ms, the slowest %v (CallBound %v), %d dials refused by the backoff",
		slow, worst.Round(time.Millisecond), bound, c.Stats().DialsRefused)
	if slow > 3 {
		t.Errorf("%d of 20 calls waited over 100 ms: a failed dial should make the next ones fail at once", slow)
	}
	px.Heal()
	took := untilACallSucceeds(t, c, "the partition healing")
	t.Logf("figure: after calls failed during the partition, the first success %v after it healed", took.Round(time.Millisecond))
	if took > maxDialBackoff+cfg.DialTimeout {
		t.Errorf("first success %v after the partition healed, over the backoff's %v + DialTimeout", took, maxDialBackoff)
	}
}

// Item 9 of issue 13, measured: a small GET shares its connection, and
// Redis's one thread, with big values written beside it, and waits for
// them (head-of-line blocking). The figure goes to the README; the test
// asserts only that every call succeeded.
func TestHeadOfLineBlockingBesideBigValues(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr, ReadTimeout: 10 * time.Second})
	size := 50 << 20
	if raceEnabled {
		size = 8 << 20
	}
	ctx := context.Background()
	small := func() (time.Duration, error) {
		var b Batch
		b.Add(ReplyBulk, "GET", Key("hol:", "small"))
		start := time.Now()
		err := c.Do(ctx, &b)
		return time.Since(start), err
	}
	var alone []time.Duration
	for range 200 {
		d, err := small()
		if err != nil {
			t.Fatal(err)
		}
		alone = append(alone, d)
	}
	bw := startBigWriters(c, 2, size)
	var beside []time.Duration
	for range 200 {
		d, err := small()
		if err != nil {
			t.Fatal(err)
		}
		beside = append(beside, d)
	}
	if err := bw.stop(); err != nil {
		t.Fatal(err)
	}
	pct := func(ds []time.Duration, q float64) time.Duration {
		slices.Sort(ds)
		return ds[int(q*float64(len(ds)-1))].Round(10 * time.Microsecond)
	}
	t.Logf("figure: small GET alone p50 %v p99 %v; beside 2 writers of %d MiB values p50 %v p99 %v",
		pct(alone, 0.5), pct(alone, 0.99), size>>20, pct(beside, 0.5), pct(beside, 0.99))
}

// Item 2 of issue 13: in a storm of 1,000 goroutines whose contexts are
// cancelled at random moments, each call returns soon after its cancel: no
// caller is kept writing other callers' commands (the issue saw up to
// 946 ms), a caller waiting for its turn at the connection gives up when
// its context ends, and failures are counted without a shared lock. The
// figure (p99 3-25 ms here, against 51-80 ms before) is the scheduler's as
// much as ours, so the bound only catches a caller held far longer than
// goroutines that only wait for a cancel are.
func TestCancelStormReturnsByTheDeadline(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr})
	callers, rounds := 1000, 20
	if raceEnabled {
		rounds = 5
	}
	value := []byte(strings.Repeat("v", 300))
	// Each goroutine records into its own slices: a shared lock would
	// itself delay the returns measured.
	lates, controls := make([][]time.Duration, callers), make([][]time.Duration, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				after := time.Duration((i*7+r*13)%20) * 100 * time.Microsecond
				var cancelled atomic.Int64
				stop := time.AfterFunc(after, func() { cancelled.Store(time.Now().UnixNano()); cancel() })
				var b Batch
				if r%2 == 0 {
					setBatch(&b, "storm", value)
				} else {
					b.Add(ReplyBulk, "GET", Key("deadline:", "storm"))
				}
				c.Do(ctx, &b)
				returned := time.Now()
				if !stop.Stop() {
					for cancelled.Load() == 0 { // the cancel ran: wait for its timestamp
						runtime.Gosched()
					}
					d := returned.Sub(time.Unix(0, cancelled.Load()))
					lates[i] = append(lates[i], max(d, 0))
				}
				cancel()
				if i%10 == 0 { // the control: waits for nothing but its cancel
					ctx, cancel := context.WithCancel(context.Background())
					var at atomic.Int64
					time.AfterFunc(after, func() { at.Store(time.Now().UnixNano()); cancel() })
					<-ctx.Done()
					d := time.Since(time.Unix(0, at.Load()))
					controls[i] = append(controls[i], d)
				}
			}
		}()
	}
	wg.Wait()
	late, control := slices.Concat(lates...), slices.Concat(controls...)
	if len(late) == 0 {
		t.Fatal("no call was cancelled while in flight")
	}
	slices.Sort(late)
	slices.Sort(control)
	q := func(ds []time.Duration, f float64) time.Duration { return ds[int(f*float64(len(ds)-1))] }
	t.Logf("figure: %d goroutines, %d calls cancelled in flight: returned after the cancel p50 %v, p95 %v, p99 %v, max %v; goroutines only waiting for a cancel: p95 %v, p99 %v, max %v",
		callers, len(late), q(late, 0.5), q(late, 0.95), q(late, 0.99), late[len(late)-1], q(control, 0.95), q(control, 0.99), control[len(control)-1])
	limit := max(100*time.Millisecond, 3*q(control, 0.99)+20*time.Millisecond)
	if raceEnabled {
		limit = max(250*time.Millisecond, 3*q(control, 0.99)+50*time.Millisecond)
	}
	if q(late, 0.99) > limit {
		t.Errorf("p99 of the cancelled calls returned %v after their cancel, over %v", q(late, 0.99), limit)
	}
}

// bigWriters are goroutines that SET values of one size in a loop.
type bigWriters struct {
	ok   atomic.Int64 // SETs that succeeded
	err  atomic.Value // the first failure
	done chan struct{}
	wg   sync.WaitGroup
}

// startBigWriters starts n goroutines that SET size-byte values through c
// until stop.
func startBigWriters(c *Client, n, size int) *bigWriters {
	w := &bigWriters{done: make(chan struct{})}
	value := []byte(strings.Repeat("x", size))
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				select {
				case <-w.done:
					return
				default:
				}
				var b Batch
				setBatch(&b, "big"+string(rune('a'+i%26)), value)
				if err := c.Do(context.Background(), &b); err != nil {
					w.err.CompareAndSwap(nil, err)
				} else {
					w.ok.Add(1)
				}
			}
		}()
	}
	return w
}

// stop ends the writers and returns their first failure.
func (w *bigWriters) stop() error {
	close(w.done)
	w.wg.Wait()
	err, _ := w.err.Load().(error)
	return err
}
