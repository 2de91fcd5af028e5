package redisserver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelConfig describes a Sentinel group. The zero value is a group named
// "mymaster" without passwords, down-after 1 s and failover-timeout 3 s.
type SentinelConfig struct {
	// DownAfter is down-after-milliseconds; zero means 1 s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout; zero means 3 s.
	FailoverTimeout time.Duration
	// MasterName is the monitored name; "" means "mymaster".
	MasterName string
	// Password is requirepass and masterauth of master and replica, and the
	// sentinels' auth-pass.
	Password string
	// SentinelPassword, when set, is the sentinels' own requirepass (and
	// sentinel-pass, so they can talk to each other).
	SentinelPassword string
}

// SentinelGroup is a master, one replica and three sentinels (quorum 2),
// all on loopback ports and stopped in t.Cleanup.
type SentinelGroup struct {
	// MasterName is the name the sentinels monitor.
	MasterName string
	// Master and Replica are the data nodes. Failover and WaitMasterChange
	// swap them when the roles change; they are not safe to read while one
	// of those runs.
	Master, Replica *Server
	// Sentinels are the three sentinel processes.
	Sentinels []*Server
}

// StartSentinel starts a master, a replica following it, and three sentinels
// (redis-server <generated conf> --sentinel). It returns once every sentinel
// reports the master up, sees the replica and the two other sentinels.
func StartSentinel(t testing.TB, cfg SentinelConfig) *SentinelGroup {
	t.Helper()
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = time.Second
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 3 * time.Second
	}
	if cfg.MasterName == "" {
		cfg.MasterName = "mymaster"
	}
	g := &SentinelGroup{MasterName: cfg.MasterName}
	g.Master = Start(t, Config{Password: cfg.Password})
	g.Replica = newServer(t, Config{Password: cfg.Password}, kindPlain,
		[]string{"replicaof 127.0.0.1 " + strconv.Itoa(g.Master.Port)})
	g.Replica.start(t)
	waitFor(t, "replica in sync", 20*time.Second, func() error {
		return g.replicaLinked(g.Replica, g.Master)
	})
	// Sentinels learn the replica from the master's INFO right away once it
	// is connected; they find each other through hello messages (every 2 s).
	name := cfg.MasterName
	lines := []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", name, g.Master.Port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", name, cfg.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", name, cfg.FailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", name),
	}
	if cfg.Password != "" {
		lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", name, quote(cfg.Password)))
	}
	if cfg.SentinelPassword != "" {
		lines = append(lines, "sentinel sentinel-pass "+quote(cfg.SentinelPassword))
	}
	for i := 0; i < 3; i++ {
		s := newServer(t, Config{Password: cfg.SentinelPassword}, kindSentinel, lines)
		s.start(t)
		g.Sentinels = append(g.Sentinels, s)
	}
	waitFor(t, "sentinels agree", 30*time.Second, g.settled)
	return g
}

// SentinelAddrs returns the sentinels' addresses.
func (g *SentinelGroup) SentinelAddrs() []string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr
	}
	return addrs
}

// MasterAddr asks the sentinels in turn for the master's address
// (SENTINEL get-master-addr-by-name) and returns the first answer.
func (g *SentinelGroup) MasterAddr(t testing.TB) string {
	t.Helper()
	var last error
	for _, s := range g.Sentinels {
		addr, err := g.masterAddrFrom(s)
		if err == nil {
			return addr
		}
		last = err
	}
	t.Fatalf("redisserver: no sentinel knows master %q: %v", g.MasterName, last)
	return ""
}

// masterAddrFrom asks one sentinel for the master's address.
func (g *SentinelGroup) masterAddrFrom(s *Server) (string, error) {
	out, err := s.DoErr("SENTINEL", "get-master-addr-by-name", g.MasterName)
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return "", fmt.Errorf("redisserver: get-master-addr-by-name: %q", out)
	}
	return f[0] + ":" + f[1], nil
}

// Failover runs SENTINEL FAILOVER (retried while a sentinel answers INPROG
// or NOGOODSLAVE) and waits until the sentinels name a new master that
// reports role:master. Master and Replica are swapped accordingly.
func (g *SentinelGroup) Failover(t testing.TB) {
	t.Helper()
	old := g.MasterAddr(t)
	waitFor(t, "SENTINEL FAILOVER accepted", 30*time.Second, func() error {
		var last error
		for _, s := range g.Sentinels {
			if !s.Running() {
				continue
			}
			_, err := s.DoErr("SENTINEL", "FAILOVER", g.MasterName)
			if err == nil {
				return nil
			}
			last = err
		}
		return last
	})
	g.WaitMasterChange(t, old)
}

// WaitMasterChange waits (up to 30 s) until every running sentinel names a
// master other than old, and that master reports role:master; it swaps
// Master and Replica to match and returns the new address. Use it after
// killing the master.
func (g *SentinelGroup) WaitMasterChange(t testing.TB, old string) string {
	t.Helper()
	var addr string
	waitFor(t, "new master", 30*time.Second, func() error {
		addr = ""
		for _, s := range g.Sentinels {
			if !s.Running() {
				continue
			}
			a, err := g.masterAddrFrom(s)
			if err != nil {
				return err
			}
			if a == old {
				return fmt.Errorf("sentinel %s still names %s", s.Addr, old)
			}
			if addr != "" && a != addr {
				return fmt.Errorf("sentinels disagree: %s and %s", addr, a)
			}
			addr = a
		}
		n := g.node(addr)
		if n == nil {
			return fmt.Errorf("sentinels name %s, which is not in the group", addr)
		}
		out, err := n.DoErr("ROLE")
		if err != nil {
			return err
		}
		if role, _, _ := strings.Cut(out, "\n"); role != "master" {
			return fmt.Errorf("%s reports role %q", addr, role)
		}
		return nil
	})
	if g.Replica.Addr == addr {
		g.Master, g.Replica = g.Replica, g.Master
	}
	return addr
}

// WaitReplica waits (up to 30 s) until Replica follows Master with its link
// up and every running sentinel lists it as a replica, which is what a second
// Failover needs. The sentinels turn an old master into a replica only 10 to
// 20 s after a failover; to keep tests short, WaitReplica sends the stale
// master REPLICAOF the new master itself, as the sentinels would.
func (g *SentinelGroup) WaitReplica(t testing.TB) {
	t.Helper()
	if out, err := g.Replica.DoErr("ROLE"); err == nil && strings.HasPrefix(out, "master") {
		g.Replica.Do(t, "REPLICAOF", "127.0.0.1", strconv.Itoa(g.Master.Port))
	}
	waitFor(t, "replica following the master", 30*time.Second, func() error {
		if err := g.replicaLinked(g.Replica, g.Master); err != nil {
			return err
		}
		return g.settled()
	})
}

// node returns the data node with addr, or nil.
func (g *SentinelGroup) node(addr string) *Server {
	for _, s := range []*Server{g.Master, g.Replica} {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// replicaLinked reports whether r replicates m with the link up.
func (g *SentinelGroup) replicaLinked(r, m *Server) error {
	out, err := r.DoErr("INFO", "replication")
	if err != nil {
		return err
	}
	info := parseInfo(out)
	if info["role"] != "slave" || info["master_port"] != strconv.Itoa(m.Port) || info["master_link_status"] != "up" {
		return fmt.Errorf("%s: role=%s master_port=%s link=%s", r.Addr, info["role"], info["master_port"], info["master_link_status"])
	}
	return nil
}

// settled reports whether every running sentinel sees the current master up,
// the replica healthy and the other running sentinels.
func (g *SentinelGroup) settled() error {
	running := 0
	for _, s := range g.Sentinels {
		if s.Running() {
			running++
		}
	}
	for _, s := range g.Sentinels {
		if !s.Running() {
			continue
		}
		out, err := s.DoErr("SENTINEL", "MASTER", g.MasterName)
		if err != nil {
			return err
		}
		m := pairs(out)
		switch {
		case m["ip"]+":"+m["port"] != g.Master.Addr:
			return fmt.Errorf("sentinel %s: master is %s:%s, want %s", s.Addr, m["ip"], m["port"], g.Master.Addr)
		case m["flags"] != "master":
			return fmt.Errorf("sentinel %s: master flags %q", s.Addr, m["flags"])
		case m["num-other-sentinels"] != strconv.Itoa(running-1):
			return fmt.Errorf("sentinel %s: sees %s other sentinels", s.Addr, m["num-other-sentinels"])
		}
		out, err = s.DoErr("SENTINEL", "REPLICAS", g.MasterName)
		if err != nil {
			return err
		}
		r := pairs(out)
		if r["ip"]+":"+r["port"] != g.Replica.Addr || r["flags"] != "slave" {
			return fmt.Errorf("sentinel %s: replica %s:%s flags %q", s.Addr, r["ip"], r["port"], r["flags"])
		}
	}
	return nil
}

// pairs turns a flattened --raw key/value array into a map (later keys win).
func pairs(out string) map[string]string {
	lines := strings.Split(out, "\n")
	m := make(map[string]string, len(lines)/2)
	for i := 0; i+1 < len(lines); i += 2 {
		m[lines[i]] = lines[i+1]
	}
	return m
}
