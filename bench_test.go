package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/redistest"
	"github.com/sessionx-redis/redisstore/session"
)

// The benchmarks below measure the store alone against a real redis-server;
// bench/ (a nested module) compares it with go-redis, rueidis and redigo.
// They run against REDIS_ADDR when it is set (REDIS_PID then names the
// server's process for srv-cpu-ns/op), and otherwise against one
// redis-server started for BenchmarkStore on a free port, persistence off.
//
// Every benchmark reports allocations, the client's CPU time per operation
// (getrusage of this process: user + system, reader goroutines and GC
// included) as cpu-ns/op, and the server's as srv-cpu-ns/op. On a noisy
// machine these and the allocation counts are steadier than ns/op.

// benchSession returns the realistic session of the benchmarks: six Data
// entries, about 300 bytes of JSON (the same as session's JSON benchmarks).
func benchSession(id string) *session.Session {
	t := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	return &session.Session{
		ID: id,
		Data: map[string]interface{}{
			"user_id":  "u-84b2c1",
			"name":     "Ada Lovelace",
			"role":     "admin",
			"score":    42.5,
			"verified": true,
			"prefs":    map[string]interface{}{"theme": "dark", "lang": "en-GB"},
		},
		CreatedAt: t,
		UpdatedAt: t.Add(90 * time.Second),
		RotatedAt: t,
	}
}

// benchID is the ID of the sequential benchmarks' session.
const benchID = "q1Jx7VbW3kR9mN2pL5sT8uY4zA6cE0gH"

// parallelGoroutines is the least number of goroutines the parallel
// benchmarks run, whatever GOMAXPROCS is.
const parallelGoroutines = 16

// setParallelism makes b.RunParallel start at least parallelGoroutines.
func setParallelism(b *testing.B) {
	procs := runtime.GOMAXPROCS(0) // as -cpu sets it
	b.SetParallelism((parallelGoroutines + procs - 1) / procs)
}

// benchServer returns the address and process id of the server to measure:
// REDIS_ADDR and REDIS_PID when set, otherwise a redis-server started for b
// (pid 0 means the server's CPU is not measured).
func benchServer(b *testing.B) (addr string, pid int) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		pid, _ := strconv.Atoi(os.Getenv("REDIS_PID"))
		return addr, pid
	}
	srv := redistest.Start(b, redistest.Config{})
	return srv.Addr, srv.Pid()
}

// BenchmarkStore measures Load, Save and Delete of the realistic session,
// one caller at a time and with 16 or more goroutines. One redis-server
// serves all of its sub-benchmarks.
func BenchmarkStore(b *testing.B) {
	addr, pid := benchServer(b)
	st, err := redisstore.NewRedisStore(redisstore.Options{Addr: addr, Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	sess := benchSession(benchID)
	if err := st.SaveContext(ctx, sess); err != nil {
		b.Fatal(err)
	}

	b.Run("Load", func(b *testing.B) {
		m := startMeter(b, pid)
		for b.Loop() {
			if _, err := st.LoadContext(ctx, benchID); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})
	b.Run("Save", func(b *testing.B) {
		m := startMeter(b, pid)
		for b.Loop() {
			if err := st.SaveContext(ctx, sess); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})
	b.Run("Delete", func(b *testing.B) {
		m := startMeter(b, pid)
		for b.Loop() {
			if err := st.DeleteContext(ctx, "deleted-"+benchID[:8]); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})

	// The parallel benchmarks spread over 64 sessions, each goroutine
	// starting at its own.
	const spread = 64
	sessions := make([]*session.Session, spread)
	for i := range sessions {
		sessions[i] = benchSession(fmt.Sprintf("%s-%02d", benchID, i))
		if err := st.SaveContext(ctx, sessions[i]); err != nil {
			b.Fatal(err)
		}
	}
	parallel := func(b *testing.B, op func(s *session.Session) error) {
		setParallelism(b)
		var next atomic.Int64
		m := startMeter(b, pid)
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			for pb.Next() {
				if err := op(sessions[i%spread]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		m.report(b)
	}
	b.Run("LoadParallel", func(b *testing.B) {
		parallel(b, func(s *session.Session) error {
			_, err := st.LoadContext(ctx, s.ID)
			return err
		})
	})
	b.Run("SaveParallel", func(b *testing.B) {
		parallel(b, func(s *session.Session) error { return st.SaveContext(ctx, s) })
	})
	b.Run("DeleteParallel", func(b *testing.B) {
		parallel(b, func(s *session.Session) error { return st.DeleteContext(ctx, "deleted-"+s.ID) })
	})
}

// BenchmarkStoreJSON measures encoding and decoding the realistic session
// alone, the share of Load and Save that is not I/O.
func BenchmarkStoreJSON(b *testing.B) {
	sess := benchSession(benchID)
	data, err := json.Marshal(sess)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encode", func(b *testing.B) {
		m := startMeter(b, 0)
		for b.Loop() {
			if _, err := json.Marshal(sess); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})
	b.Run("Decode", func(b *testing.B) {
		m := startMeter(b, 0)
		for b.Loop() {
			var s session.Session
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})
}

// TestBenchSessionSize keeps the benchmark's session realistic: six Data
// entries and about 300 bytes of JSON that round-trip.
func TestBenchSessionSize(t *testing.T) {
	sess := benchSession(benchID)
	data, err := json.Marshal(sess)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data); n < 250 || n > 350 || len(sess.Data) != 6 {
		t.Errorf("benchmark session: %d Data entries, %d bytes of JSON; want 6 and about 300", len(sess.Data), n)
	}
	var back session.Session
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(data) {
		t.Errorf("round trip changed the JSON (%v):\n%s\n%s", err, data, again)
	}
}

// TestProcCPU checks the /proc/<pid>/stat parser against this process.
func TestProcCPU(t *testing.T) {
	d, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d < 0 {
		t.Errorf("procCPU = %v, want >= 0", d)
	}
	if _, err := procCPU(-1); err == nil {
		t.Error("procCPU(-1): no error")
	}
}

// meter measures the CPU time of this process and of the server between
// startMeter and report.
type meter struct {
	pid       int // the server's process; 0: not measured
	self, srv time.Duration
}

// startMeter reports b's allocations and starts measuring CPU time.
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

// report adds cpu-ns/op and, when the server is measured, srv-cpu-ns/op to
// b's results. Call it after the benchmark loop.
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
		return 0, fmt.Errorf("redisstore: server CPU: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted after its closing parenthesis, from field 3.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("redisstore: server CPU: malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("redisstore: server CPU: short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("redisstore: server CPU: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
