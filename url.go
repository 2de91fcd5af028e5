package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// applyURL sets the connection fields of c from a redis://, rediss:// or
// unix:// URL. Its errors never contain the URL's password.
func (c *config) applyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes parts of its input, perhaps the password: its
		// message is left out.
		return fmt.Errorf("redisstore: invalid URL %s: want redis://[user[:password]@]host[:port][/db]", redactURL(raw))
	}
	if strings.Contains(raw, "#") || (u.User == nil && userinfoOf(raw) != "") {
		// A password with an unescaped '/', '?' or '#' would otherwise be
		// read as a port, path, query or fragment, and quoted in errors.
		return fmt.Errorf("redisstore: invalid URL %s: percent-encode '/', '?', '#' and '@' in a password (and '#' and '@' anywhere)", redactURL(raw))
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			c.Username = name
		}
		if pass, ok := u.User.Password(); ok {
			c.Password = pass
		} else if c.Username != "" && c.Password == "" {
			// redis://secret@host: go-redis reads a lone user part as the password.
			c.Password, c.Username = c.Username, ""
		}
	}
	switch u.Scheme {
	case "redis", "rediss":
		host, port := u.Hostname(), u.Port()
		if strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[") {
			return fmt.Errorf("redisstore: invalid URL %s: bad host:port", redactURL(raw))
		}
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "6379"
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("redisstore: invalid URL %s: bad port", redactURL(raw))
		}
		c.Addr = net.JoinHostPort(host, port)
		if p := strings.Trim(u.Path, "/"); p != "" {
			db, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("redisstore: invalid URL %s: database %q is not a number", redactURL(raw), p)
			}
			c.DB = db
		}
		if u.Scheme == "rediss" && c.TLSConfig == nil {
			c.TLSConfig = &tls.Config{ServerName: host}
		}
	case "redis-sentinel", "rediss-sentinel", "redis-cluster", "rediss-cluster":
		addrs, err := hostList(u.Host)
		if err != nil {
			return fmt.Errorf("redisstore: invalid URL %s: %w", redactURL(raw), err)
		}
		if strings.HasSuffix(u.Scheme, "-sentinel") {
			c.SentinelAddrs = addrs
		} else {
			c.ClusterAddrs = addrs
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			db, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("redisstore: invalid URL %s: database %q is not a number", redactURL(raw), p)
			}
			c.DB = db
		}
		if strings.HasPrefix(u.Scheme, "rediss") && c.TLSConfig == nil {
			c.TLSConfig = &tls.Config{}
		}
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("redisstore: invalid URL %s: no socket path", redactURL(raw))
		}
		c.network, c.Addr = "unix", u.Path
	default:
		return fmt.Errorf("redisstore: invalid URL %s: unknown scheme %q (want redis, rediss, unix, redis-sentinel or redis-cluster)", redactURL(raw), u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// A ';' or bad escape: url.Query would drop the pair silently.
		return fmt.Errorf("redisstore: invalid URL %s: bad query (escape ';' and '%%' in values)", redactURL(raw))
	}
	return c.applyQuery(q, raw)
}

// applyQuery sets the options named in a URL's query.
func (c *config) applyQuery(q url.Values, raw string) error {
	for name, vals := range q {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "db":
			c.DB, err = strconv.Atoi(v)
		case "dial_timeout":
			c.DialTimeout, err = parseDuration(v)
		case "read_timeout":
			c.ReadTimeout, err = parseDuration(v)
		case "write_timeout":
			c.WriteTimeout, err = parseDuration(v)
		case "pool_timeout":
			c.PoolTimeout, err = parseDuration(v)
		case "idle_timeout":
			c.IdleTimeout, err = parseDuration(v)
		case "health_check_interval":
			c.HealthCheckInterval, err = parseDuration(v)
		case "max_lifetime":
			c.MaxLifetime, err = parseDuration(v)
		case "pool_size":
			c.PoolSize, err = strconv.Atoi(v)
		case "min_idle":
			c.MinIdle, err = strconv.Atoi(v)
		case "max_idle":
			c.MaxIdle, err = strconv.Atoi(v)
		case "protocol":
			c.Protocol, err = strconv.Atoi(v)
		case "client_name":
			c.ClientName = v
		case "master_name":
			c.MasterName = v
		case "sentinel_username":
			c.SentinelUsername = v
		case "sentinel_password":
			c.SentinelPassword = v
		default:
			return fmt.Errorf("redisstore: invalid URL %s: unknown option %q", redactURL(raw), name)
		}
		if err != nil {
			return fmt.Errorf("redisstore: invalid URL %s: option %s: bad value %q", redactURL(raw), name, v)
		}
	}
	return nil
}

// hostList splits the host part of a redis-sentinel:// or redis-cluster://
// URL, "host1:port1,host2:port2", into addresses; each needs its port.
func hostList(hosts string) ([]string, error) {
	if hosts == "" {
		return nil, errors.New("no host")
	}
	var addrs []string
	for _, a := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("bad host:port %q", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port in %q", a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// parseDuration reads a Go duration ("3s", "250ms") or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration")
	}
	return d, nil
}

// redactURL returns raw with its user information and the value of every
// query option whose name ends in "password" replaced, for messages. It
// works on the text, not on what url.Parse makes of it: a password with an
// unescaped '/', '?' or '#' may parse as a port, a path or a query.
func redactURL(raw string) string {
	s := scrubUserinfo(raw)
	var b strings.Builder
	for {
		i := strings.Index(strings.ToLower(s), "password=")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+len("password=")])
		b.WriteString("xxxxx")
		s = s[i+len("password="):]
		if j := strings.IndexAny(s, "&#"); j >= 0 {
			s = s[j:]
		} else {
			s = ""
		}
	}
}

// userinfoOf is the text between "scheme://" and the last "@" of the
// authority, found without trusting url.Parse.
func userinfoOf(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		// A password may hold '/' or '?'; only cut there when no '@' follows.
		if j := strings.LastIndex(rest, "@"); j < i {
			rest = rest[:i]
		}
	}
	j := strings.LastIndex(rest, "@")
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// scrubUserinfo replaces the user information of an unparsable URL.
func scrubUserinfo(raw string) string {
	userinfo := userinfoOf(raw)
	if userinfo == "" {
		return raw
	}
	i := strings.Index(raw, userinfo+"@") // always found: userinfoOf cut it from raw
	return raw[:i] + "xxxxx" + raw[i+len(userinfo):]
}
