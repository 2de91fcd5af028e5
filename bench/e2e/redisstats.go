package e2e

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStats is what a Redis server has done: the commands it ran by
// name, its CPU time, and the connections it accepted.
type RedisStats struct {
	Calls       map[string]int64 // by lower-case command name
	CPU         time.Duration    // used_cpu_user + used_cpu_sys
	Connections int64            // total_connections_received
}

// ReadRedisStats reads s's counters (INFO commandstats, cpu and stats)
// through c; the INFO itself counts once.
func ReadRedisStats(ctx context.Context, c *redis.Client) (RedisStats, error) {
	info, err := c.Info(ctx, "commandstats", "cpu", "stats").Result()
	if err != nil {
		return RedisStats{}, err
	}
	st := RedisStats{Calls: make(map[string]int64)}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(key, "cmdstat_"):
			calls, _, _ := strings.Cut(strings.TrimPrefix(value, "calls="), ",")
			n, err := strconv.ParseInt(calls, 10, 64)
			if err != nil {
				return RedisStats{}, fmt.Errorf("e2e: INFO %s: %w", key, err)
			}
			st.Calls[strings.TrimPrefix(key, "cmdstat_")] = n
		case key == "used_cpu_user" || key == "used_cpu_sys":
			s, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return RedisStats{}, fmt.Errorf("e2e: INFO %s: %w", key, err)
			}
			st.CPU += time.Duration(s * float64(time.Second))
		case key == "total_connections_received":
			st.Connections, _ = strconv.ParseInt(value, 10, 64)
		}
	}
	return st, sc.Err()
}

// Sub is what the server did between before and s, less the INFO that
// read s.
func (s RedisStats) Sub(before RedisStats) RedisStats {
	d := RedisStats{Calls: make(map[string]int64), CPU: s.CPU - before.CPU, Connections: s.Connections - before.Connections}
	for name, n := range s.Calls {
		if n -= before.Calls[name]; name == "info" {
			n--
		}
		if n > 0 {
			d.Calls[name] = n
		}
	}
	return d
}
