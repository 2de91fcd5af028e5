package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// AppStats is what a stack's process has done: its CPU time (user and
// system, every goroutine) and its heap allocations.
type AppStats struct {
	CPU     time.Duration
	Mallocs uint64
}

// Sub is what the process did between before and s.
func (s AppStats) Sub(before AppStats) AppStats {
	return AppStats{CPU: s.CPU - before.CPU, Mallocs: s.Mallocs - before.Mallocs}
}

// AppStatsHandler answers the process's AppStats, for ReadAppStats.
func AppStatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Fprintf(w, "%d %d", cpu, ms.Mallocs)
	})
}

// ReadAppStats asks the AppStatsHandler at addr.
func ReadAppStats(ctx context.Context, addr string) (AppStats, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	if err != nil {
		return AppStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return AppStats{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return AppStats{}, err
	}
	var s AppStats
	var cpu int64
	if _, err := fmt.Sscan(string(body), &cpu, &s.Mallocs); err != nil {
		return AppStats{}, fmt.Errorf("e2e: app stats %q: %w", body, err)
	}
	s.CPU = time.Duration(cpu)
	return s, nil
}

// Measure is one run of a load on a stack.
type Measure struct {
	Result Result
	Redis  RedisStats
	App    AppStats
}

// Total sums a stack's measures over rounds.
type Total struct {
	Result
	Redis RedisStats
	App   AppStats
}

// Add adds m to t.
func (t *Total) Add(m Measure) {
	t.Requests += m.Result.Requests
	t.Failures += m.Result.Failures
	if t.First == "" {
		t.First = m.Result.First
	}
	t.Elapsed += m.Result.Elapsed
	t.Latencies = append(t.Latencies, m.Result.Latencies...)
	slices.Sort(t.Latencies)
	t.SetCookies += m.Result.SetCookies
	if t.Redis.Calls == nil {
		t.Redis.Calls = make(map[string]int64)
	}
	for name, n := range m.Redis.Calls {
		t.Redis.Calls[name] += n
	}
	t.Redis.CPU += m.Redis.CPU
	t.Redis.Connections += m.Redis.Connections
	t.App.CPU += m.App.CPU
	t.App.Mallocs += m.App.Mallocs
}

// Table is the markdown table of the stacks' totals; the ratio column is
// against the stack named "redisstore".
func Table(stacks []Stack, totals []Total) string {
	var ours float64
	for i, st := range stacks {
		if st.Name == "redisstore" {
			ours = totals[i].PerSecond()
		}
	}
	var b strings.Builder
	b.WriteString("| stack | req/s | vs redisstore | p50 | p99 | Redis cmds/req | by command | Redis CPU µs/req | app CPU µs/req | app allocs/req | Set-Cookie/resp | new conns/req | failures |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i, st := range stacks {
		t := totals[i]
		n := float64(t.Requests)
		var cmds int64
		var by []string
		for _, name := range slices.Sorted(maps.Keys(t.Redis.Calls)) {
			cmds += t.Redis.Calls[name]
			by = append(by, fmt.Sprintf("%s %.2f", strings.ToUpper(name), float64(t.Redis.Calls[name])/n))
		}
		ratio := "-"
		if ours > 0 {
			ratio = fmt.Sprintf("%.2f", t.PerSecond()/ours)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %.2f | %s | %.1f | %.1f | %.0f | %.2f | %.3f | %d |\n",
			st.Name, t.PerSecond(), ratio, round(t.Percentile(0.5)), round(t.Percentile(0.99)),
			float64(cmds)/n, strings.Join(by, ", "), micros(t.Redis.CPU)/n, micros(t.App.CPU)/n,
			float64(t.App.Mallocs)/n, float64(t.SetCookies)/n, float64(t.Redis.Connections)/n, t.Failures)
	}
	return b.String()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
