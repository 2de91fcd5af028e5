package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/session"
)

func TestNewConfigAppliesUpstreamDefaults(t *testing.T) {
	c, err := newConfig(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:6379" || c.Prefix != "sessionx:" || c.TTL != 24*time.Hour || c.DB != 0 {
		t.Errorf("defaults = %q %q %v %d", c.Addr, c.Prefix, c.TTL, c.DB)
	}
	cc := c.client
	if cc.DialTimeout != 5*time.Second || cc.ReadTimeout != 3*time.Second || cc.WriteTimeout != 3*time.Second {
		t.Errorf("timeouts = %v %v %v", cc.DialTimeout, cc.ReadTimeout, cc.WriteTimeout)
	}
	if cc.PoolSize <= 0 || cc.MaxIdle != cc.PoolSize || cc.PoolTimeout != 4*time.Second || cc.Network != "tcp" || cc.IdleTimeout != 30*time.Minute {
		t.Errorf("pool = %d %d %v %s %v", cc.PoolSize, cc.MaxIdle, cc.PoolTimeout, cc.Network, cc.IdleTimeout)
	}
	if cc.HealthCheckInterval != 15*time.Second || cc.CallBound() != 8*time.Second {
		t.Errorf("HealthCheckInterval %v, CallBound %v; want 15s and 8s (the documented figures)", cc.HealthCheckInterval, cc.CallBound())
	}
}

func TestHealthCheckIntervalReachesTheClient(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want time.Duration
	}{
		{Options{HealthCheckInterval: time.Second}, time.Second},
		{Options{HealthCheckInterval: -1}, -1}, // never: the pipes treat a negative interval as off
		{Options{URL: "redis://h:1?health_check_interval=250ms"}, 250 * time.Millisecond},
	} {
		c, err := newConfig(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.client.HealthCheckInterval; got != tc.want {
			t.Errorf("%v: HealthCheckInterval %v, want %v", tc.opts, got, tc.want)
		}
	}
}

// With a cache, the defaults bound what a silent connection serves
// (HealthCheckInterval + ReadTimeout = 4s) and how long any value is
// served without asking (1 minute); set values stay.
func TestCacheDefaults(t *testing.T) {
	for _, tc := range []struct {
		opts          Options
		health, cache time.Duration
	}{
		{Options{CacheSize: 1 << 20}, time.Second, time.Minute},
		{Options{CacheSize: 1 << 20, HealthCheckInterval: 5 * time.Second, CacheTTL: time.Second}, 5 * time.Second, time.Second},
		{Options{CacheSize: 1 << 20, HealthCheckInterval: -1}, -1, time.Minute},
		{Options{}, 15 * time.Second, 0},
	} {
		c, err := newConfig(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if c.client.HealthCheckInterval != tc.health || c.CacheTTL != tc.cache {
			t.Errorf("%v: HealthCheckInterval %v, CacheTTL %v; want %v, %v", tc.opts, c.client.HealthCheckInterval, c.CacheTTL, tc.health, tc.cache)
		}
	}
}

func TestNewConfigRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"negative DB", Options{DB: -1}, "DB -1 out of range"},
		{"huge DB", Options{DB: 1 << 40}, "out of range"},
		{"negative TTL", Options{TTL: -time.Second}, "negative TTL"},
		{"sub-millisecond TTL", Options{TTL: time.Microsecond}, "under 1ms"},
		{"negative pool", Options{PoolSize: -1}, "negative pool size"},
		{"negative idle", Options{MinIdle: -2}, "negative pool size"},
		{"negative timeout", Options{ReadTimeout: -time.Second}, "negative timeout"},
		{"health checks in nanoseconds", Options{HealthCheckInterval: 15}, "HealthCheckInterval 15ns under 1ms"},
		{"protocol 4", Options{Protocol: 4}, "Protocol 4"},
		{"user without password", Options{Username: "alice"}, "Username set without Password"},
		{"Addr and URL", Options{Addr: "h:1", URL: "redis://h:2"}, "not both"},
		{"unknown scheme", Options{URL: "http://h:1"}, `unknown scheme "http"`},
		{"bad db in URL", Options{URL: "redis://h:1/x"}, `database "x"`},
		{"unknown option", Options{URL: "redis://h:1?pool_sise=3"}, `unknown option "pool_sise"`},
		{"bad option value", Options{URL: "redis://h:1?dial_timeout=soon"}, "dial_timeout"},
		{"unix without path", Options{URL: "unix://"}, "no socket path"},
		{"unescaped '/' in a password", Options{URL: "redis://u:12/pw@h:1"}, "percent-encode"},
		{"fragment", Options{URL: "redis://h:1#x"}, "percent-encode"},
		{"';' in the query", Options{URL: "redis-sentinel://h:1?master_name=m&sentinel_password=a;b"}, "bad query"},
		{"negative CacheSize", Options{CacheSize: -1}, "negative CacheSize"},
		{"negative CacheTTL", Options{CacheSize: 1 << 20, CacheTTL: -time.Second}, "negative CacheTTL"},
		{"tiny CacheSize", Options{CacheSize: 100}, "CacheSize 100 under 65536"},
		{"CacheTTL alone", Options{CacheTTL: time.Second}, "CacheTTL set without CacheSize"},
		{"cache on RESP2", Options{CacheSize: 1 << 20, Protocol: 2}, "RESP2 cannot carry the invalidations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newConfig(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "redisstore: ") {
				t.Errorf("err = %q lacks the package prefix", err)
			}
		})
	}
}

func TestURLForms(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want config
		tls  bool
	}{
		{"redis://localhost:6380", config{Options: Options{Addr: "localhost:6380"}, network: "tcp"}, false},
		{"redis://:pw@h/3", config{Options: Options{Addr: "h:6379", Password: "pw", DB: 3}, network: "tcp"}, false},
		{"redis://pw@h:1", config{Options: Options{Addr: "h:1", Password: "pw"}, network: "tcp"}, false},
		{"redis://alice:pw@h:1/0", config{Options: Options{Addr: "h:1", Username: "alice", Password: "pw"}, network: "tcp"}, false},
		{"rediss://h:6390/2", config{Options: Options{Addr: "h:6390", DB: 2}, network: "tcp"}, true},
		{"unix:///run/redis.sock?db=5", config{Options: Options{Addr: "/run/redis.sock", DB: 5}, network: "unix"}, false},
		{"unix://u:pw@/s.sock", config{Options: Options{Addr: "/s.sock", Username: "u", Password: "pw"}, network: "unix"}, false},
		{"redis://h?dial_timeout=250ms&read_timeout=2&write_timeout=1s&pool_size=7&min_idle=1&max_idle=3&protocol=2&client_name=web&pool_timeout=9s&idle_timeout=1m&max_lifetime=1h",
			config{Options: Options{Addr: "h:6379", DialTimeout: 250 * time.Millisecond, ReadTimeout: 2 * time.Second, WriteTimeout: time.Second,
				PoolSize: 7, MinIdle: 1, MaxIdle: 3, Protocol: 2, ClientName: "web", PoolTimeout: 9 * time.Second, IdleTimeout: time.Minute, MaxLifetime: time.Hour}, network: "tcp"}, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c := &config{network: "tcp"}
			if err := c.applyURL(tc.url); err != nil {
				t.Fatal(err)
			}
			if (c.TLSConfig != nil) != tc.tls {
				t.Errorf("TLS = %v, want %v", c.TLSConfig != nil, tc.tls)
			}
			c.TLSConfig = nil
			if fmt.Sprint(*c) != fmt.Sprint(tc.want) || c.Password != tc.want.Password {
				t.Errorf("got  %v\nwant %v", *c, tc.want)
			}
		})
	}
}

func TestTLSConfigIsClonedWithSafeMinimum(t *testing.T) {
	user := &tls.Config{ServerName: "x"}
	c, err := newConfig(Options{TLSConfig: user})
	if err != nil {
		t.Fatal(err)
	}
	if tc := c.client.TLSConfig; tc == user || tc.MinVersion != tls.VersionTLS12 || user.MinVersion != 0 {
		t.Errorf("TLS config not cloned or MinVersion %x", tc.MinVersion)
	}
	if c.client.TLSConfig.InsecureSkipVerify {
		t.Error("InsecureSkipVerify set without the user asking")
	}
	c, _ = newConfig(Options{URL: "rediss://host:1"})
	if tc := c.client.TLSConfig; tc.ServerName != "host" || tc.MinVersion != tls.VersionTLS12 || tc.InsecureSkipVerify {
		t.Errorf("rediss config = %+v", tc)
	}
}

// marker is a password no output may contain.
const marker = "S3cr3t-MARKER-7f3a"

func TestPasswordNeverPrinted(t *testing.T) {
	opts := Options{Addr: "h:1", Username: "u", Password: marker}
	urlOpts := Options{URL: "redis://u:" + marker + "@h:1/0"}
	outputs := []string{
		fmt.Sprintf("%v", opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), fmt.Sprint(&opts),
		fmt.Sprintf("%v", urlOpts), fmt.Sprintf("%+v", urlOpts), fmt.Sprintf("%#v", urlOpts),
	}
	for _, bad := range []string{
		"redis://u:" + marker + "@h:99999999/0",
		"redis://u:" + marker + "@h:1/x",
		"redis://u:" + marker + "@h:1?bogus=1",
		"http://u:" + marker + "@h:1",
		"redis://u:" + marker + "@[::1:1",
		"redis://u:" + marker + "%zz@h:1",
		"redis://u:" + marker + "@h:1:2:3",
		"redis://u:" + marker + "@h:0",
		"redis://u:" + marker + "/x@h:1",
		"redis://" + marker + "\x7f@h",
		// A password starting with digits and holding an unescaped '/',
		// '?' or '#' parses as a port: url.Parse sees no user information.
		"redis://:6379/" + marker + "@h:6379",
		"redis://default:1234?" + marker + "@h",
		"redis://default:12#" + marker + "@h",
		// Sentinel passwords in the query, of URLs that parse or not.
		"redis-sentinel://[::1]:26379,[::1]:26380?master_name=m&sentinel_password=" + marker,
		"redis-sentinel://h:1?master_name=m&sentinel_password=" + marker + ";x",
		"redis://h:1?password=" + marker,
	} {
		_, err := newConfig(Options{URL: bad})
		if err == nil {
			t.Errorf("URL %q accepted", bad)
			continue
		}
		o := Options{URL: bad}
		outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), o.String(), fmt.Sprintf("%#v", o))
	}
	for _, out := range outputs {
		if strings.Contains(out, marker) || strings.Contains(out, "MARKER") {
			t.Errorf("password printed: %s", out)
		}
	}
}

func TestErrSessionNotFoundMatchesSessionErrNotFound(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", ErrSessionNotFound)
	if !errors.Is(err, ErrSessionNotFound) {
		t.Error("not ErrSessionNotFound")
	}
	if !errors.Is(err, session.ErrNotFound) {
		t.Error("not session.ErrNotFound")
	}
}
