// Package benchkit holds what the root benchmarks and the comparison module
// bench/ share: the realistic session they store, the parallelism they run
// at, and the CPU meters they report (this process's and redis-server's).
package benchkit

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/session"
)

// ID is the ID of the sequential benchmarks' session.
const ID = "q1Jx7VbW3kR9mN2pL5sT8uY4zA6cE0gH"

// ParallelGoroutines is the least number of goroutines the parallel
// benchmarks run, whatever GOMAXPROCS (-cpu) is.
const ParallelGoroutines = 16

// Session returns the realistic session of the benchmarks: six Data
// entries, about 300 bytes of JSON.
func Session(id string) *session.Session {
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

// SetParallelism makes b.RunParallel start at least ParallelGoroutines.
func SetParallelism(b *testing.B) {
	procs := runtime.GOMAXPROCS(0) // as -cpu sets it
	b.SetParallelism((ParallelGoroutines + procs - 1) / procs)
}

// Meter measures the CPU time of this process and of a server process
// between Start and Report.
type Meter struct {
	pid       int // the server's process; 0: not measured
	self, srv time.Duration
}

// Start reports b's allocations and starts measuring CPU time; pid is the
// server's process, or 0 when its CPU is not to be measured.
func Start(b *testing.B, pid int) *Meter {
	b.ReportAllocs()
	m := &Meter{pid: pid, self: selfCPU(b)}
	if pid != 0 {
		srv, err := ProcCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		m.srv = srv
	}
	return m
}

// Report adds cpu-ns/op (getrusage of this process, user + system) and,
// when the server is measured, srv-cpu-ns/op to b's results. Call it after
// the benchmark loop.
func (m *Meter) Report(b *testing.B) {
	if b.N == 0 {
		return
	}
	n := float64(b.N)
	b.ReportMetric(float64(selfCPU(b)-m.self)/n, "cpu-ns/op")
	if m.pid != 0 {
		srv, err := ProcCPU(m.pid)
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

// ProcCPU returns the user and system CPU time of process pid so far, from
// fields 14 and 15 of /proc/<pid>/stat (all of its threads).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("benchkit: server CPU: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted after its closing parenthesis, from field 3.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("benchkit: server CPU: malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("benchkit: server CPU: short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("benchkit: server CPU: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
