package pool

import (
	"context"
	"runtime"
	"testing"
)

func BenchmarkGetPut(b *testing.B) {
	f := &fakeDialer{}
	p := newTestPool(b, f, Config[*fakeConn]{MaxOpen: 4})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := p.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.Put(r, true)
	}
}

func BenchmarkGetPutContended64Goroutines(b *testing.B) {
	for _, bc := range []struct {
		name    string
		maxOpen int
	}{
		{"MaxOpen=64", 64}, // lock contention only
		{"MaxOpen=8", 8},   // most Gets wait for a hand-off
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := &fakeDialer{}
			p := newTestPool(b, f, Config[*fakeConn]{MaxOpen: bc.maxOpen})
			ctx := context.Background()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((64 + procs - 1) / procs)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := p.Get(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					p.Put(r, true)
				}
			})
		})
	}
}
