//go:build !redisstore_nocache

package client

import (
	"errors"

	"github.com/sessionx-redis/redisstore/resp"
)

// trackingCmd turns tracking on for a connection.
var trackingCmd = []string{"CLIENT", "TRACKING", "ON", "NOLOOP"}

// errNoRESP3 is why a connection on RESP2 is not tracked.
var errNoRESP3 = errors.New("the server speaks RESP2 only (no HELLO), which cannot push invalidations on the connection that read")

// track turns tracking on for c, after its handshake; a refusal leaves c
// untracked with the reason in c.untracked. The error returned means c
// is broken.
func (c *conn) track(resp3 bool) error {
	if !resp3 {
		c.untracked = errNoRESP3
		return nil
	}
	c.wbuf = resp.AppendCommand(c.wbuf[:0], trackingCmd...)
	err := c.roundTripOK()
	switch {
	case err == nil:
		c.tracking = true
	case resp.Usable(err):
		c.untracked = err
		err = nil
	}
	return err
}

// push handles a RESP3 push read on the pipe: tracking's go to the
// Tracker, the others to OnPush.
func (p *pipe) push(v resp.Value) {
	if t := p.node.cfg.Tracker; t != nil && len(v.Elems) > 0 {
		if kind := v.Elems[0].Type; kind != resp.TypeBulkString && kind != resp.TypeSimpleString {
			t.Forget(p.src) // no push Redis sends: trust nothing
			return
		}
		switch v.Elems[0].Str {
		case "invalidate":
			if len(v.Elems) == 2 && v.Elems[1].Type == resp.TypeArray && !v.Elems[1].Null {
				for _, k := range v.Elems[1].Elems {
					if k.Type != resp.TypeBulkString && k.Type != resp.TypeSimpleString {
						t.Forget(p.src) // not a key: trust nothing
						return
					}
					t.Invalidate(p.src, k.Str)
				}
			} else {
				t.Forget(p.src) // FLUSHDB, FLUSHALL, or a shape we do not know
			}
			return
		case "tracking-redir-broken":
			t.Forget(p.src)
			return
		}
	}
	p.onPush(v)
}

// forget tells the Tracker that nothing read through the node's
// connections can be trusted (a MOVED reply from it).
func (n *node) forget() {
	t := n.cfg.Tracker
	if t == nil {
		return
	}
	for i := range n.slots {
		if p := n.slots[i].cur.Load(); p != nil {
			t.Forget(p.src)
		}
	}
}

// pick returns the number of the shared pipe for b: the next in turn, or
// with a Tracker one fixed by b's key, so that the reads and writes of a
// key go through one connection, in order, and what a write leaves cached
// is not dropped by an invalidation another connection reads late.
func (n *node) pick(b *Batch) uint32 {
	if n.cfg.Tracker == nil || !b.keyed {
		return n.next.Add(1)
	}
	return KeyHash(b.prefix, b.id)
}

// warnUntracked tells Logger, once per node, that c was to be tracked and
// is not.
func (n *node) warnUntracked(c *conn) {
	if c.untracked != nil && !n.warnedUntracked.Swap(true) {
		n.log.Warn("redisstore: the client-side cache is off for this server: every Load reads from Redis", "addr", n.addr, "reason", c.untracked)
	}
}
