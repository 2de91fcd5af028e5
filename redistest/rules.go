package redistest

import (
	"strconv"
	"strings"
	"time"
)

// Rule scripts how the server treats the commands it matches. A command
// matches when its name equals Command (any case; empty matches every
// command), its first argument equals Key (empty matches any), and Match, if
// set, returns true. The first matching rule, in the order Handle installed
// them, applies; a command no rule matches is served normally.
//
// What happens, in order: wait Delay; then Reset or Drop the connection
// without a reply, or else send Reply (or, when Reply is empty, the
// command's own reply), only its first Truncate bytes followed by a close
// when Truncate is set; then close the connection when CloseAfter is set.
// The command runs against the key space only when Reply, Drop and Reset are
// all unset.
type Rule struct {
	// Command is the command name the rule applies to; empty: every command.
	Command string
	// Key is the first argument the rule applies to; empty: any.
	Key string
	// Match, when set, must also return true for the command's arguments
	// (args[0] is the name as sent). It runs on the connection's goroutine
	// before the reply, so it may block to hold the reply back, for example
	// until the test has cancelled the client's context; Close waits for a
	// blocked Match, so release it before the server closes. Every
	// connection calls it from its own goroutine: it must be safe for
	// concurrent use. It is not called once Times is used up. Zero: no
	// further condition.
	Match func(args []string) bool
	// Times is how many commands the rule applies to before it stops
	// matching. Zero: no limit.
	Times int

	// Delay holds the reply back this long. The replies of commands
	// pipelined after it on the same connection wait too, as on Redis.
	Delay time.Duration
	// Reply is sent instead of the command's own reply: raw RESP, such as
	// ReplyOOM, Moved(...) or HugeBulk. Zero: the command's own reply.
	Reply string
	// Truncate, when positive, sends only the first Truncate bytes of the
	// reply, then closes the connection.
	Truncate int
	// CloseAfter closes the connection after sending the reply.
	CloseAfter bool
	// Drop closes the connection without replying.
	Drop bool
	// Reset closes the connection without replying, with SO_LINGER 0 so the
	// client sees a TCP reset (ECONNRESET) rather than an orderly EOF.
	Reset bool
}

// Canned replies for Rule.Reply, in the words real Redis servers use.
const (
	// ReplyNOAUTH is what a password-protected server answers before AUTH.
	ReplyNOAUTH = "-NOAUTH Authentication required.\r\n"
	// ReplyWRONGPASS is the answer to AUTH or HELLO with bad credentials.
	ReplyWRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	// ReplyLOADING is what a server loading its data set answers.
	ReplyLOADING = "-LOADING Redis is loading the dataset in memory\r\n"
	// ReplyREADONLY is what a replica answers to a write.
	ReplyREADONLY = "-READONLY You can't write against a read only replica.\r\n"
	// ReplyOOM is what a server at maxmemory with noeviction answers to a
	// write.
	ReplyOOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
	// ReplyNOPROTO is a server's answer to HELLO with a protocol version it
	// does not speak.
	ReplyNOPROTO = "-NOPROTO unsupported protocol version\r\n"
	// ReplyUnknownHELLO is how a server older than Redis 6 answers HELLO.
	ReplyUnknownHELLO = "-ERR unknown command 'HELLO'\r\n"
	// HugeBulk declares a bulk string of 2 GiB - 1 and sends none of it.
	HugeBulk = "$2147483647\r\n"
	// HugeArray declares an array of 4294967295 elements and sends none.
	HugeArray = "*4294967295\r\n"
	// Garbage is not RESP: a NUL and bytes no reply starts with.
	Garbage = "\x00\xff\xfe garbage \x01\r\n"
)

// ErrorReply returns a RESP error reply with msg, such as
// ErrorReply("BUSY Redis is busy running a script").
func ErrorReply(msg string) string {
	return "-" + strings.NewReplacer("\r", " ", "\n", " ").Replace(msg) + "\r\n"
}

// Moved returns the MOVED redirection a Redis Cluster node answers for a key
// of slot that addr serves.
func Moved(slot int, addr string) string {
	return ErrorReply("MOVED " + strconv.Itoa(slot) + " " + addr)
}

// Nested returns depth arrays nested one in another around an integer, a
// reply whose decoding recurses depth levels.
func Nested(depth int) string {
	var b strings.Builder
	b.Grow(4*depth + 4)
	for range depth {
		b.WriteString("*1\r\n")
	}
	b.WriteString(":1\r\n")
	return b.String()
}

// Handle installs r after the rules already installed.
func (s *Server) Handle(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &r)
}

// ClearRules removes every rule: every command is served normally again.
func (s *Server) ClearRules() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
	clear(s.fired)
}

// usedUp reports whether r has applied Times times.
func (s *Server) usedUp(r *Rule) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired[r] >= r.Times
}

// match counts a command and returns the rule that applies to it, or nil.
func (s *Server) match(c *serverConn, name string, args []string) *Rule {
	s.mu.Lock()
	s.counts[name]++
	s.commands++
	c.commands++
	rules := s.rules // never changed in place: Handle appends, ClearRules replaces
	s.mu.Unlock()
	for _, r := range rules {
		if r.Command != "" && !strings.EqualFold(r.Command, name) {
			continue
		}
		if r.Key != "" && (len(args) < 2 || args[1] != r.Key) {
			continue
		}
		if r.Times > 0 && s.usedUp(r) {
			continue // Match is not asked once Times is used up
		}
		if r.Match != nil && !r.Match(args) {
			continue
		}
		if r.Times > 0 {
			s.mu.Lock()
			n := s.fired[r]
			if n >= r.Times {
				s.mu.Unlock()
				continue
			}
			s.fired[r] = n + 1
			s.mu.Unlock()
		}
		return r
	}
	return nil
}
