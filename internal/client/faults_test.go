package client

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
)

// silentAfterHandshake starts a fault server that completes the handshake
// but never answers SENTINEL; hit gets a value at each SENTINEL received.
func silentAfterHandshake(t *testing.T, hit chan struct{}) *redistest.Server {
	t.Helper()
	s := redistest.Start(t, redistest.Config{})
	silence(s, hit)
	return s
}

func silence(s *redistest.Server, hit chan struct{}) {
	s.ClearRules()
	s.Handle(redistest.Rule{Command: "SENTINEL", Delay: time.Hour, Match: func([]string) bool {
		if hit != nil {
			select {
			case hit <- struct{}{}:
			default:
			}
		}
		return true
	}})
}

// discover claims "a silent sentinel delays nothing while another
// answers", but the winner's cancel does not reach a question already
// sent: conn.call only reads ctx's deadline, so discover waits for the
// silent sentinel's ReadTimeout.
func TestNewDoesNotWaitForASentinelSilentAfterItsHandshake(t *testing.T) {
	master := redistest.Start(t, redistest.Config{})
	master.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	fast := fakeSentinels(t, 1, master.Addr())[0]
	slow := silentAfterHandshake(t, nil)
	const readTimeout = 2 * time.Second
	start := time.Now()
	c := newTestClient(t, Config{SentinelAddrs: []string{slow.Addr(), fast.Addr()}, MasterName: "m",
		ReadTimeout: readTimeout})
	took := time.Since(start)
	t.Logf("New with one answering and one silent sentinel: %v (ReadTimeout %v)", took.Round(time.Millisecond), readTimeout)
	if took > 500*time.Millisecond {
		t.Errorf("New took %v: discover waited for the silent sentinel although another answered at once", took)
	}
	_ = c
}

// A rediscovery after the master died is stalled by the silent sentinel
// until the retry's bound, and then checkMaster runs with a context that
// has ended: the switch never happens, the call fails although a sentinel
// named the new master at once.
func TestRediscoveryIsNotStalledByASentinelSilentAfterItsHandshake(t *testing.T) {
	defer func(d time.Duration) { SentinelWatchInterval = d }(SentinelWatchInterval)
	SentinelWatchInterval = time.Hour // only the failed call rediscovers
	oldMaster := redistest.Start(t, redistest.Config{})
	oldMaster.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	newMaster := redistest.Start(t, redistest.Config{})
	newMaster.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	ss := fakeSentinels(t, 2, oldMaster.Addr())
	const readTimeout = 2 * time.Second
	c := newTestClient(t, Config{SentinelAddrs: addrsOf(ss), MasterName: "m", ReadTimeout: readTimeout, DialTimeout: time.Second})

	ss[0].ClearRules()
	ss[0].Handle(redistest.Rule{Command: "SENTINEL", Reply: sentinelReply(newMaster.Addr())})
	silence(ss[1], nil)
	oldMaster.Close()

	var b Batch
	b.Idempotent = true
	b.Add(ReplyBulk, "GET", Key("k:", "a"))
	start := time.Now()
	err := c.Do(context.Background(), &b)
	took := time.Since(start)
	t.Logf("call after failover, one sentinel silent: %v after %v; client on %v", err, took.Round(time.Millisecond), c.Addrs())
	if err != nil {
		t.Errorf("the call failed after %v although a sentinel named the new master at once: %v", took, err)
	}
	if got := c.Addrs(); len(got) != 1 || got[0] != newMaster.Addr() {
		t.Errorf("client on %v, want the new master %s", got, newMaster.Addr())
	}
}

// Close claims to cancel rediscoveries under way, but a rediscovery whose
// question to a sentinel is unanswered keeps s.mu until its deadline, and
// Close waits for it.
func TestCloseDoesNotWaitForARediscoveryOnASilentSentinel(t *testing.T) {
	defer func(d time.Duration) { SentinelWatchInterval = d }(SentinelWatchInterval)
	SentinelWatchInterval = time.Hour
	master := redistest.Start(t, redistest.Config{})
	master.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	ss := fakeSentinels(t, 1, master.Addr())
	const readTimeout = 3 * time.Second
	c, err := New(Config{SentinelAddrs: addrsOf(ss), MasterName: "m", ReadTimeout: readTimeout, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hit := make(chan struct{}, 1)
	silence(ss[0], hit)
	master.Close()
	done := make(chan error, 1)
	go func() {
		var b Batch
		b.Idempotent = true
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		done <- c.Do(context.Background(), &b)
	}()
	select {
	case <-hit: // the rediscovery waits for the sentinel's answer, under s.mu
	case <-time.After(5 * time.Second):
		t.Fatal("no rediscovery asked the sentinel")
	}
	start := time.Now()
	c.Close()
	took := time.Since(start)
	<-done
	t.Logf("Close during a rediscovery on a silent sentinel: %v (ReadTimeout %v)", took.Round(time.Millisecond), readTimeout)
	if took > 500*time.Millisecond {
		t.Errorf("Close took %v: it waited for the rediscovery's unanswered SENTINEL", took)
	}
}

// The cluster's background refresh has the same gap: Close cancels its
// context, but CLUSTER SLOTS already sent is read until ReadTimeout, and
// Close waits for the refresh (c.wg).
func TestClusterCloseDoesNotWaitForABackgroundRefresh(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	slots := clusterSlotsReply(srv.Addr())
	srv.Handle(redistest.Rule{Command: "CLUSTER", Reply: slots})
	const readTimeout = 3 * time.Second
	c, err := New(Config{ClusterAddrs: []string{srv.Addr()}, ReadTimeout: readTimeout, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hit := make(chan struct{}, 1)
	srv.ClearRules()
	srv.Handle(redistest.Rule{Command: "CLUSTER", Delay: time.Hour, Match: func([]string) bool {
		select {
		case hit <- struct{}{}:
		default:
		}
		return true
	}})
	// A MOVED to the same node starts a background refresh (refreshInterval passed).
	time.Sleep(2 * refreshInterval)
	srv.Handle(redistest.Rule{Command: "GET", Times: 1, Reply: redistest.Moved(KeySlot("k:", "a"), srv.Addr())})
	var b Batch
	b.Add(ReplyBulk, "GET", Key("k:", "a"))
	c.Do(context.Background(), &b)
	select {
	case <-hit:
	case <-time.After(5 * time.Second):
		t.Fatal("no background refresh asked CLUSTER SLOTS")
	}
	start := time.Now()
	c.Close()
	took := time.Since(start)
	t.Logf("Close during a background CLUSTER SLOTS refresh: %v (ReadTimeout %v)", took.Round(time.Millisecond), readTimeout)
	if took > 500*time.Millisecond {
		t.Errorf("Close took %v: it waited for the refresh's unanswered CLUSTER SLOTS", took)
	}
}

// clusterSlotsReply is CLUSTER SLOTS for one master at addr serving every slot.
func clusterSlotsReply(addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$" + strconv.Itoa(len(host)) + "\r\n" + host + "\r\n:" + port + "\r\n"
}

// Only the dial admitted after a pause (the turn) ends the turn: a dial
// that was already under way when the failures began neither lets a second
// dial in when it ends, nor lengthens the pause.
func TestBackoffOnlyTheAdmittedDialEndsItsTurn(t *testing.T) {
	var b dialBackoff
	t0 := time.Now()
	turnX, err := b.admit(t0) // dial X, before any failure
	if err != nil || turnX {
		t.Fatalf("before any failure: turn %v, %v", turnX, err)
	}
	b.done(false, errors.New("refused"), t0) // dial Y, concurrent with X, fails
	if d := b.done(false, errors.New("refused"), t0); d > minDialBackoff {
		t.Errorf("a second dial that was under way when the failures began made the pause %v", d)
	}
	t1 := t0.Add(2 * time.Second)
	turnC, err := b.admit(t1) // dial C: the one dial allowed now
	if err != nil || !turnC {
		t.Fatalf("after the pause: turn %v, %v", turnC, err)
	}
	b.abandon(turnX) // X's caller gives up
	if _, err := b.admit(t1); err == nil {
		t.Error("a second dial was admitted while the admitted one is under way (X's abandon cleared C's turn)")
	}
}

// While the admitted dial runs past the pause, refused calls do not state
// a negative wait ("(no new connection for another -2s)").
func TestBackoffErrorNeverStatesANegativeWait(t *testing.T) {
	var b dialBackoff
	t0 := time.Now()
	b.done(false, errors.New("redisstore: dial 127.0.0.1:1: connection refused"), t0)
	if _, err := b.admit(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := b.admit(t0.Add(3 * time.Second)) // the admitted dial hangs
	if err == nil {
		t.Fatal("a second dial was admitted")
	}
	if strings.Contains(err.Error(), "another -") {
		t.Errorf("refusal says: %q", err)
	}
}

// node.dial says a dial its caller gave up "says nothing of the server",
// but it tells by ctx.Err() after the fact: the handshake's socket
// deadline is the caller's deadline, and it usually fires before the
// context's own timer, so dial returns a plain i/o timeout while ctx.Err()
// is still nil, and the caller's impatience is recorded as a server failure.
// Here a healthy server that takes 300 ms to shake hands is put in backoff
// by callers with 50 ms deadlines, and a patient caller is refused at once
// with their timeout.
func TestCallerDeadlineIsNotAServerFailure(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	c := newTestClient(t, Config{Addr: srv.Addr(), DialTimeout: 5 * time.Second})
	n := c.topo.nodes()[0]
	srv.Handle(redistest.Rule{Command: "HELLO", Delay: 300 * time.Millisecond})
	srv.CloseConns()
	const tries = 10
	counted := 0
	var refusal error
	for range tries {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		var b Batch
		b.Idempotent = true
		b.Add(ReplyBulk, "GET", Key("k:", "a"))
		c.Do(ctx, &b) // fails: its deadline is shorter than the handshake
		cancel()
		n.backoff.mu.Lock()
		if n.backoff.failures > 0 {
			counted++
		}
		n.backoff.mu.Unlock()
		// A patient caller now: it should dial (and wait 300 ms), not be refused.
		if d, err := n.dial(context.Background()); err == nil {
			d.close()
		} else if refusal == nil {
			refusal = err
		}
		n.backoff.mu.Lock()
		n.backoff.failures, n.backoff.trying = 0, false // start the next try clean
		n.backoff.mu.Unlock()
	}
	t.Logf("%d of %d dials given up by their caller's 50 ms deadline were counted as server failures; a patient dial after one was refused with %v",
		counted, tries, refusal)
	if counted > 0 || refusal != nil {
		t.Errorf("%d of %d caller deadlines counted as server failures (patient dial refused: %v)", counted, tries, refusal)
	}
}
