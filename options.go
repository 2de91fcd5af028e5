package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// Default values of Options; the first five are those of sessionx's go-redis
// store.
const (
	DefaultAddr         = "localhost:6379"
	DefaultPrefix       = "sessionx:"
	DefaultTTL          = 24 * time.Hour
	DefaultDialTimeout  = client.DefaultDialTimeout
	DefaultReadTimeout  = client.DefaultReadTimeout
	DefaultWriteTimeout = client.DefaultWriteTimeout
	DefaultIdleTimeout  = 30 * time.Minute
	// DefaultCacheTTL is CacheTTL's default.
	DefaultCacheTTL = time.Minute
	// cacheHealthCheckInterval is HealthCheckInterval's default with a
	// CacheSize.
	cacheHealthCheckInterval = time.Second
	// minCacheSize is the least CacheSize: 16 shards of 4 KiB.
	minCacheSize = 64 << 10
)

// Options configures a Store. The zero value connects to localhost:6379,
// database 0, with the defaults of sessionx's go-redis store. Every field
// says what its zero value means.
type Options struct {
	// Addr is the server's host:port. Zero: "localhost:6379". Set at most
	// one of Addr, URL, SentinelAddrs and ClusterAddrs.
	Addr string
	// URL configures the connection in one string:
	// redis://[user[:password]@]host[:port][/db][?option=value&...],
	// rediss://... (TLS) or unix://[user[:password]@]/path/to.sock[?db=N];
	// a Sentinel group as
	// redis-sentinel://[user[:password]@]host1:port1,host2:port2[/db]?master_name=mymaster
	// (user and password are the data nodes'; sentinel_username and
	// sentinel_password in the query are the sentinels'), a Redis Cluster as
	// redis-cluster://[user[:password]@]host1:port1,host2:port2 (seed nodes;
	// every host needs its port in both forms; rediss-sentinel and
	// rediss-cluster use TLS).
	// Query options: dial_timeout, read_timeout, write_timeout,
	// pool_timeout, idle_timeout, health_check_interval, max_lifetime (Go
	// durations such as "3s", or seconds), pool_size, min_idle, max_idle,
	// protocol, client_name, db, master_name, sentinel_username,
	// sentinel_password; the other fields (CacheSize, EncryptionKeys, ...)
	// are set beside URL. Zero: not used.
	URL string
	// Username is the ACL user; zero: the default user (password-only AUTH).
	Username string
	// Password authenticates the connection; zero: no authentication.
	Password string
	// DB is the database number, selected after connecting. Zero: 0.
	// Must be 0 with ClusterAddrs.
	DB int
	// Prefix is put before the session ID to make the key. Zero: "sessionx:".
	Prefix string
	// TTL is how long Redis keeps a session after each Save. Zero: 24h.
	// It must be at least a millisecond; a TTL that is not a whole number of
	// seconds is written with PX instead of EX.
	TTL time.Duration

	// TLSConfig, when set, makes connections use TLS with it (a rediss:// URL
	// sets it too). A zero MinVersion means TLS 1.2; an empty ServerName is
	// taken from the address. Zero: plain TCP.
	TLSConfig *tls.Config
	// PoolSize bounds the open connections to each server, counting those
	// being dialed. Callers share min(PoolSize, GOMAXPROCS) connections per
	// server, pipelining their commands on them (see the package
	// documentation); the rest of the bound leaves room to replace failed
	// ones and for MinIdle spares. Zero: 10 per GOMAXPROCS.
	PoolSize int
	// MinIdle spare connections are kept open, so that a failed connection
	// is replaced without a dial. Zero: none.
	MinIdle int
	// MaxIdle bounds the spare connections kept open. Zero: PoolSize.
	MaxIdle int
	// IdleTimeout closes a connection that carried no command for that long
	// (noticed within ReadTimeout after). Zero: 30 minutes; negative: never.
	IdleTimeout time.Duration
	// MaxLifetime closes a connection that old when it is next idle.
	// Zero: never.
	MaxLifetime time.Duration
	// DialTimeout bounds connecting, TLS and the handshake. Zero: 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for each reply. Zero: 3s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing each command. Zero: 3s.
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a connection when PoolSize are open or
	// being dialed. Zero: ReadTimeout + 1s.
	PoolTimeout time.Duration
	// HealthCheckInterval is how long a connection may sit idle before the
	// store sends it a PING, so that a connection that died without a word
	// (a silent network partition, a host gone) is closed within
	// HealthCheckInterval + ReadTimeout instead of failing the next caller
	// after ReadTimeout. Zero: 15s, or 1s with CacheSize; negative: never;
	// at least 1ms.
	//
	// A call whose context has no deadline ends within DialTimeout +
	// ReadTimeout (8s with the defaults), whatever the fault: waiting for a
	// connection, dialing, the handshake, writing, reading and retrying
	// all fit in it.
	HealthCheckInterval time.Duration
	// Protocol is the RESP version: 2 or 3. Zero: try RESP3 (HELLO 3) and
	// fall back to AUTH and RESP2 on servers without HELLO.
	Protocol int
	// ClientName is sent with HELLO ... SETNAME (RESP3 only). Zero: none.
	ClientName string
	// Logger receives what an operator must see: dial failures, reconnects,
	// retries, failovers, a server refusing scripts, sealed values that do
	// not open (at most once a minute), a server on which the client-side
	// cache is off (once per server). A *slog.Logger fits
	// (slog.Default(), say). Zero: silent.
	Logger Logger

	// SentinelAddrs are the host:port addresses of the sentinels of a Redis
	// Sentinel group; the store asks them in turn for the master named
	// MasterName and follows failovers. Zero: no Sentinel.
	SentinelAddrs []string
	// MasterName is the name the sentinels monitor the master under.
	// Required with SentinelAddrs; zero otherwise.
	MasterName string
	// SentinelUsername is the ACL user of the sentinels themselves (Username
	// and Password are the data nodes'). Zero: the default user.
	SentinelUsername string
	// SentinelPassword authenticates to the sentinels. Zero: the sentinels
	// need no password.
	SentinelPassword string
	// ClusterAddrs are host:port addresses of some nodes of a Redis Cluster
	// (seeds): the store reads the slot map from the first that answers and
	// keeps a pool per node. DB must be 0. Zero: no Cluster.
	ClusterAddrs []string

	// EncryptionKeys seal values at rest (see "Encryption at rest" in the
	// README): keys of 32 bytes each (from crypto/rand, kept out of the
	// code), no two alike. The first seals every value written, with
	// AES-256-GCM under a subkey of its own, bound to its Redis key; each
	// of them opens values. To rotate keys, add a new one last in every
	// process, then move it first, and drop the old one once every process
	// has sealed with the new one for a session's lifetime plus a minute
	// (see the README). A value that does not open is
	// ErrInvalidSession wrapping ErrNotSealed, ErrUnknownKey, ErrTampered
	// or ErrSealFormat. Zero: values are plain JSON, byte-compatible with
	// sessionx's store.
	EncryptionKeys [][]byte
	// ReadPlaintext opens values written before EncryptionKeys was set
	// (plain JSON and rotation markers) as they are; their next write or
	// refresh seals them. Zero: such a value is refused (ErrNotSealed),
	// so a plaintext value written into Redis logs nobody in. Needs
	// EncryptionKeys; refused with HashKeys, where no plaintext value was
	// ever written.
	ReadPlaintext bool
	// HashKeys names each session's Redis key Prefix+base64url(SHA-256(ID))
	// and each user index's Prefix+"user "+base64url(HMAC-SHA256(user))
	// under a key of its own expanded from each encryption key, and seals
	// the user indexes' members, so no key listing, dump or MONITOR shows
	// a session ID or a user. Sessions saved under plain keys are not found:
	// turning it on logs every user out. A store with EncryptionKeys
	// records its key format under Prefix+" keys" at New, and New fails
	// with ErrHashKeysMismatch when a store of the other format recorded
	// its own there (delete that key once no such store runs); a store
	// without EncryptionKeys records nothing, so turn HashKeys on in every
	// process at once. Needs EncryptionKeys, since a session's value holds
	// its ID. Zero: Prefix+ID.
	HashKeys bool

	// CacheSize is how many bytes of session values (keys and bookkeeping
	// included) the store keeps in the process, so that a Load or
	// LoadVersion whose session nothing changed since is answered without
	// asking Redis (see "Client-side cache" in the README). Redis tells
	// each connection when a key it read changes (CLIENT TRACKING, RESP3);
	// the store's own writes update or drop what it keeps before they
	// return nil. The least recently used values go first; the cache is
	// 16 shards of CacheSize/16 each, and a session (key, value and 160
	// bytes) bigger than a shard is not kept, nor is a missing one. At
	// least 64 KiB. Needs RESP3: Protocol 2 is refused; a server without
	// HELLO, or one that refuses CLIENT TRACKING, runs without the cache,
	// which Logger is told once per server (each Load then still sends GET
	// and PTTL); one that refuses PTTL (an ACL) turns it off at the first
	// Load, which Logger is told once. With CacheSize, HealthCheckInterval's zero is 1s, so that
	// what was read through a connection gone silent stops being served
	// within HealthCheckInterval + ReadTimeout of its last reply (within
	// CacheTTL with health checks off). Zero: no cache, and not a command
	// nor an allocation per call is spent on one.
	CacheSize int
	// CacheTTL is the longest the cache serves a value without asking
	// Redis, even while no invalidation came. Zero: 1 minute
	// (DefaultCacheTTL). Needs CacheSize.
	CacheTTL time.Duration
}

// String describes the options with the password redacted, so that logging
// Options (%v, %+v) never shows a secret.
func (o Options) String() string {
	return fmt.Sprintf("redisstore.Options{Addr:%s URL:%s Username:%s Password:%s DB:%d Prefix:%s TTL:%v TLS:%t"+
		" PoolSize:%d MinIdle:%d MaxIdle:%d IdleTimeout:%v MaxLifetime:%v DialTimeout:%v ReadTimeout:%v"+
		" WriteTimeout:%v PoolTimeout:%v HealthCheckInterval:%v Protocol:%d ClientName:%s SentinelAddrs:%v MasterName:%s"+
		" SentinelUsername:%s SentinelPassword:%s ClusterAddrs:%v EncryptionKeys:%d keys ReadPlaintext:%t HashKeys:%t"+
		" CacheSize:%d CacheTTL:%v}",
		o.Addr, redactURL(o.URL), o.Username, redacted(o.Password), o.DB, o.Prefix, o.TTL, o.TLSConfig != nil,
		o.PoolSize, o.MinIdle, o.MaxIdle, o.IdleTimeout, o.MaxLifetime, o.DialTimeout, o.ReadTimeout,
		o.WriteTimeout, o.PoolTimeout, o.HealthCheckInterval, o.Protocol, o.ClientName, o.SentinelAddrs, o.MasterName,
		o.SentinelUsername, redacted(o.SentinelPassword), o.ClusterAddrs, len(o.EncryptionKeys), o.ReadPlaintext, o.HashKeys,
		o.CacheSize, o.CacheTTL)
}

// GoString is String, so %#v redacts the password too.
func (o Options) GoString() string { return o.String() }

// redacted hides a secret but says whether one is set.
func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "xxxxx"
}

// Logger is where a Store reports what an operator must see: dial
// failures, reconnects, retries and failovers, as a message with key-value
// pairs. *slog.Logger satisfies it. It is an interface rather than
// *slog.Logger so that a program that logs otherwise does not link log/slog
// (270 KB).
type Logger = client.Logger

// config is Options after URL parsing, validation and the store's
// defaults, and the client's configuration made from them.
type config struct {
	Options
	network string // "tcp" or "unix"
	client  *client.Config
}

// newConfig applies the URL and the defaults to o and validates the result.
func newConfig(o Options) (*config, error) {
	c := &config{Options: o, network: "tcp"}
	c.SentinelAddrs = append([]string(nil), o.SentinelAddrs...)
	c.ClusterAddrs = append([]string(nil), o.ClusterAddrs...)
	c.EncryptionKeys = nil // newSealer expands o's; no copy of a key is kept
	set := 0
	for _, given := range []bool{o.Addr != "", o.URL != "", len(o.SentinelAddrs) > 0, len(o.ClusterAddrs) > 0} {
		if given {
			set++
		}
	}
	if o.Addr != "" && o.URL != "" {
		return nil, errors.New("redisstore: set Addr or URL, not both")
	}
	if set > 1 {
		return nil, errors.New("redisstore: set at most one of Addr, URL, SentinelAddrs and ClusterAddrs")
	}
	if o.URL != "" {
		if err := c.applyURL(o.URL); err != nil {
			return nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	c.setDefaults()
	return c, nil
}

func (c *config) validate() error {
	switch {
	case c.DB < 0 || c.DB > math.MaxInt32:
		return fmt.Errorf("redisstore: DB %d out of range", c.DB)
	case c.TTL < 0:
		return fmt.Errorf("redisstore: negative TTL %v", c.TTL)
	case c.TTL > 0 && c.TTL < time.Millisecond:
		return fmt.Errorf("redisstore: TTL %v under 1ms", c.TTL)
	case c.PoolSize < 0, c.MinIdle < 0, c.MaxIdle < 0:
		return fmt.Errorf("redisstore: negative pool size (PoolSize %d, MinIdle %d, MaxIdle %d)", c.PoolSize, c.MinIdle, c.MaxIdle)
	case c.DialTimeout < 0, c.ReadTimeout < 0, c.WriteTimeout < 0, c.PoolTimeout < 0, c.MaxLifetime < 0:
		return errors.New("redisstore: negative timeout")
	case c.HealthCheckInterval > 0 && c.HealthCheckInterval < time.Millisecond:
		// 15 where 15*time.Second was meant would PING without pause.
		return fmt.Errorf("redisstore: HealthCheckInterval %v under 1ms", c.HealthCheckInterval)
	case c.Protocol != 0 && c.Protocol != 2 && c.Protocol != 3:
		return fmt.Errorf("redisstore: Protocol %d is not 2 or 3", c.Protocol)
	case c.Username != "" && c.Password == "":
		return errors.New("redisstore: Username set without Password")
	case c.SentinelUsername != "" && c.SentinelPassword == "":
		return errors.New("redisstore: SentinelUsername set without SentinelPassword")
	case len(c.SentinelAddrs) > 0 && c.MasterName == "":
		return errors.New("redisstore: SentinelAddrs set without MasterName")
	case len(c.SentinelAddrs) == 0 && (c.MasterName != "" || c.SentinelPassword != ""):
		return errors.New("redisstore: MasterName or SentinelPassword set without SentinelAddrs")
	case c.CacheSize < 0:
		return fmt.Errorf("redisstore: negative CacheSize %d", c.CacheSize)
	case c.CacheSize > 0 && c.CacheSize < minCacheSize:
		return fmt.Errorf("redisstore: CacheSize %d under %d: each of the cache's 16 shards could hold hardly a session", c.CacheSize, minCacheSize)
	case c.CacheTTL < 0:
		return fmt.Errorf("redisstore: negative CacheTTL %v", c.CacheTTL)
	case c.CacheTTL > 0 && c.CacheSize == 0:
		return errors.New("redisstore: CacheTTL set without CacheSize")
	case c.CacheSize > 0 && c.Protocol == 2:
		return errors.New("redisstore: CacheSize with Protocol 2: RESP2 cannot carry the invalidations the cache needs")
	case len(c.ClusterAddrs) > 0 && c.DB != 0:
		return fmt.Errorf("redisstore: DB %d with ClusterAddrs: a Redis Cluster has database 0 only", c.DB)
	}
	for _, addrs := range [][]string{c.SentinelAddrs, c.ClusterAddrs} {
		for _, a := range addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("redisstore: address %q is not host:port", a)
			}
		}
	}
	return nil
}

// setDefaults sets the store's defaults and makes the client's
// configuration, which takes the connection's own defaults.
func (c *config) setDefaults() {
	if c.Addr == "" && len(c.SentinelAddrs) == 0 && len(c.ClusterAddrs) == 0 {
		c.Addr = DefaultAddr
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	switch {
	case c.IdleTimeout == 0:
		c.IdleTimeout = DefaultIdleTimeout
	case c.IdleTimeout < 0:
		c.IdleTimeout = 0 // the client's "never"
	}
	if c.CacheSize > 0 {
		if c.CacheTTL == 0 {
			c.CacheTTL = DefaultCacheTTL
		}
		if c.HealthCheckInterval == 0 {
			c.HealthCheckInterval = cacheHealthCheckInterval
		}
	}
	c.client = client.Config{
		Network: c.network, Addr: c.Addr,
		Username: c.Username, Password: c.Password, DB: c.DB,
		ClientName: c.ClientName, Protocol: c.Protocol, TLSConfig: c.TLSConfig,
		PoolSize: c.PoolSize, MinIdle: c.MinIdle, MaxIdle: c.MaxIdle,
		IdleTimeout: c.IdleTimeout, MaxLifetime: c.MaxLifetime,
		DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, PoolTimeout: c.PoolTimeout,
		HealthCheckInterval: c.HealthCheckInterval,
		SentinelAddrs:       c.SentinelAddrs, MasterName: c.MasterName,
		SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
		ClusterAddrs: c.ClusterAddrs,
		Logger:       c.Logger,
	}.WithDefaults()
}
