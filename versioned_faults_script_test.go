package redisstore

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/session"
)

// What the CAS script's EVALSHA may be answered with by a broken server or
// proxy: the store returns a clear error (or a clear answer), and the
// connection stays in sync: the next command on it gets its own reply.
func TestAttackFaultsScriptRepliesKeepConnectionInSync(t *testing.T) {
	value := []byte(`{"ID":"AttackAttackAttackAtt0","Data":{"n":1}}`)
	big := strings.Repeat("x", 8<<20)
	cases := []struct {
		name  string
		reply string
		// want: "error" (an error), "ended" (no error, not written, nothing
		// stored), "written", "conflict" (no error, not written, a value).
		want string
	}{
		{"integer", ":1\r\n", "error"},
		{"negative-integer", ":-1\r\n", "error"},
		{"array", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "error"},
		{"nested-array", fault.Nested(3), "error"},
		{"empty-array", "*0\r\n", "error"},
		{"simple-ok", "+OK\r\n", "error"},
		{"resp3-true", "#t\r\n", "error"},
		{"resp3-false", "#f\r\n", "error"},
		{"resp3-double", ",1.5\r\n", "error"},
		{"resp3-map", "%1\r\n+a\r\n+b\r\n", "error"},
		{"bulk-not-tilde", "$5\r\nhello\r\n", "error"},
		{"big-bulk-not-tilde", "$" + itoa(len(big)) + "\r\n" + big + "\r\n", "error"},
		{"big-bulk-tilde", "$" + itoa(len(big)+1) + "\r\n~" + big + "\r\n", "conflict"},
		{"error-err", "-ERR something went wrong\r\n", "error"},
		{"error-oom", fault.ReplyOOM, "error"},
		{"bulk-error", "!5\r\nERR x\r\n", "error"},
		{"resp2-null", "$-1\r\n", "ended"},
		{"resp3-null", "_\r\n", "ended"},
		{"empty-bulk", "$0\r\n\r\n", "written"},
		{"tilde-only", "$1\r\n~\r\n", "conflict"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, s := faultStore(t, Options{PoolSize: 1, ReadTimeout: 2 * time.Second})
			putSession(srv, "other")
			srv.Handle(fault.Rule{Command: "EVALSHA", Reply: c.reply, Times: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			st, ok, err := attackSave(s, ctx, attackID, value, value, time.Minute)
			got := ""
			switch {
			case err != nil:
				got = "error"
			case ok:
				got = "written"
			case st.Value == nil && st.Marker == nil:
				got = "ended"
			default:
				got = "conflict"
			}
			if got != c.want {
				t.Errorf("SaveVersion answered by %q: %s (%+v, %v, %v), want %s", shorten(c.reply), got, st.Marker, ok, err, c.want)
			}
			if attackPlainWrites(s) {
				t.Errorf("a hostile reply %q switched the store to plain writes", shorten(c.reply))
			}
			// The connection is in sync: the next commands get their own
			// replies.
			for range 3 {
				sess, err := s.LoadContext(ctx, "other")
				if err != nil || sess.ID != "other" || sess.Data["owner"] != "other" {
					t.Fatalf("Load after the hostile reply: %+v, %v", sess, err)
				}
			}
			if lv, err := s.LoadVersion(ctx, "other"); err != nil || lv.Value == nil {
				t.Fatalf("LoadVersion after the hostile reply: %+v, %v", lv, err)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func shorten(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// A hostile length or garbage breaks the stream: the store reports it and
// the next call runs on a new connection.
func TestAttackFaultsScriptBrokenReplies(t *testing.T) {
	value := []byte(`{"ID":"AttackAttackAttackAtt0","Data":{"n":1}}`)
	for _, reply := range []string{fault.HugeBulk, fault.HugeArray, fault.Garbage, "$10\r\nabc", fault.Nested(10000)} {
		t.Run(shorten(reply), func(t *testing.T) {
			srv, s := faultStore(t, Options{PoolSize: 1, ReadTimeout: time.Second})
			putSession(srv, "other")
			srv.Handle(fault.Rule{Command: "EVALSHA", Reply: reply, Times: 1, CloseAfter: reply == "$10\r\nabc"})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, ok, err := attackSave(s, ctx, attackID, value, value, time.Minute); err == nil || ok {
				t.Errorf("SaveVersion answered by %q: ok=%v err=%v", shorten(reply), ok, err)
			}
			if sess, err := s.LoadContext(ctx, "other"); err != nil || sess.ID != "other" {
				t.Fatalf("Load after the broken reply: %+v, %v", sess, err)
			}
			if attackPlainWrites(s) {
				t.Errorf("a broken reply switched the store to plain writes")
			}
		})
	}
}

// NOSCRIPT after SCRIPT FLUSH, after a restart of redis-server between
// saves, and on a Cluster node that lacks the script: the save goes through
// with EVAL, conditionally.
func TestAttackFaultsNoScriptAfterFlushAndRestart(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{AppendOnly: true})
	s := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	v1 := []byte(`{"ID":"AttackAttackAttackAtt0","Data":{"n":1}}`)
	v2 := []byte(`{"ID":"AttackAttackAttackAtt0","Data":{"n":2}}`)
	v3 := []byte(`{"ID":"AttackAttackAttackAtt0","Data":{"n":3}}`)
	if _, ok, err := attackSave(s, ctx, attackID, v1, nil, time.Minute); !ok || err != nil {
		t.Fatalf("create: %v %v", ok, err)
	}
	srv.Do(t, "SCRIPT", "FLUSH")
	if _, ok, err := attackSave(s, ctx, attackID, v2, v1, time.Minute); !ok || err != nil {
		t.Fatalf("save after SCRIPT FLUSH: %v %v", ok, err)
	}
	srv.Do(t, "SCRIPT", "FLUSH")
	// A stale version after the flush is still refused: EVAL ran the
	// script, not a plain write.
	if st, ok, err := attackSave(s, ctx, attackID, v3, v1, time.Minute); ok || err != nil || string(st.Value) != string(v2) {
		t.Fatalf("stale save after SCRIPT FLUSH: %v %v %s", ok, err, st.Value)
	}
	srv.Restart(t)
	// The first conditional save after the restart (a dead pooled
	// connection, then NOSCRIPT) must not fail.
	if _, ok, err := attackSave(s, ctx, attackID, v3, v2, time.Minute); !ok || err != nil {
		t.Fatalf("save after a restart: %v %v", ok, err)
	}
	if _, ok, err := s.Retire(ctx, attackID, v3, session.Marker{At: time.Now()}, time.Minute); !ok || err != nil {
		t.Fatalf("retire: %v %v", ok, err)
	}
	if attackPlainWrites(s) {
		t.Error("the store switched to plain writes")
	}
}

// A restart between the load and the save of a request, through the
// middleware: the save after the restart is not a 503.
func TestAttackFaultsRestartBetweenLoadAndSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{AppendOnly: true})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	a.gate = func(r *http.Request) { srv.Restart(t) }
	out := attackRequest(t, a, id, "/set?x=1")
	a.gate = nil
	if out.code != http.StatusOK {
		t.Fatalf("save after a restart: %d %q", out.code, out.body)
	}
	if d := a.data(id); d["x"] != "1" || d["user"] != "alice" {
		t.Errorf("stored %v", d)
	}
}

func TestAttackFaultsNoScriptOnClusterNode(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	s := openStore(t, Options{ClusterAddrs: c.Addrs()[:1]})
	ctx := context.Background()
	ids := []string{"AttackAttackAttackAtt0", "AttackAttackAttackAtt1", "AttackAttackAttackAtt2", "AttackAttackAttackAtt3",
		"AttackAttackAttackAtt4", "AttackAttackAttackAtt5", "AttackAttackAttackAtt6", "AttackAttackAttackAtt7"}
	for _, id := range ids {
		v := []byte(`{"ID":"` + id + `"}`)
		if _, ok, err := attackSave(s, ctx, id, v, nil, time.Minute); !ok || err != nil {
			t.Fatalf("create %s: %v %v", id, ok, err)
		}
	}
	for _, n := range c.Nodes {
		n.Do(t, "SCRIPT", "FLUSH")
	}
	for _, id := range ids {
		v := []byte(`{"ID":"` + id + `"}`)
		w := []byte(`{"ID":"` + id + `","Data":{"n":1}}`)
		if _, ok, err := attackSave(s, ctx, id, w, v, time.Minute); !ok || err != nil {
			t.Fatalf("save %s after SCRIPT FLUSH on every node: %v %v", id, ok, err)
		}
		if st, ok, err := attackSave(s, ctx, id, v, v, time.Minute); ok || err != nil || string(st.Value) != string(w) {
			t.Fatalf("stale save %s: %v %v %s", id, ok, err, st.Value)
		}
	}
	if attackPlainWrites(s) {
		t.Error("the store switched to plain writes")
	}
}
