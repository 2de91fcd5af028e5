package client

import (
	"crypto/tls"
	"runtime"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// Config says where the servers are and how to talk to them. The store
// fills it from its Options after validating them; New applies the
// defaults below to what is left zero.
type Config struct {
	// Network is "tcp" or "unix"; zero: "tcp". Addr is the server's
	// address (host:port, or a socket path), for a single server.
	Network, Addr string
	// Username and Password authenticate (HELLO ... AUTH, or AUTH on
	// RESP2); an empty Username is the default user, an empty Password no
	// authentication.
	Username, Password string
	// DB is selected after connecting.
	DB int
	// ClientName is sent with HELLO ... SETNAME.
	ClientName string
	// Protocol is 2 or 3; zero: try RESP3 and fall back to RESP2 on servers
	// without HELLO.
	Protocol int
	// TLSConfig, when set, makes connections use TLS with it. An empty
	// ServerName is taken from each address.
	TLSConfig *tls.Config

	// PoolSize bounds the open connections per server (zero: 10 per
	// GOMAXPROCS); MinIdle spares are kept open; MaxIdle bounds the spares
	// (zero: PoolSize).
	PoolSize, MinIdle, MaxIdle int
	// IdleTimeout closes a connection idle that long; zero: never.
	IdleTimeout time.Duration
	// MaxLifetime closes a connection that old when it is next idle; zero:
	// never.
	MaxLifetime time.Duration
	// DialTimeout bounds connecting, TLS and the handshake; zero: 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply, and retrying a failed command
	// when the caller's context has no deadline; zero: 3s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing; zero: 3s.
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a connection; zero: ReadTimeout + 1s.
	PoolTimeout time.Duration
	// HealthCheckInterval is how long a connection may sit idle before the
	// client sends it a PING, so that a connection that died silently is
	// closed before a caller waits on it; zero: 15s; negative: never.
	HealthCheckInterval time.Duration

	// SentinelAddrs, when set, are the sentinels to ask for the master
	// named MasterName; SentinelUsername and SentinelPassword are theirs.
	SentinelAddrs                      []string
	MasterName                         string
	SentinelUsername, SentinelPassword string
	// ClusterAddrs, when set, are seed nodes of a Redis Cluster.
	ClusterAddrs []string

	// Logger receives what an operator must see; zero: nothing is logged.
	Logger Logger
	// OnPush receives the RESP3 pushes that arrive on the client's
	// connections (invalidations of CLIENT TRACKING, say, unless a Tracker
	// takes those), in the order
	// each connection reads them, from that connection's reader goroutine:
	// it must not block. Zero: pushes are dropped. Either way a push never
	// breaks a connection nor reaches a caller as a reply.
	OnPush func(resp.Value)
	// Tracker, when set, turns CLIENT TRACKING on for every connection and
	// is told what the server invalidates and which connections end (see
	// Source). Zero: no tracking.
	Tracker Tracker
}

// Defaults of Config.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	// DefaultHealthCheckInterval is HealthCheckInterval's default.
	DefaultHealthCheckInterval = 15 * time.Second
)

// WithDefaults returns c with its zero fields set, its lists copied and its
// TLS configuration cloned, so the caller's values are never changed.
func (c Config) WithDefaults() *Config {
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.PoolSize == 0 {
		c.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	if c.MaxIdle == 0 || c.MaxIdle > c.PoolSize {
		c.MaxIdle = c.PoolSize
	}
	c.MinIdle = min(c.MinIdle, c.MaxIdle)
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PoolTimeout == 0 {
		c.PoolTimeout = c.ReadTimeout + time.Second
	}
	if c.HealthCheckInterval == 0 {
		c.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if c.TLSConfig != nil {
		c.TLSConfig = c.TLSConfig.Clone()
		if c.TLSConfig.MinVersion == 0 {
			c.TLSConfig.MinVersion = tls.VersionTLS12
		}
	}
	c.SentinelAddrs = append([]string(nil), c.SentinelAddrs...)
	c.ClusterAddrs = append([]string(nil), c.ClusterAddrs...)
	if c.Logger == nil {
		c.Logger = discard{}
	}
	return &c
}

// pipesPerNode is how many connections a node's callers share: one per CPU,
// so that one reader goroutine per CPU decodes replies, within PoolSize.
func (c *Config) pipesPerNode() int {
	return max(1, min(c.PoolSize, runtime.GOMAXPROCS(0)))
}
