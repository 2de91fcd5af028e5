package redisstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/session"
)

// BenchmarkMiddlewareMix serves requests through the manager's middleware
// on a real redis-server: 64 logged-in sessions, nine requests in ten only
// read the session and one in ten changes it (a counter). It reports the
// client's and the server's CPU per request (cpu-ns/op, srv-cpu-ns/op),
// which is what conditional saves cost a deployment. It uses only the API
// that existed before them, so the same file measures an older commit:
//
//	git worktree add /tmp/old <commit> && cp bench_middleware_test.go /tmp/old/
//	(cd /tmp/old && go test -c -o /tmp/old.test .) && go test -c -o /tmp/new.test .
//	# then run both, pinned and interleaved, against one server:
//	REDIS_ADDR=... REDIS_PID=... taskset -c 1 /tmp/new.test -test.run '^$' -test.bench MiddlewareMix -test.cpu 1
func BenchmarkMiddlewareMix(b *testing.B) {
	addr, pid := benchServer(b)
	st, err := redisstore.NewRedisStore(redisstore.Options{Addr: addr, Prefix: "benchmix:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	serveMix(b, st, pid)
}

// serveMix runs the sub-benchmarks of BenchmarkMiddlewareMix on st, whose
// server is process pid, reporting what each request costs.
func serveMix(b *testing.B, st *redisstore.RedisStore, pid int) {
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"), session.WithStore(st)))
	if err != nil {
		b.Fatal(err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		if r.URL.Path == "/write" {
			n, _ := sess.Data["n"].(float64)
			sess.Data["n"] = n + 1
		}
		fmt.Fprint(w, sess.Data["name"])
	}))

	// 64 sessions, made through the middleware as a login would.
	const spread = 64
	ids := make([]string, spread)
	for i := range ids {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/login", nil)
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			for k, v := range benchkit.Session("").Data {
				sess.Data[k] = v
			}
		})).ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			ids[i] = c.Value
		}
		if ids[i] == "" {
			b.Fatal("login set no cookie")
		}
	}
	requests := make([]*http.Request, 10*spread)
	for i := range requests {
		path := "/read"
		if i%10 == 0 {
			path = "/write"
		}
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: "sessionx", Value: ids[(i/10+i)%spread]})
		requests[i] = r
	}
	serve := func(r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}

	b.Run("Sequential", func(b *testing.B) {
		meter, cmds := benchkit.Start(b, pid), st.Stats().Commands
		i := 0
		for b.Loop() {
			serve(requests[i%len(requests)])
			i++
		}
		meter.Report(b)
		reportCommands(b, st, cmds)
	})
	b.Run("Parallel", func(b *testing.B) {
		benchkit.SetParallelism(b)
		var next atomic.Int64
		meter, cmds := benchkit.Start(b, pid), st.Stats().Commands
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7
			for pb.Next() {
				serve(requests[i%len(requests)])
				i++
			}
		})
		meter.Report(b)
		reportCommands(b, st, cmds)
	})
}

// reportCommands adds cmds/op, the Redis commands st sent per operation
// since it had sent cmds.
func reportCommands(b *testing.B, st *redisstore.RedisStore, cmds uint64) {
	b.ReportMetric(float64(st.Stats().Commands-cmds)/float64(b.N), "cmds/op")
}
