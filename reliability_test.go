package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// The reliability scenarios (issue 7) each log one line starting with
// "figure:"; the README's Reliability table quotes them.

// faultStore starts a fault server and a store on it.
func faultStore(t *testing.T, opts Options) (*fault.Server, *RedisStore) {
	t.Helper()
	srv := fault.Start(t, fault.Config{})
	opts.Addr = srv.Addr()
	return srv, openStore(t, opts)
}

// putSession stores, on the fault server, a session whose Data carries its
// own ID, as Save would.
func putSession(srv *fault.Server, id string) {
	b, _ := json.Marshal(&session.Session{ID: id, Data: map[string]interface{}{"owner": id}})
	srv.Put(DefaultPrefix+id, string(b), 0)
}

// classifyErr names the kind of a store error, or returns "" for an error of
// no recognised type (which the scenarios count as a failure).
func classifyErr(err error) string {
	var se resp.Error
	var pe *resp.ProtocolError
	var ne net.Error
	var errno syscall.Errno
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, pool.ErrTimeout):
		return "pool timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &se):
		return "server " + se.Kind
	case errors.As(err, &pe):
		return "protocol"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &errno):
		return "errno " + errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.As(err, &ne):
		return "network"
	}
	return ""
}

// baseline is the goroutines and open files of the process at a moment.
type baseline struct{ goroutines, fds int }

func takeBaseline() baseline {
	return baseline{runtime.NumGoroutine(), openFDs()}
}

// openFDs counts the process's open file descriptors, or -1 without /proc.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// waitBaseline polls until goroutines and file descriptors are back to b,
// and returns what it last saw.
func waitBaseline(t *testing.T, b baseline, timeout time.Duration) baseline {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		now := takeBaseline()
		if now.goroutines <= b.goroutines && now.fds <= b.fds {
			return now
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Errorf("after Close: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				now.goroutines, b.goroutines, now.fds, b.fds, buf[:runtime.Stack(buf, true)])
			return now
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or timeout passes, and reports which.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
