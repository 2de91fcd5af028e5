package redisstore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// Scenario 6: hostile replies are protocol errors, close the connection,
// and cost little memory whatever length they declare.
func TestReliabilityHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule fault.Rule
	}{
		{"$2147483647 then close", fault.Rule{Reply: fault.HugeBulk, CloseAfter: true}},
		{"$536870911 then close", fault.Rule{Reply: "$536870911\r\nabc", CloseAfter: true}},
		{"*4294967295", fault.Rule{Reply: fault.HugeArray}},
		{"10,000-deep nesting", fault.Rule{Reply: fault.Nested(10000)}},
		{"garbage", fault.Rule{Reply: fault.Garbage}},
		{"truncated bulk", fault.Rule{Reply: "$100\r\n" + strings.Repeat("x", 50), CloseAfter: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, s := faultStore(t, Options{PoolSize: 1})
			putSession(srv, "victim")
			tc.rule.Command, tc.rule.Key, tc.rule.Times = "GET", DefaultPrefix+"victim", 1
			srv.Handle(tc.rule)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := s.Load("victim")
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			var pe *resp.ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("Load = %v, want a *resp.ProtocolError", err)
			}
			closed := waitFor(5*time.Second, func() bool { return srv.Stats().Open == 0 && s.Stats().Pool.Open == 0 })
			t.Logf("figure: %s: %v; connection closed: %v; %d KiB allocated during the call", tc.name, err, closed, allocated>>10)
			if !closed {
				t.Errorf("connection still open: server %d, store %d", srv.Stats().Open, s.Stats().Pool.Open)
			}
			if allocated > 4<<20 {
				t.Errorf("the call allocated %d bytes", allocated)
			}
			if got, err := s.Load("victim"); err != nil || got.ID != "victim" {
				t.Errorf("Load after the hostile reply = %v, %v", got, err)
			}
		})
	}
}

// Scenario 10: the password appears nowhere: not in errors (wrong password,
// bad URL, dial failure, a server that quotes the arguments it rejects), not
// in %+v of Options, not in the log.
func TestReliabilitySecretsNeverShown(t *testing.T) {
	const secret = "Pw-UNIQUE-9c1e5d"
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := fault.Start(t, fault.Config{Password: "the-right-one"})
	down := fault.Start(t, fault.Config{})
	downAddr := down.Addr()
	down.Close()

	var outputs []string
	add := func(v any) {
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
	}
	for _, opts := range []Options{
		{Addr: srv.Addr(), Password: secret},
		{Addr: srv.Addr(), Password: secret, Protocol: 2},
		{Addr: srv.Addr(), Username: "bob", Password: secret},
		{URL: "redis://:" + secret + "@" + srv.Addr()},
		{URL: "redis://bob:" + secret + "@" + srv.Addr() + "/x"},
		{URL: "redis://bob:" + secret + "@" + srv.Addr() + "?nope=1"},
		{URL: "redis://bob:" + secret + "@[::1"},
		{Addr: downAddr, Password: secret, DialTimeout: time.Second},
		{URL: "redis://:" + secret + "@" + downAddr},
	} {
		opts.Logger = log
		add(opts)
		add(&opts)
		s, err := NewRedisStore(opts)
		if err == nil {
			s.Close()
			t.Errorf("%v: New succeeded", opts)
			continue
		}
		add(err)
		add(errors.Unwrap(err))
	}
	outputs = append(outputs, logged.String())
	leaks := 0
	for _, out := range outputs {
		if n := strings.Count(out, secret); n > 0 {
			leaks += n
			t.Errorf("password shown in: %s", out)
		}
	}
	t.Logf("figure: the password appears %d times in %d outputs (%d bytes of errors, %%+v and log)", leaks, len(outputs), len(strings.Join(outputs, "")))
}

// Scenario 12: session IDs are 128 random bits, never repeated; cookies
// that are not well-formed IDs cause no Redis command at all.
func TestReliabilitySessionIDsAndMalformedCookies(t *testing.T) {
	n := 1000000
	if raceEnabled {
		n = 200000 // the race detector makes each ID ~10x slower
	}
	srv, s := faultStore(t, Options{})
	m, err := session.NewManager(session.DefaultConfig(bytes.Repeat([]byte("k"), 32), session.WithStore(s)))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[[16]byte]struct{}, n)
	var ones [128]int
	dups := 0
	for range n {
		id := m.New().ID
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 {
			t.Fatalf("ID %q is not 16 bytes of base64url: %v", id, err)
		}
		k := [16]byte(b)
		if _, ok := seen[k]; ok {
			dups++
		}
		seen[k] = struct{}{}
		for i := range 128 {
			ones[i] += int(k[i/8] >> (i % 8) & 1)
		}
	}
	// Each bit is set in half the IDs: within 6 standard deviations.
	sd := 0.5 * float64(n) / float64(intSqrt(n))
	worst := 0.0
	for _, c := range ones {
		worst = max(worst, abs(float64(c)-float64(n)/2)/sd)
	}
	if worst > 6 {
		t.Errorf("a bit position deviates %.1f standard deviations from half", worst)
	}

	srv.ResetCounts()
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	malformed := []string{
		"x", "short", strings.Repeat("A", 21), strings.Repeat("A", 23), strings.Repeat("A", 4096),
		strings.Repeat("A", 21) + "!", strings.Repeat("A", 21) + "=", strings.Repeat("A", 21) + ".",
		"../../../../etc/passwd", "sessionx:*", "*", "AAAAAAAAAA AAAAAAAAAAA", "AAAAAAAAAAA\tAAAAAAAAAA",
		"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "%00%00%00%00%00%00%00%00", "AAAAAAAAAAAAAAAAAAAAA%0D%0A",
		"\r\nFLUSHALL\r\n", "*1\r\n$8\r\nFLUSHALL\r\n", "{\"ID\":\"x\"}",
	}
	for _, v := range malformed {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "sessionx="+v)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("cookie %q: status %d", v, rec.Code)
		}
	}
	commands := srv.Stats().Commands
	// A well-formed unknown ID is looked up: the count works.
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionx", Value: strings.Repeat("A", 22)})
	h.ServeHTTP(httptest.NewRecorder(), req)
	t.Logf("figure: %d IDs, %d duplicates, 16 bytes each, worst bit bias %.1f sd; %d Redis commands for %d malformed cookies (%d GET for a well-formed unknown one)",
		n, dups, worst, commands, len(malformed), srv.Count("GET"))
	if raceEnabled {
		t.Logf("note: %d IDs under -race (1,000,000 without)", n)
	}
	if dups != 0 {
		t.Errorf("%d duplicate IDs", dups)
	}
	if commands != 0 {
		t.Errorf("malformed cookies caused %d Redis commands: %v", commands, srv.Counts())
	}
	if srv.Count("GET") != 1 {
		t.Errorf("well-formed cookie: %d GETs, want 1", srv.Count("GET"))
	}
}

func intSqrt(n int) int {
	r := 1
	for r*r < n {
		r++
	}
	return r
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
