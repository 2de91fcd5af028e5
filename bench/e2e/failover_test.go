package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// BenchmarkFailover is the comparison's failover row: each stack on a
// Sentinel group (a master, a replica, three sentinels; down-after 1 s)
// under the comparison's load, with the master killed (kill -9) 3 s into
// the load, which runs 12 s. It reports the failed requests, the longest
// time without a successful answer, the users whose session was gone and
// those whose session could not be read after the load, and the
// connections the promoted replica accepted; and prints them as a
// markdown row. Taking longer than -benchtime, it runs once:
//
//	go test -run '^$' -bench Failover ./e2e
func BenchmarkFailover(b *testing.B) {
	for _, st := range Stacks() {
		if st.OpenSentinel == nil {
			continue
		}
		b.Run(st.Name, func(b *testing.B) {
			g := redisserver.StartSentinel(b, redisserver.SentinelConfig{})
			h, release, err := st.OpenSentinel(g.SentinelAddrs(), g.MasterName, g.Master.Addr)
			if err != nil {
				b.Fatal(err)
			}
			defer release()
			ts := httptest.NewServer(h)
			defer ts.Close()
			replica := g.Replica
			before := connections(b, replica)

			l := Load{Users: 200, Clients: 32, Reads: 0.9, Duration: 12 * time.Second}
			done := make(chan struct{})
			var res Result
			var runErr error
			go func() {
				defer close(done)
				res, runErr = Run(context.Background(), ts.URL, l, true, nil)
			}()
			time.Sleep(3 * time.Second)
			g.Master.Kill(b)
			<-done
			if runErr != nil {
				b.Fatal(runErr)
			}
			conns := connections(b, replica) - before
			b.ReportMetric(float64(res.Failures), "errors")
			b.ReportMetric(res.LongestGap.Seconds(), "longest-gap-s")
			b.ReportMetric(float64(res.LostUsers), "users-lost")
			b.ReportMetric(float64(res.Unreached), "users-unreached")
			b.ReportMetric(float64(conns), "new-master-conns")
			fmt.Printf("| %s | %d | %d | %v | %d | %d | %d |\n", st.Name, res.Requests, res.Failures,
				res.LongestGap.Round(10*time.Millisecond), res.LostUsers, res.Unreached, conns)
		})
	}
}

// connections is the connections s has accepted.
func connections(b *testing.B, s *redisserver.Server) int {
	b.Helper()
	n, err := strconv.Atoi(s.Info(b, "stats")["total_connections_received"])
	if err != nil {
		b.Fatal(err)
	}
	return n
}
