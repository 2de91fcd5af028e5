package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/session"
)

// Benchmarks are named Benchmark<Op>/client=<name> so that benchstat puts
// the clients side by side (-col /client). Each reports allocations, the
// client's CPU per operation (cpu-ns/op, getrusage of this process) and,
// when the server's process is known, the server's (srv-cpu-ns/op, from
// /proc/<pid>/stat; 10 ms ticks, so only long runs give it meaning).

// spread is how many sessions the parallel benchmarks use; goroutine i
// starts at session i and walks on.
const spread = 64

func spreadID(i int) string { return fmt.Sprintf("%s-%02d", benchkit.ID, i%spread) }

// forEachClient runs bench for every client as sub-benchmark client=<name>,
// each with a store open on the server.
func forEachClient(b *testing.B, bench func(b *testing.B, s store)) {
	addr := needServer(b)
	for _, c := range clients {
		b.Run("client="+c.name, func(b *testing.B) {
			s, err := c.open(addr)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			bench(b, s)
		})
	}
}

// sequential measures op, one call at a time.
func sequential(b *testing.B, op func(ctx context.Context) error) {
	ctx := context.Background()
	m := benchkit.Start(b, server.pid)
	for b.Loop() {
		if err := op(ctx); err != nil {
			b.Fatal(err)
		}
	}
	m.Report(b)
}

// parallel measures op(i) from at least benchkit.ParallelGoroutines goroutines; i
// walks over the spread sessions from a start of each goroutine's own.
func parallel(b *testing.B, op func(ctx context.Context, i int) error) {
	ctx := context.Background()
	benchkit.SetParallelism(b)
	var next atomic.Int64
	m := benchkit.Start(b, server.pid)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1))
		for pb.Next() {
			if err := op(ctx, i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	m.Report(b)
}

// seed saves the sequential benchmarks' session, the spread sessions and the
// raw value.
func seed(b *testing.B, s store) {
	ctx := context.Background()
	if err := s.Save(ctx, benchkit.Session(benchkit.ID)); err != nil {
		b.Fatal(err)
	}
	for i := range spread {
		if err := s.Save(ctx, benchkit.Session(spreadID(i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Set(ctx, rawValue); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkLoad(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		seed(b, s)
		sequential(b, func(ctx context.Context) error {
			_, err := s.Load(ctx, benchkit.ID)
			return err
		})
	})
}

func BenchmarkSave(b *testing.B) {
	sess := benchkit.Session(benchkit.ID)
	forEachClient(b, func(b *testing.B, s store) {
		sequential(b, func(ctx context.Context) error { return s.Save(ctx, sess) })
	})
}

// BenchmarkDelete deletes a key that does not exist after the first call:
// the same command and reply size every time.
func BenchmarkDelete(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		id := "deleted-" + benchkit.ID[:8]
		sequential(b, func(ctx context.Context) error { return s.Delete(ctx, id) })
	})
}

func BenchmarkGet(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		seed(b, s)
		sequential(b, func(ctx context.Context) error {
			_, err := s.Get(ctx)
			return err
		})
	})
}

func BenchmarkSet(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		sequential(b, func(ctx context.Context) error { return s.Set(ctx, rawValue) })
	})
}

func BenchmarkLoadParallel(b *testing.B) {
	ids := make([]string, spread)
	for i := range ids {
		ids[i] = spreadID(i)
	}
	forEachClient(b, func(b *testing.B, s store) {
		seed(b, s)
		parallel(b, func(ctx context.Context, i int) error {
			_, err := s.Load(ctx, ids[i%spread])
			return err
		})
	})
}

func BenchmarkSaveParallel(b *testing.B) {
	sessions := make([]*session.Session, spread)
	for i := range sessions {
		sessions[i] = benchkit.Session(spreadID(i))
	}
	forEachClient(b, func(b *testing.B, s store) {
		parallel(b, func(ctx context.Context, i int) error { return s.Save(ctx, sessions[i%spread]) })
	})
}

func BenchmarkDeleteParallel(b *testing.B) {
	ids := make([]string, spread)
	for i := range ids {
		ids[i] = "deleted-" + spreadID(i)
	}
	forEachClient(b, func(b *testing.B, s store) {
		parallel(b, func(ctx context.Context, i int) error { return s.Delete(ctx, ids[i%spread]) })
	})
}

func BenchmarkGetParallel(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		seed(b, s)
		parallel(b, func(ctx context.Context, _ int) error {
			_, err := s.Get(ctx)
			return err
		})
	})
}

func BenchmarkSetParallel(b *testing.B) {
	forEachClient(b, func(b *testing.B, s store) {
		parallel(b, func(ctx context.Context, _ int) error { return s.Set(ctx, rawValue) })
	})
}

// plainSession is session.Session without its JSON methods: what
// encoding/json does by reflection, the count the targets refer to.
type plainSession struct {
	ID        string
	Data      map[string]interface{}
	CreatedAt time.Time
	UpdatedAt time.Time
	RotatedAt time.Time
}

// BenchmarkJSONEncode measures encoding the session alone: with its own
// MarshalJSON (what every store above uses) and by reflection.
func BenchmarkJSONEncode(b *testing.B) {
	sess := benchkit.Session(benchkit.ID)
	plain := (*plainSession)(sess)
	for _, c := range []struct {
		name string
		v    any
	}{{"session", sess}, {"reflect", plain}} {
		b.Run("codec="+c.name, func(b *testing.B) {
			m := benchkit.Start(b, 0)
			for b.Loop() {
				if _, err := json.Marshal(c.v); err != nil {
					b.Fatal(err)
				}
			}
			m.Report(b)
		})
	}
}

// BenchmarkJSONDecode measures decoding the session alone, as
// BenchmarkJSONEncode.
func BenchmarkJSONDecode(b *testing.B) {
	data, err := json.Marshal(benchkit.Session(benchkit.ID))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    func() any
	}{{"session", func() any { return new(session.Session) }}, {"reflect", func() any { return new(plainSession) }}} {
		b.Run("codec="+c.name, func(b *testing.B) {
			m := benchkit.Start(b, 0)
			for b.Loop() {
				if err := json.Unmarshal(data, c.v()); err != nil {
					b.Fatal(err)
				}
			}
			m.Report(b)
		})
	}
}
