package redisserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SlotCount is the number of hash slots of a Redis Cluster.
const SlotCount = 16384

// ClusterConfig describes a Redis Cluster. The zero value is 3 masters
// without replicas.
type ClusterConfig struct {
	// Masters is the number of masters; zero means 3, fewer than 3 fails.
	Masters int
	// ReplicasPerMaster is the number of replicas of each master.
	ReplicasPerMaster int
	// Password is every node's requirepass and masterauth.
	Password string
	// Args are further redis-server arguments for every node.
	Args []string
}

// Cluster is a Redis Cluster on loopback ports (cluster-node-timeout
// 1000 ms), stopped in t.Cleanup.
type Cluster struct {
	// Nodes are all nodes, in creation order: the first Masters nodes were
	// the masters when the cluster was created.
	Nodes []*Server
}

// StartCluster starts Masters*(1+ReplicasPerMaster) nodes with
// --cluster-enabled yes, joins them with `redis-cli --cluster create ...
// --cluster-yes`, and returns once every node says cluster_state:ok, all
// 16384 slots are covered, the nodes agree on the slot map and every replica
// is in sync.
func StartCluster(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	if cfg.Masters == 0 {
		cfg.Masters = 3
	}
	if cfg.Masters < 3 || cfg.ReplicasPerMaster < 0 {
		t.Fatalf("redisserver: a cluster needs at least 3 masters and no negative replica count, got %d and %d", cfg.Masters, cfg.ReplicasPerMaster)
	}
	lines := []string{
		"cluster-enabled yes",
		`cluster-config-file "nodes.conf"`,
		"cluster-node-timeout 1000",
		// Let a replica take over however stale its data, so kill -9 tests
		// never wait for a manual failover.
		"cluster-replica-validity-factor 0",
	}
	c := &Cluster{}
	n := cfg.Masters * (1 + cfg.ReplicasPerMaster)
	for i := 0; i < n; i++ {
		s := newServer(t, Config{Password: cfg.Password, Args: cfg.Args}, kindCluster, lines)
		s.start(t)
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(cfg.ReplicasPerMaster), "--cluster-yes")
	if _, err := c.Nodes[0].DoErr(args...); err != nil {
		t.Fatalf("redisserver: redis-cli --cluster create: %v", err)
	}
	c.WaitOK(t)
	return c
}

// Addrs returns the addresses of all nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Node returns the node listening on addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// WaitOK waits (up to 30 s) until every running node reports
// cluster_state:ok with all slots assigned and ok, the running nodes agree
// on which master serves which slots, and every running replica's link to
// its master is up. Call it after a failover or a restart.
func (c *Cluster) WaitOK(t testing.TB) {
	t.Helper()
	waitFor(t, "cluster_state:ok on every node", 30*time.Second, c.ok)
}

// ok reports why the cluster is not settled, or nil.
func (c *Cluster) ok() error {
	var ref string
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		out, err := s.DoErr("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		info := parseInfo(out)
		all := strconv.Itoa(SlotCount)
		if info["cluster_state"] != "ok" || info["cluster_slots_assigned"] != all || info["cluster_slots_ok"] != all {
			return fmt.Errorf("%s: state=%s assigned=%s ok=%s", s.Addr, info["cluster_state"], info["cluster_slots_assigned"], info["cluster_slots_ok"])
		}
		nodes, err := c.nodes(s)
		if err != nil {
			return err
		}
		var sig []string
		for _, n := range nodes {
			if n.master && len(n.slots) > 0 {
				sig = append(sig, n.addr+" "+fmt.Sprint(n.slots))
			}
			if n.myself && !n.master {
				rep, err := s.DoErr("INFO", "replication")
				if err != nil {
					return err
				}
				if l := parseInfo(rep)["master_link_status"]; l != "up" {
					return fmt.Errorf("replica %s: master link %s", s.Addr, l)
				}
			}
		}
		sort.Strings(sig)
		if cur := strings.Join(sig, "; "); ref == "" {
			ref = cur
		} else if cur != ref {
			return fmt.Errorf("slot maps differ: %q and %q", ref, cur)
		}
	}
	if ref == "" {
		return fmt.Errorf("no node is running")
	}
	return nil
}

// MasterFor returns the master serving slot, according to CLUSTER NODES of
// the first running node that answers.
func (c *Cluster) MasterFor(t testing.TB, slot int) *Server {
	t.Helper()
	if slot < 0 || slot >= SlotCount {
		t.Fatalf("redisserver: slot %d out of range", slot)
	}
	nodes := c.view(t)
	for _, n := range nodes {
		if !n.master || n.failed {
			continue
		}
		for _, r := range n.slots {
			if slot >= r[0] && slot <= r[1] {
				if s := c.Node(n.addr); s != nil {
					return s
				}
				t.Fatalf("redisserver: slot %d is served by %s, not one of this cluster's nodes", slot, n.addr)
			}
		}
	}
	t.Fatalf("redisserver: no master serves slot %d", slot)
	return nil
}

// Masters returns the nodes that are masters serving slots now.
func (c *Cluster) Masters(t testing.TB) []*Server {
	t.Helper()
	var ms []*Server
	for _, n := range c.view(t) {
		if n.master && !n.failed && len(n.slots) > 0 {
			if s := c.Node(n.addr); s != nil {
				ms = append(ms, s)
			}
		}
	}
	return ms
}

// ReplicasOf returns the nodes that replicate m now.
func (c *Cluster) ReplicasOf(t testing.TB, m *Server) []*Server {
	t.Helper()
	nodes := c.view(t)
	var id string
	for _, n := range nodes {
		if n.addr == m.Addr {
			id = n.id
		}
	}
	var rs []*Server
	for _, n := range nodes {
		if !n.master && n.masterID == id && id != "" && !n.failed {
			if s := c.Node(n.addr); s != nil {
				rs = append(rs, s)
			}
		}
	}
	return rs
}

// view returns CLUSTER NODES from the first running node that answers.
func (c *Cluster) view(t testing.TB) []clusterNode {
	t.Helper()
	var last error
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		nodes, err := c.nodes(s)
		if err == nil {
			return nodes
		}
		last = err
	}
	t.Fatalf("redisserver: no cluster node answers CLUSTER NODES: %v", last)
	return nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, masterID     string
	master, myself, failed bool
	slots                  [][2]int
}

// nodes runs CLUSTER NODES on s and parses it.
func (c *Cluster) nodes(s *Server) ([]clusterNode, error) {
	out, err := s.DoErr("CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	return parseClusterNodes(out)
}

// parseClusterNodes parses CLUSTER NODES output:
// <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
func parseClusterNodes(out string) ([]clusterNode, error) {
	var nodes []clusterNode
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("redisserver: CLUSTER NODES line %q", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{id: f[0], addr: addr, masterID: f[3]}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "master":
				n.master = true
			case "myself":
				n.myself = true
			case "fail", "fail?", "noaddr", "handshake":
				n.failed = true
			}
		}
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				continue // migrating or importing, not served
			}
			lo, hi, isRange := strings.Cut(sl, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("redisserver: CLUSTER NODES slot %q", sl)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil {
					return nil, fmt.Errorf("redisserver: CLUSTER NODES slot %q", sl)
				}
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
