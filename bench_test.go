package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
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

// benchServer returns the address and process id of the server to measure:
// REDIS_ADDR and REDIS_PID when set, otherwise a redis-server started for b
// (pid 0 means the server's CPU is not measured).
func benchServer(b *testing.B) (addr string, pid int) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		pid, _ := strconv.Atoi(os.Getenv("REDIS_PID"))
		return addr, pid
	}
	srv := redisserver.Start(b, redisserver.Config{})
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
	sess := benchkit.Session(benchkit.ID)
	if err := st.SaveContext(ctx, sess); err != nil {
		b.Fatal(err)
	}

	b.Run("Load", func(b *testing.B) {
		m := benchkit.Start(b, pid)
		for b.Loop() {
			if _, err := st.LoadContext(ctx, benchkit.ID); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})
	b.Run("Save", func(b *testing.B) {
		m := benchkit.Start(b, pid)
		for b.Loop() {
			if err := st.SaveContext(ctx, sess); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})
	// SaveVersion is the session manager's save: the session encoded, then
	// written on the condition that Redis still holds the version the
	// previous save wrote (the steady state of one session's requests).
	b.Run("SaveVersion", func(b *testing.B) {
		saveVersions(b, st, pid, benchkit.ID)
	})
	// LoadVersion is the session manager's load: GET and PTTL, then the
	// value decoded (by the manager), as Load decodes it.
	b.Run("LoadVersion", func(b *testing.B) {
		m := benchkit.Start(b, pid)
		for b.Loop() {
			if err := loadVersion(ctx, st, benchkit.ID); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})
	b.Run("Delete", func(b *testing.B) {
		m := benchkit.Start(b, pid)
		for b.Loop() {
			if err := st.DeleteContext(ctx, "deleted-"+benchkit.ID[:8]); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})

	// The parallel benchmarks spread over 64 sessions, each goroutine
	// starting at its own.
	const spread = 64
	sessions := make([]*session.Session, spread)
	for i := range sessions {
		sessions[i] = benchkit.Session(fmt.Sprintf("%s-%02d", benchkit.ID, i))
		if err := st.SaveContext(ctx, sessions[i]); err != nil {
			b.Fatal(err)
		}
	}
	parallel := func(b *testing.B, op func(s *session.Session) error) {
		benchkit.SetParallelism(b)
		var next atomic.Int64
		m := benchkit.Start(b, pid)
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
		m.Report(b)
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
	b.Run("SaveVersionParallel", func(b *testing.B) {
		benchkit.SetParallelism(b)
		var next atomic.Int64
		m := benchkit.Start(b, pid)
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine saves its own session: conflicts are not
			// what this measures.
			saveVersionLoop(b, st, fmt.Sprintf("%s-v%03d", benchkit.ID, next.Add(1)), pb.Next)
		})
		m.Report(b)
	})
	b.Run("LoadVersionParallel", func(b *testing.B) {
		parallel(b, func(s *session.Session) error { return loadVersion(ctx, st, s.ID) })
	})
	b.Run("DeleteParallel", func(b *testing.B) {
		parallel(b, func(s *session.Session) error { return st.DeleteContext(ctx, "deleted-"+s.ID) })
	})
}

// loadVersion loads id with LoadVersion and decodes it, as the session
// manager does.
func loadVersion(ctx context.Context, st *redisstore.RedisStore, id string) error {
	got, err := st.LoadVersion(ctx, id)
	if err != nil {
		return err
	}
	var sess session.Session
	return sess.UnmarshalJSON(got.Value)
}

// saveVersions runs saveVersionLoop as b's loop, measured.
func saveVersions(b *testing.B, st *redisstore.RedisStore, pid int, id string) {
	m := benchkit.Start(b, pid)
	saveVersionLoop(b, st, id, b.Loop)
	m.Report(b)
}

// saveVersionLoop saves session id while more says so, each save encoding
// the session with a new UpdatedAt and conditional on the value the
// previous one wrote, as the session manager does.
func saveVersionLoop(b *testing.B, st *redisstore.RedisStore, id string, more func() bool) {
	ctx := context.Background()
	sess := benchkit.Session(id)
	version, err := sess.MarshalJSON()
	if err == nil {
		err = st.SaveContext(ctx, sess)
	}
	if err != nil {
		b.Fatal(err)
	}
	for more() {
		sess.UpdatedAt = sess.UpdatedAt.Add(time.Millisecond)
		value, err := sess.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		got, ok, err := st.SaveVersion(ctx, id, value, version, 24*time.Hour, false)
		if err != nil || !ok {
			b.Fatalf("SaveVersion = %v, %v", ok, err)
		}
		version = got.Version
	}
}

// BenchmarkStoreJSON measures encoding and decoding the realistic session
// alone, the share of Load and Save that is not I/O.
func BenchmarkStoreJSON(b *testing.B) {
	sess := benchkit.Session(benchkit.ID)
	data, err := json.Marshal(sess)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encode", func(b *testing.B) {
		m := benchkit.Start(b, 0)
		for b.Loop() {
			if _, err := json.Marshal(sess); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})
	b.Run("Decode", func(b *testing.B) {
		m := benchkit.Start(b, 0)
		for b.Loop() {
			var s session.Session
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b)
	})
}
