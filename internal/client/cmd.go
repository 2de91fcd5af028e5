package client

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// MaxCmds is the most commands one Batch holds.
const MaxCmds = 8

// An Arg is one argument of a command. Make it with Str, Bytes, Int or Key;
// it only lives until Add returns, so making one allocates nothing.
type Arg struct {
	s, s2 string // Str: s; Key: s + s2
	b     []byte
	n     int64
	kind  argKind
}

type argKind uint8

const (
	argStr argKind = iota
	argBytes
	argInt
	argKey
)

// Str is a string argument.
func Str(s string) Arg { return Arg{s: s} }

// Bytes is a binary argument.
func Bytes(b []byte) Arg { return Arg{b: b, kind: argBytes} }

// Int is an integer argument, written in decimal.
func Int(n int64) Arg { return Arg{n: n, kind: argInt} }

// Key is the key prefix+id, written without building the string. The first
// Key of a Batch routes it: on a Redis Cluster the batch goes to the master
// of that key's slot, so every key of a batch must share one slot.
func Key(prefix, id string) Arg { return Arg{s: prefix, s2: id, kind: argKey} }

// appendArg writes a as a bulk string.
func appendArg(dst []byte, a Arg) []byte {
	switch a.kind {
	case argBytes:
		return resp.AppendBulk(dst, a.b)
	case argInt:
		return resp.AppendBulkInt(dst, a.n)
	case argKey:
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a.s)+len(a.s2)), 10)
		dst = append(dst, "\r\n"...)
		dst = append(dst, a.s...)
		dst = append(dst, a.s2...)
		return append(dst, "\r\n"...)
	}
	return resp.AppendBulkString(dst, a.s)
}

// ReplyKind says how a command's reply is read into its Reply.
type ReplyKind uint8

const (
	// ReplyOK expects the simple string OK.
	ReplyOK ReplyKind = iota
	// ReplyInt reads an integer into Reply.Int.
	ReplyInt
	// ReplyBulk reads a bulk string, or null, into Reply.Bulk (appended to
	// the buffer the caller left there, so a reused one is not reallocated).
	ReplyBulk
	// ReplyBulks reads an array of bulk strings (or null) into Reply.Bulks;
	// it allocates.
	ReplyBulks
	// ReplyAny reads a reply of any type into Reply.Value; it allocates.
	ReplyAny
)

// Reply is the reply to one command of a Batch, read as its ReplyKind says.
type Reply struct {
	// Err is the server's error reply to this command (a resp.Error), or a
	// *resp.UnexpectedError for a reply of another type than asked; either
	// way the connection stays usable and the batch's other replies are
	// read.
	Err error
	// Null reports a null reply (ReplyBulk, ReplyBulks, ReplyAny).
	Null bool
	// Int is a ReplyInt reply.
	Int int64
	// Bulk is a ReplyBulk reply.
	Bulk []byte
	// Bulks is a ReplyBulks reply; a null element is nil.
	Bulks [][]byte
	// Value is a ReplyAny reply.
	Value *resp.Value
}

// A Batch is a few commands of one caller, sent together in one write and
// answered in order. The zero value is an empty batch; Add and AddScript
// append commands, Client.Do sends them and fills Replies. Afterwards the
// batch keeps only its Replies and Idempotent: commands added then start a
// new batch. A Batch is not safe for concurrent use, nor to be copied.
//
// The connection is shared with other callers, so commands that change its
// state (SUBSCRIBE and the like, MONITOR, SELECT, WATCH, CLIENT, HELLO,
// AUTH, RESET, QUIT) are refused; pushes that arrive on it go to
// Config.OnPush.
//
// The commands that got a reply saying they did not run (MOVED, ASK,
// NOSCRIPT, READONLY, LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN) are
// sent again, and only those: a command that ran is never run twice. When
// the connection fails after the batch was written, nothing says what ran:
// the batch is sent again only when Idempotent is set.
type Batch struct {
	// Idempotent allows sending the batch again after its connection
	// failed once the batch was written (a pooled connection the server
	// had closed, a master that died): it may have run, and running it
	// twice must be harmless.
	Idempotent bool
	// Replies holds the reply of each command after Do, in order.
	Replies [MaxCmds]Reply
	// Hook, when set, sees the replies on the connection that read them,
	// in order with the invalidations it reads (see ReplyHook).
	Hook ReplyHook

	buf     []byte  // the commands in RESP, in *bp
	bp      *[]byte // from bufPool; back after Do
	cmds    [MaxCmds]cmdInfo
	n       int
	done    uint8 // bit i: command i got its final reply; not sent again
	keyed   bool
	prefix  string    // the routing key, prefix+id; its slot is computed
	id      string    // only on a Cluster
	scripts bool      // a command is a script's EVALSHA
	refused string    // a command that would change the shared connection's state
	start   time.Time // when Do began; CallBound counts from it
	_       noCopy
}

// noCopy makes go vet's copylocks check report a copied Batch: two copies
// would give one pooled buffer back twice.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// cmdInfo is what a Batch knows of one of its commands.
type cmdInfo struct {
	name       string // the command's name, for error messages
	start, end int    // its bytes in Batch.buf
	kind       ReplyKind
	script     *Script // non-nil for EVALSHA
	shaAt      int     // where the sha's bulk string starts in buf
}

// bufPool holds the buffers batches encode their commands into.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Add appends a command whose reply is read as kind. It panics beyond
// MaxCmds commands: batches are built by code, not by input.
func (b *Batch) Add(kind ReplyKind, name string, args ...Arg) {
	if changesConnState(name) {
		b.refused = name
	}
	at := b.begin(kind, name)
	b.buf = resp.AppendArray(b.buf, 1+len(args))
	b.buf = resp.AppendBulkString(b.buf, name)
	b.appendArgs(args)
	b.cmds[at].end = len(b.buf)
}

// AddScript appends EVALSHA of s with the first nkeys args as its keys.
// When the server does not know the script (NOSCRIPT: a restart, a
// failover, a new cluster node), Do sends the batch again with EVAL and
// the script's source, which also loads it for later calls.
func (b *Batch) AddScript(kind ReplyKind, s *Script, nkeys int, args ...Arg) {
	at := b.begin(kind, "EVALSHA")
	b.buf = resp.AppendArray(b.buf, 3+len(args))
	b.cmds[at].script, b.cmds[at].shaAt = s, len(b.buf)
	b.scripts = true
	b.buf = resp.AppendBulkString(b.buf, "EVALSHA")
	b.buf = resp.AppendBulkString(b.buf, s.sha)
	b.buf = resp.AppendBulkInt(b.buf, int64(nkeys))
	b.appendArgs(args)
	b.cmds[at].end = len(b.buf)
}

// changesConnState reports whether the command changes the state of the
// connection it runs on, which other callers share.
func changesConnState(name string) bool {
	switch name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
		"MONITOR", "SELECT", "WATCH", "UNWATCH", "CLIENT", "HELLO", "AUTH", "RESET", "QUIT":
		return true // CLIENT: REPLY OFF, say; CLIENT TRACKING is the client's own business
	}
	return false
}

func (b *Batch) begin(kind ReplyKind, name string) int {
	if b.n == MaxCmds {
		panic("client: more than MaxCmds commands in a batch")
	}
	if b.bp == nil {
		b.bp = bufPool.Get().(*[]byte)
		b.buf = (*b.bp)[:0]
	}
	at := b.n
	b.n++
	b.cmds[at] = cmdInfo{name: name, start: len(b.buf), kind: kind}
	return at
}

func (b *Batch) appendArgs(args []Arg) {
	for _, a := range args {
		if a.kind == argKey && !b.keyed {
			b.keyed, b.prefix, b.id = true, a.s, a.s2
		}
		b.buf = appendArg(b.buf, a)
	}
}

// Len returns the number of commands in the batch.
func (b *Batch) Len() int { return b.n }

// Reset empties the batch for reuse, keeping nothing of its replies.
func (b *Batch) Reset() {
	b.release()
	*b = Batch{}
}

// maxPooledBatch is the largest encoding buffer a Batch gives back for
// reuse; a pipe shares, rather than copies, a batch bigger than that.
const maxPooledBatch = 64 << 10

// release gives the encoding buffer back (a huge one is dropped) and
// forgets the commands.
func (b *Batch) release() {
	if b.bp != nil && cap(b.buf) <= maxPooledBatch {
		*b.bp = b.buf[:0]
		bufPool.Put(b.bp)
	}
	b.buf, b.bp, b.Hook = nil, nil, nil
	b.n, b.done, b.keyed, b.prefix, b.id, b.scripts, b.refused = 0, 0, false, "", "", false, ""
}

// settle marks as done every command not to send again: those whose
// reply says they ran, or failed in a way another try would not change.
func (b *Batch) settle() {
	for i := range b.n {
		if b.done&(1<<i) == 0 && !didNotRun(b.Replies[i].Err) {
			b.done |= 1 << i
		}
	}
}

// useEval rewrites every EVALSHA of the batch as EVAL with the script's
// source, after a NOSCRIPT reply. It reports whether there was any.
func (b *Batch) useEval() bool {
	if !b.scripts {
		return false
	}
	old := b.buf
	buf := make([]byte, 0, len(old)+1024) // rare: not worth pooling
	last := 0
	for i := range b.n {
		c := &b.cmds[i] // its bytes start at last: commands are contiguous
		start := len(buf)
		if s := c.script; s != nil {
			buf = append(buf, old[last:c.shaAt]...)
			buf = resp.AppendBulkString(buf, "EVAL")
			buf = resp.AppendBulkString(buf, s.src)
			last = c.shaAt + len("$7\r\nEVALSHA\r\n$40\r\n") + 40 + 2
			c.script, c.name = nil, "EVAL"
		}
		buf = append(buf, old[last:c.end]...)
		last = c.end
		c.start, c.end = start, len(buf)
	}
	n, done, keyed, prefix, id, hook := b.n, b.done, b.keyed, b.prefix, b.id, b.Hook
	b.release()
	b.buf, b.n, b.done, b.keyed, b.prefix, b.id, b.Hook = buf, n, done, keyed, prefix, id, hook
	return true
}

// names returns the batch's command names for an error message.
func (b *Batch) names() string {
	if b.n == 1 {
		return b.cmds[0].name
	}
	names := make([]string, b.n)
	for i := range b.n {
		names[i] = b.cmds[i].name
	}
	return strings.Join(names, "+")
}

// firstErr returns the first command error of the batch, of the commands
// sent last and those that ran before.
func (b *Batch) firstErr() error {
	for i := range b.n {
		if err := b.Replies[i].Err; err != nil {
			return err
		}
	}
	return nil
}

// readReply reads the reply of a command of kind into r. A server error
// reply or an unexpected type goes to r.Err; the error returned means the
// stream is broken.
func readReply(rd *resp.Reader, kind ReplyKind, r *Reply) error {
	var err error
	switch kind {
	case ReplyOK:
		err = rd.ReadOK()
	case ReplyInt:
		r.Int, err = rd.ReadInt()
	case ReplyBulk:
		r.Bulk, r.Null, err = rd.ReadBulk(r.Bulk[:0])
	case ReplyBulks:
		var v resp.Value
		v, err = rd.ReadValue()
		if err == nil {
			r.Bulks, r.Null, err = bulks(v)
		}
	case ReplyAny:
		var v resp.Value
		if v, err = rd.ReadValue(); err == nil {
			r.Value, r.Null = &v, v.Null
		}
	}
	if resp.Usable(err) {
		r.Err = err
		return nil
	}
	return err
}

// bulks converts an array of bulk strings.
func bulks(v resp.Value) ([][]byte, bool, error) {
	if v.Null {
		return nil, true, nil
	}
	if v.Type != resp.TypeArray && v.Type != resp.TypeSet {
		return nil, false, &resp.UnexpectedError{Got: v.Type, Want: "array of bulk strings"}
	}
	out := make([][]byte, len(v.Elems))
	for i, e := range v.Elems {
		switch {
		case e.Null:
		case e.Type == resp.TypeBulkString || e.Type == resp.TypeSimpleString || e.Type == resp.TypeVerbatim:
			out[i] = []byte(e.Str)
		default:
			return nil, false, &resp.UnexpectedError{Got: e.Type, Want: "bulk string"}
		}
	}
	return out, false, nil
}

// contextError returns the context's error when err is the context's doing:
// the context ended, or a timeout struck at the context's deadline (the
// socket deadline can fire a moment before the context's timer).
func contextError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// copyTo copies r into dst, the caller's Reply, appending a bulk reply to
// the buffer dst.Bulk holds.
func (r *Reply) copyTo(dst *Reply) {
	bulk := append(dst.Bulk[:0], r.Bulk...)
	*dst = *r
	dst.Bulk = bulk
}

// reset empties r for the next call, keeping its bulk buffer unless it grew
// huge.
func (r *Reply) reset() {
	bulk := r.Bulk[:0]
	if cap(bulk) > 1<<20 {
		bulk = nil // do not pin a huge reply
	}
	*r = Reply{Bulk: bulk}
}
