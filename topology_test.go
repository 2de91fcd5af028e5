package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// slotsReply is a CLUSTER SLOTS reply giving every slot to the server at addr.
func slotsReply(t *testing.T, addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(addr)
	}
	return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$" + strconv.Itoa(len(host)) + "\r\n" + host + "\r\n:" + port + "\r\n"
}

func TestMovedForeverGivesErrTooManyRedirects(t *testing.T) {
	srv := fault.Start(t, fault.Config{})
	srv.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(t, srv.Addr())})
	for _, c := range []string{"GET", "SET", "DEL"} {
		srv.Handle(fault.Rule{Command: c, Reply: fault.Moved(client.KeySlot("sessionx:", "loop"), srv.Addr())})
	}
	s := openStore(t, Options{ClusterAddrs: []string{srv.Addr()}})
	start := time.Now()
	err := s.Save(testSession("loop"))
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("Save = %v, want ErrTooManyRedirects", err)
	}
	if _, err := s.Load("loop"); !errors.Is(err, ErrTooManyRedirects) || errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("Load = %v, want ErrTooManyRedirects", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("redirect limit took %v", d)
	}
	if n := srv.Count("SET"); n != 1+client.MaxRedirects {
		t.Errorf("SET sent %d times, want %d", n, 1+client.MaxRedirects)
	}
	t.Logf("%v", err)
}

func TestTransientErrorsAreRetried(t *testing.T) {
	for _, reply := range []string{
		fault.ReplyLOADING,
		fault.ErrorReply("BUSY Redis is busy running a script"),
		fault.ErrorReply("TRYAGAIN Multiple keys request during rehashing of slot"),
		fault.ErrorReply("CLUSTERDOWN The cluster is down"),
		fault.ErrorReply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
		fault.ErrorReply("ERR max number of clients reached"),
	} {
		t.Run(strings.Fields(reply)[0][1:], func(t *testing.T) {
			srv := fault.Start(t, fault.Config{})
			s := openStore(t, Options{Addr: srv.Addr()})
			srv.Handle(fault.Rule{Command: "SET", Reply: reply, Times: 2})
			srv.Handle(fault.Rule{Command: "GET", Reply: reply, Times: 2})
			if err := s.Save(testSession("t1")); err != nil {
				t.Fatalf("Save = %v", err)
			}
			if got, err := s.Load("t1"); err != nil || got.ID != "t1" {
				t.Fatalf("Load = %v, %v", got, err)
			}
			if n := srv.Count("SET"); n != 3 {
				t.Errorf("SET sent %d times, want 3", n)
			}
		})
	}
}

func TestTransientErrorsEndAtTheDeadline(t *testing.T) {
	srv := fault.Start(t, fault.Config{})
	s := openStore(t, Options{Addr: srv.Addr()})
	srv.Handle(fault.Rule{Command: "GET", Reply: fault.ReplyLOADING})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.LoadContext(ctx, "t1")
	var se resp.Error
	if !errors.As(err, &se) || se.Kind != "LOADING" || errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("Load = %v, want the LOADING error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
	if n := srv.Count("GET"); n < 2 {
		t.Errorf("GET sent %d times, want retries", n)
	}
}

func TestFatalErrorsAreNotRetried(t *testing.T) {
	for _, reply := range []string{
		fault.ReplyOOM,
		fault.ErrorReply("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk"),
		fault.ReplyNOAUTH,
		fault.ReplyWRONGPASS,
		fault.ErrorReply("NOPERM User alice has no permissions to run the 'set' command"),
	} {
		kind := strings.Fields(reply)[0][1:]
		t.Run(kind, func(t *testing.T) {
			srv := fault.Start(t, fault.Config{})
			s := openStore(t, Options{Addr: srv.Addr()})
			srv.Handle(fault.Rule{Command: "SET", Reply: reply})
			srv.Handle(fault.Rule{Command: "GET", Reply: reply})
			err := s.Save(testSession("t1"))
			var se resp.Error
			if !errors.As(err, &se) || se.Kind != kind {
				t.Fatalf("Save = %v, want %s", err, kind)
			}
			if _, err := s.Load("t1"); !errors.As(err, &se) || errors.Is(err, ErrSessionNotFound) {
				t.Fatalf("Load = %v, want %s", err, kind)
			}
			if n := srv.Count("SET"); n != 1 {
				t.Errorf("SET sent %d times, want 1", n)
			}
		})
	}
}

func TestSentinelAndClusterOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string // part of the error; "" for none
	}{
		{"sentinel", Options{SentinelAddrs: []string{"h:1"}, MasterName: "m"}, ""},
		{"cluster", Options{ClusterAddrs: []string{"h:1", "h:2"}}, ""},
		{"sentinel without name", Options{SentinelAddrs: []string{"h:1"}}, "MasterName"},
		{"name without sentinels", Options{MasterName: "m"}, "without SentinelAddrs"},
		{"sentinel user without password", Options{SentinelAddrs: []string{"h:1"}, MasterName: "m", SentinelUsername: "u"}, "SentinelPassword"},
		{"cluster DB", Options{ClusterAddrs: []string{"h:1"}, DB: 1}, "DB 1"},
		{"addr and cluster", Options{Addr: "h:1", ClusterAddrs: []string{"h:1"}}, "at most one"},
		{"URL and sentinel", Options{URL: "redis://h", SentinelAddrs: []string{"h:1"}, MasterName: "m"}, "at most one"},
		{"bad address", Options{ClusterAddrs: []string{"nohost"}}, "host:port"},
		{"sentinel URL", Options{URL: "redis-sentinel://u:pw@h1:26379,h2:26380/2?master_name=m&sentinel_password=spw"}, ""},
		{"cluster URL", Options{URL: "rediss-cluster://:pw@h1:7000,h2:7001"}, ""},
		{"cluster URL with DB", Options{URL: "redis-cluster://h1:7000/3"}, "DB 3"},
		{"sentinel URL without name", Options{URL: "redis-sentinel://h1:26379"}, "MasterName"},
		{"cluster URL without port", Options{URL: "redis-cluster://h1:7000,h2"}, "invalid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newConfig(tc.opts)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("newConfig = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := newConfig(Options{URL: "redis-sentinel://u:pw@h1:26379,h2:26380/2?master_name=m&sentinel_username=su&sentinel_password=spw"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.SentinelAddrs, ",") != "h1:26379,h2:26380" || c.MasterName != "m" || c.DB != 2 ||
		c.Username != "u" || c.Password != "pw" || c.SentinelUsername != "su" || c.SentinelPassword != "spw" {
		t.Errorf("config = %+v", c.Options)
	}
	c, err = newConfig(Options{URL: "rediss-cluster://h1:7000,h2:7001"})
	if err != nil || strings.Join(c.ClusterAddrs, ",") != "h1:7000,h2:7001" || c.TLSConfig == nil {
		t.Errorf("cluster config = %+v, %v", c, err)
	}
	o := Options{SentinelAddrs: []string{"h:1"}, MasterName: "m", SentinelPassword: marker, URL: "redis-sentinel://h:1?sentinel_password=" + marker}
	if s := o.String() + redactURL(o.URL); strings.Contains(s, marker) {
		t.Errorf("String shows the sentinel password: %s", s)
	}
}

// An ASK redirection sends ASKING and the command to the named node once,
// and leaves the slot map alone: the next command goes to the owner again.
func TestAskIsFollowedOnceWithoutChangingTheMap(t *testing.T) {
	owner, importing := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	owner.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(t, owner.Addr())})
	importing.Handle(fault.Rule{Command: "ASKING", Reply: "+OK\r\n"})
	putSession(importing, "asked")
	putSession(owner, "asked")
	slot := client.KeySlot(DefaultPrefix, "asked")
	owner.Handle(fault.Rule{Command: "GET", Times: 1, Reply: fault.ErrorReply("ASK " + strconv.Itoa(slot) + " " + importing.Addr())})
	s := openStore(t, Options{ClusterAddrs: []string{owner.Addr()}})

	if _, err := s.Load("asked"); err != nil {
		t.Fatalf("Load through ASK: %v", err)
	}
	if a, g := importing.Count("ASKING"), importing.Count("GET"); a != 1 || g != 1 {
		t.Errorf("importing node saw ASKING %d, GET %d times; want 1 and 1", a, g)
	}
	if _, err := s.Load("asked"); err != nil {
		t.Fatal(err)
	}
	if g := owner.Count("GET"); g != 2 {
		t.Errorf("owner saw %d GETs, want 2: ASK must not move the slot", g)
	}
	if a := importing.Count("ASKING"); a != 1 {
		t.Errorf("ASKING sent %d times, want once", a)
	}
}

// A MOVED redirection points the slot at the named node at once: the
// command is retried there and the next one goes there directly.
func TestMovedRepointsTheSlot(t *testing.T) {
	old, moved := fault.Start(t, fault.Config{}), fault.Start(t, fault.Config{})
	old.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(t, old.Addr())})
	moved.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(t, moved.Addr())})
	putSession(moved, "moving")
	s := openStore(t, Options{ClusterAddrs: []string{old.Addr()}})
	// The slot moves: the old owner redirects, and every node's map says so.
	old.ClearRules()
	old.Handle(fault.Rule{Command: "CLUSTER", Reply: slotsReply(t, moved.Addr())})
	old.Handle(fault.Rule{Command: "GET", Reply: fault.Moved(client.KeySlot(DefaultPrefix, "moving"), moved.Addr())})

	for i := range 3 {
		if _, err := s.Load("moving"); err != nil {
			t.Fatalf("Load %d: %v", i, err)
		}
	}
	if g := old.Count("GET"); g != 1 {
		t.Errorf("old owner saw %d GETs, want 1 (the one it redirected)", g)
	}
	if g := moved.Count("GET"); g != 3 {
		t.Errorf("new owner saw %d GETs, want 3", g)
	}
}
