// Command e2e compares whole session stacks behind net/http on one
// redis-server: this module's manager and store, the sessionx design on
// go-redis, scs with its redisstore, gorilla/sessions with
// boj/redistore, and a handler without sessions as the ceiling (see
// package e2e). Each stack runs in a process of its own, so that its CPU
// and allocations are counted apart from the load generator's; rounds
// interleave the stacks so that drift hits each alike. It prints a
// markdown table per run: requests per second, latency, Redis commands
// and CPU per request, the application's CPU and allocations per request,
// Set-Cookie per answer and new Redis connections per request.
//
//	go run ./cmd/e2e [-rounds 3] [-duration 5s] [-delay 100us] [-stacks regexp]
//
// -delay puts a TCP proxy (redistest.Proxy) between the stacks and Redis
// that adds that delay in each direction, as a data-center network does.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionx-redis/redisstore/bench/e2e"
	"github.com/sessionx-redis/redisstore/redistest"
)

func main() {
	var (
		rounds   = flag.Int("rounds", 3, "interleaved rounds")
		duration = flag.Duration("duration", 5*time.Second, "load per stack and round")
		users    = flag.Int("users", 200, "sessions, each with its own cookie jar")
		clients  = flag.Int("clients", 32, "concurrent requests")
		reads    = flag.Float64("reads", 0.9, "share of read-only requests")
		logins   = flag.Float64("logins", 0, "share of logins (a new ID for a logged-in session); the rest increment a counter")
		delay    = flag.Duration("delay", 0, "one-way delay added between the stacks and Redis (0: none)")
		only     = flag.String("stacks", "", "regexp of the stacks to run (empty: all)")
		serve    = flag.String("serve", "", "internal: serve this stack")
		addr     = flag.String("redis", "", "internal: the Redis the served stack uses")
	)
	flag.Parse()
	if *serve != "" {
		log.Fatal(serveStack(*serve, *addr))
	}
	filter, err := regexp.Compile(*only)
	if err != nil {
		log.Fatal(err)
	}
	l := e2e.Load{Users: *users, Clients: *clients, Reads: *reads, Logins: *logins, Duration: *duration}
	if err := compare(os.Stdout, l, *rounds, *delay, filter); err != nil {
		log.Fatal(err)
	}
}

// compare runs every stack matching filter for rounds interleaved rounds
// and writes the table to w.
func compare(w io.Writer, l e2e.Load, rounds int, delay time.Duration, filter *regexp.Regexp) error {
	redisAddr, stop, err := startRedis()
	if err != nil {
		return err
	}
	defer stop()
	stackAddr := redisAddr
	if delay > 0 {
		p, err := redistest.NewProxy(redisAddr)
		if err != nil {
			return err
		}
		defer p.Close()
		p.SetDelay(delay)
		stackAddr = p.Addr()
	}
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()

	var stacks []e2e.Stack
	for _, st := range e2e.Stacks() {
		if filter.MatchString(st.Name) {
			stacks = append(stacks, st)
		}
	}
	totals := make([]e2e.Total, len(stacks))
	for r := range rounds {
		for i, st := range stacks {
			fmt.Fprintf(os.Stderr, "== round %d of %d: %s\n", r+1, rounds, st.Name)
			m, err := measure(st, stackAddr, rc, l)
			if err != nil {
				return fmt.Errorf("%s: %w", st.Name, err)
			}
			totals[i].Add(m)
		}
	}
	fmt.Fprintf(w, "Load: %d sessions, %d concurrent clients, %.0f%% reads, %.0f%% logins, %v per stack and round, %d rounds; Redis delay %v each way; GOMAXPROCS %d, %s\n\n",
		l.Users, l.Clients, 100*l.Reads, 100*l.Logins, l.Duration, rounds, delay, runtime.GOMAXPROCS(0), time.Now().Format("2006-01-02"))
	fmt.Fprint(w, e2e.Table(stacks, totals))
	return nil
}

// measure runs the load once on st in a process of its own.
func measure(st e2e.Stack, redisAddr string, rc *redis.Client, l e2e.Load) (e2e.Measure, error) {
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-serve", st.Name, "-redis", redisAddr)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no stack outlives the harness
	out, err := cmd.StdoutPipe()
	if err != nil {
		return e2e.Measure{}, err
	}
	if err := cmd.Start(); err != nil {
		return e2e.Measure{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return e2e.Measure{}, fmt.Errorf("the stack's process said nothing: %w", err)
	}
	var appAddr, statsAddr string
	if _, err := fmt.Sscan(line, &appAddr, &statsAddr); err != nil {
		return e2e.Measure{}, fmt.Errorf("the stack's process said %q", line)
	}
	var m e2e.Measure
	var app0 e2e.AppStats
	var redis0 e2e.RedisStats
	ready := func() (err error) { // after the logins: they are not measured
		if app0, err = e2e.ReadAppStats(ctx, statsAddr); err != nil {
			return err
		}
		redis0, err = e2e.ReadRedisStats(ctx, rc)
		return err
	}
	m.Result, err = e2e.Run(ctx, "http://"+appAddr, l, !st.Stateless, ready)
	if err != nil {
		return m, err
	}
	redis1, err := e2e.ReadRedisStats(ctx, rc)
	if err != nil {
		return m, err
	}
	app1, err := e2e.ReadAppStats(ctx, statsAddr)
	if err != nil {
		return m, err
	}
	m.Redis, m.App = redis1.Sub(redis0), app1.Sub(app0)
	return m, nil
}

// serveStack serves the stack named name on a free loopback port and its
// process's counters on another, and prints both addresses.
func serveStack(name, redisAddr string) error {
	for _, st := range e2e.Stacks() {
		if st.Name != name {
			continue
		}
		h, release, err := st.Open(redisAddr)
		if err != nil {
			return err
		}
		defer release()
		app, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		stats, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go http.Serve(stats, e2e.AppStatsHandler())
		fmt.Println(app.Addr(), stats.Addr())
		return http.Serve(app, h)
	}
	return fmt.Errorf("no stack named %q", name)
}

// startRedis starts a redis-server on a free loopback port, persistence
// off, and returns its address and what stops it.
func startRedis() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("redis-server: %w", err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return addr, stop, nil
		}
		if time.Since(start) > 10*time.Second || strings.Contains(err.Error(), "NOAUTH") {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s: %w", addr, err)
		}
	}
}
