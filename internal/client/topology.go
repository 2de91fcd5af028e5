package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/sessionx-redis/redisstore/pool"
	"github.com/sessionx-redis/redisstore/resp"
)

// topology says which server runs a batch: one server (single), the master
// a Sentinel group names (sentinel), or the owner of the key's slot in a
// Redis Cluster (cluster). Client.Do asks it for a node, runs the batch
// there, and calls its hooks when the reply says the topology changed. Its
// methods are safe for concurrent use.
type topology interface {
	// nodeFor returns the node that serves the key prefix+id (a batch
	// without keys goes to slot 0's). It must not allocate. It takes the
	// key, not the batch, so that a batch on the caller's stack stays
	// there, and only a Cluster hashes it.
	nodeFor(prefix, id string) (*node, error)
	// nodeAt returns the node at addr, for a MOVED or ASK redirection; the
	// single and sentinel topologies do not follow redirections.
	nodeAt(addr string) (*node, error)
	// moved records that the node at addr now serves slot (a MOVED reply)
	// and schedules a refresh of the slot map, at most one per
	// refreshInterval.
	moved(slot int, n *node)
	// recover is told that a batch failed on n with err, an error that may mean
	// the topology changed: a connection or dial failure, READONLY, a node
	// closed by an earlier recovery, CLUSTERDOWN, MASTERDOWN. It updates the
	// topology within ctx (rediscovering the master, refreshing the slot
	// map) and reports whether sending the command again may succeed.
	recover(ctx context.Context, n *node, err error) bool
	// nodes returns the nodes in use, for Stats.
	nodes() []*node
	// close closes every node.
	close() error
}

// refreshInterval is the shortest time between two rediscoveries of a
// Sentinel master, or two refreshes of a Cluster slot map, that failures
// cause.
const refreshInterval = 100 * time.Millisecond

// maxRefused bounds how many failed pipes one batch tries before it fails
// with the last one's error; pipes that retired (MaxLifetime, IdleTimeout)
// are not counted, as they failed no one.
const maxRefused = 3

// SentinelWatchInterval is how often a Sentinel client asks a sentinel for
// the master, in case it missed a +switch-master event; a test hook, read
// when a client is made.
var SentinelWatchInterval = time.Second

// joinHostPort is net.JoinHostPort.
func joinHostPort(host, port string) string { return net.JoinHostPort(host, port) }

// single is one server: the behaviour of Options.Addr and Options.URL.
type single struct{ n *node }

func (s single) nodeFor(string, string) (*node, error) { return s.n, nil }

func (s single) nodeAt(string) (*node, error) {
	return nil, errors.New("redisstore: redirection from a single server (is it a Redis Cluster node? use ClusterAddrs)")
}

func (single) moved(int, *node) {}

func (single) recover(context.Context, *node, error) bool { return false }

func (s single) nodes() []*node { return []*node{s.n} }

func (s single) close() error { return s.n.close() }

// errorClass says what Client.retry does after a failed attempt.
type errorClass uint8

const (
	classFatal     errorClass = iota // return the error at once
	classRedirect                    // MOVED or ASK: follow it
	classTransient                   // the server is busy or loading: back off and retry
	classTopology                    // the topology may have changed: recover, then retry
	classScript                      // NOSCRIPT: send the scripts' source, then retry
)

// didNotRun reports whether err is a server's reply saying the command did
// not run, so that sending it again runs it at most once.
func didNotRun(err error) bool {
	if _, ok := errors.AsType[resp.Error](err); !ok {
		return false
	}
	c := classify(err)
	return c == classRedirect || c == classScript || c == classTransient || c == classTopology
}

// classify sorts the error of one attempt.
func classify(err error) errorClass {
	if se, ok := errors.AsType[resp.Error](err); ok {
		switch se.Kind {
		case "MOVED", "ASK":
			return classRedirect
		case "NOSCRIPT":
			return classScript
		case "LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN":
			return classTransient // retry tells the topology, then retries
		case "READONLY":
			return classTopology
		case "ERR":
			if strings.Contains(se.Msg, "max number of clients reached") {
				return classTransient
			}
		}
		return classFatal // OOM, MISCONF, NOAUTH, WRONGPASS, NOPERM, WRONGTYPE, ...
	}
	switch {
	case isType[*uncertainError](err):
		return classFatal // may have run: not sent again
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, pool.ErrTimeout), isType[*resp.UnexpectedError](err), isType[*resp.ProtocolError](err):
		return classFatal
	case errors.Is(err, ErrClosed):
		return classTopology // a node an earlier recovery closed; retry checks the client's Close
	}
	return classTopology // a dial or connection failure
}

// redirectAddr returns the address a MOVED or ASK reply names as a dialable
// host:port. Redis writes IPv6 hosts without brackets ("::1:7000"), and
// leaves the host out (":7000") when it does not know its own: then the
// host is that of the node that sent the reply.
func redirectAddr(addr string, from *node) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	host, port := strings.Trim(addr[:i], "[]"), addr[i+1:]
	if host == "" {
		h, _, err := net.SplitHostPort(from.addr)
		if err != nil {
			return addr
		}
		host = h
	}
	return net.JoinHostPort(host, port)
}
