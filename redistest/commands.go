package redistest

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// entry is one key's value and expiry (zero: none).
type entry struct {
	value   string
	expires time.Time
}

func (e entry) live(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

const (
	replyOK   = "+OK\r\n"
	replyPong = "+PONG\r\n"
)

// Put stores value under key in database 0, expiring after ttl (zero:
// never), as SET would.
func (s *Server) Put(key, value string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := entry{value: value}
	if ttl > 0 {
		e.expires = time.Now().Add(ttl)
	}
	s.dbLocked(0)[key] = e
}

// Lookup returns the value under key in database 0, as GET would.
func (s *Server) Lookup(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.dbs[0][key]
	if !ok || !e.live(time.Now()) {
		return "", false
	}
	return e.value, true
}

// Keys returns the live keys of database 0, sorted.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var keys []string
	for k, e := range s.dbs[0] {
		if e.live(now) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// FlushAll empties every database.
func (s *Server) FlushAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.dbs)
}

func (s *Server) dbLocked(n int) map[string]entry {
	db := s.dbs[n]
	if db == nil {
		db = make(map[string]entry)
		s.dbs[n] = db
	}
	return db
}

// exec runs a command against the key space and returns its reply; quit
// asks to close the connection after it.
func (c *serverConn) exec(name string, args []string) (reply string, quit bool) {
	s := c.srv
	switch name {
	case "QUIT":
		return replyOK, true
	case "HELLO":
		return c.hello(args), false
	case "AUTH":
		return c.auth(args[1:]), false
	}
	if !c.authed {
		return ReplyNOAUTH, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.dbLocked(c.db)
	now := time.Now()
	get := func(key string) (entry, bool) {
		e, ok := db[key]
		if ok && !e.live(now) {
			delete(db, key)
			return entry{}, false
		}
		return e, ok
	}
	switch {
	case name == "PING" && len(args) <= 2:
		if len(args) == 2 {
			return bulk(args[1]), false
		}
		return replyPong, false
	case name == "ECHO" && len(args) == 2:
		return bulk(args[1]), false
	case name == "SELECT" && len(args) == 2:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 || n > 15 {
			return ErrorReply("ERR DB index is out of range"), false
		}
		c.db = n
		return replyOK, false
	case name == "GET" && len(args) == 2:
		e, ok := get(args[1])
		if !ok {
			return c.null(), false
		}
		return bulk(e.value), false
	case name == "SET" && len(args) >= 3:
		return c.set(db, get, now, args), false
	case (name == "DEL" || name == "EXISTS") && len(args) >= 2:
		n := 0
		for _, k := range args[1:] {
			if _, ok := get(k); ok {
				n++
				if name == "DEL" {
					delete(db, k)
				}
			}
		}
		return integer(n), false
	case (name == "TTL" || name == "PTTL") && len(args) == 2:
		e, ok := get(args[1])
		switch {
		case !ok:
			return integer(-2), false
		case e.expires.IsZero():
			return integer(-1), false
		case name == "TTL":
			return integer(int((e.expires.Sub(now) + time.Second/2) / time.Second)), false
		}
		return integer(int(e.expires.Sub(now) / time.Millisecond)), false
	case name == "EXPIRE" && len(args) == 3:
		secs, err := strconv.Atoi(args[2])
		if err != nil {
			return ErrorReply("ERR value is not an integer or out of range"), false
		}
		e, ok := get(args[1])
		if !ok {
			return integer(0), false
		}
		e.expires = now.Add(time.Duration(secs) * time.Second)
		db[args[1]] = e
		return integer(1), false
	case name == "DBSIZE" && len(args) == 1:
		n := 0
		for _, e := range db {
			if e.live(now) {
				n++
			}
		}
		return integer(n), false
	case name == "FLUSHDB":
		clear(db)
		return replyOK, false
	case name == "FLUSHALL":
		clear(s.dbs)
		return replyOK, false
	case name == "CLIENT" && len(args) >= 2:
		switch sub := strings.ToUpper(args[1]); {
		case sub == "SETNAME" && len(args) == 3:
			c.name = args[2]
			return replyOK, false
		case sub == "GETNAME" && len(args) == 2:
			if c.name == "" {
				return c.null(), false
			}
			return bulk(c.name), false
		case sub == "ID" && len(args) == 2:
			return integer(int(c.id)), false
		}
		return ErrorReply("ERR unknown subcommand '" + args[1] + "'"), false
	case name == "PING", name == "ECHO", name == "SELECT", name == "GET", name == "SET",
		name == "DEL", name == "EXISTS", name == "TTL", name == "PTTL", name == "EXPIRE",
		name == "DBSIZE", name == "CLIENT":
		return ErrorReply("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command"), false
	}
	return unknown(args), false
}

// set runs SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL].
func (c *serverConn) set(db map[string]entry, get func(string) (entry, bool), now time.Time, args []string) string {
	key, value := args[1], args[2]
	var nx, xx, keepTTL, getOld bool
	var ttl time.Duration
	for i := 3; i < len(args); i++ {
		switch opt := strings.ToUpper(args[i]); opt {
		case "NX":
			nx = true
		case "XX":
			xx = true
		case "KEEPTTL":
			keepTTL = true
		case "GET":
			getOld = true
		case "EX", "PX":
			if i+1 == len(args) {
				return ErrorReply("ERR syntax error")
			}
			i++
			n, err := strconv.ParseInt(args[i], 10, 64)
			if err != nil || n <= 0 {
				return ErrorReply("ERR invalid expire time in 'set' command")
			}
			unit := time.Second
			if opt == "PX" {
				unit = time.Millisecond
			}
			ttl = time.Duration(n) * unit
		default:
			return ErrorReply("ERR syntax error")
		}
	}
	if nx && xx {
		return ErrorReply("ERR syntax error")
	}
	old, exists := get(key)
	oldReply := c.null()
	if getOld && exists {
		oldReply = bulk(old.value)
	}
	if (nx && exists) || (xx && !exists) {
		if getOld {
			return oldReply
		}
		return c.null()
	}
	e := entry{value: value}
	switch {
	case ttl > 0:
		e.expires = now.Add(ttl)
	case keepTTL && exists:
		e.expires = old.expires
	}
	db[key] = e
	if getOld {
		return oldReply
	}
	return replyOK
}

// hello runs HELLO [protover [AUTH user pass] [SETNAME name]].
func (c *serverConn) hello(args []string) string {
	proto := c.proto
	if len(args) > 1 {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return ErrorReply("ERR Protocol version is not an integer or out of range")
		}
		if n != 2 && n != 3 {
			return ReplyNOPROTO
		}
		proto = n
	}
	name, setName := "", false
	for i := 2; i < len(args); i++ {
		switch opt := strings.ToUpper(args[i]); {
		case opt == "AUTH" && i+2 < len(args):
			if r := c.auth(args[i+1 : i+3]); r != replyOK {
				return r
			}
			i += 2
		case opt == "SETNAME" && i+1 < len(args):
			name, setName = args[i+1], true
			i++
		default:
			return ErrorReply("ERR Syntax error in HELLO option '" + args[i] + "'")
		}
	}
	if !c.authed {
		return ErrorReply("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	c.srv.mu.Lock()
	c.proto = proto
	if setName {
		c.name = name
	}
	id := c.id
	c.srv.mu.Unlock()
	str := func(s string) resp.Value { return resp.Value{Type: resp.TypeBulkString, Str: s} }
	num := func(n int64) resp.Value { return resp.Value{Type: resp.TypeInteger, Int: n} }
	fields := []resp.Value{
		str("server"), str("redis"),
		str("version"), str("7.2.0"),
		str("proto"), num(int64(proto)),
		str("id"), num(id),
		str("mode"), str("standalone"),
		str("role"), str("master"),
		str("modules"), {Type: resp.TypeArray},
	}
	v := resp.Value{Type: resp.TypeMap, Elems: fields}
	if proto == 2 {
		v.Type = resp.TypeArray
	}
	return string(resp.AppendValue(nil, v))
}

// auth checks AUTH [user] password and marks the connection authenticated.
func (c *serverConn) auth(args []string) string {
	cfg := c.srv.cfg
	var user, pass string
	switch len(args) {
	case 1:
		user, pass = "default", args[0]
	case 2:
		user, pass = args[0], args[1]
	default:
		return ErrorReply("ERR wrong number of arguments for 'auth' command")
	}
	if cfg.Password == "" {
		if user == "default" && len(args) == 1 {
			return ErrorReply("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		}
		if user == "default" {
			c.authed = true
			return replyOK
		}
		return ReplyWRONGPASS
	}
	if pass != cfg.Password || (user != "default" && user != cfg.Username) {
		return ReplyWRONGPASS
	}
	c.authed = true
	return replyOK
}

// null is the null reply of the connection's protocol.
func (c *serverConn) null() string {
	if c.proto == 3 {
		return "_\r\n"
	}
	return "$-1\r\n"
}

func bulk(s string) string { return string(resp.AppendBulkString(nil, s)) }

func integer(n int) string { return ":" + strconv.Itoa(n) + "\r\n" }

// unknown is Redis's answer to a command it does not have, which quotes the
// first arguments as Redis does.
func unknown(args []string) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '" + args[0] + "', with args beginning with: ")
	for _, a := range args[1:min(len(args), 4)] {
		b.WriteString("'" + a + "' ")
	}
	return ErrorReply(b.String())
}
