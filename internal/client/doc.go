// Package client is the store's Redis client: it dials (TCP, TLS or a unix
// socket), negotiates the protocol, pipelines the commands of many callers
// over a few connections, and routes them to a single server, the master of
// a Sentinel group, or the owner of a key's slot in a Redis Cluster. It
// knows Redis, not sessions: it imports resp (the wire format) and pool
// (connection lifetimes), never the store nor package session. It owns its
// configuration (Config), its errors (ErrClosed, ErrPoolTimeout,
// ErrTooManyRedirects) and its statistics (Stats), which the store
// re-exports.
//
// # Commands
//
// A caller describes what to send as a Batch: one command or a few
// (ZADD then SET, GET then PTTL), each appended with Add from arguments made
// by Str, Bytes, Int and Key, or with AddScript for a Script. Add encodes
// the command in RESP at once into a pooled buffer, so the arguments need
// not outlive the call and a batch on the caller's stack allocates nothing.
// The first Key of a batch routes it (its Cluster slot, computed without
// building the key). Client.Do sends the whole batch in one write and reads
// one reply per command into Batch.Replies, each as its ReplyKind says: OK,
// integer, bulk string or null, array of bulk strings, or any value. A
// server error reply to one command is that command's Reply.Err; the others
// are still read, and Do returns the first such error. The pipe has no case
// per command: it copies the batch's bytes and reads replies by kind.
// Connections are shared, so commands that change a connection's state
// (SUBSCRIBE, MONITOR, SELECT, WATCH, CLIENT, ...) are refused; RESP3
// pushes that arrive on a connection, with or without a command in flight,
// go to Config.OnPush and never break it.
//
// Scripts run with EVALSHA of a SHA1 computed once (NewScript). A server
// that lacks the script (first use, SCRIPT FLUSH, a restart, a failover, a
// Cluster node that never saw it) answers NOSCRIPT; Do then sends the
// script again with EVAL and the source, which also caches it there, on
// whichever node answered.
//
// # Pipelining
//
// The callers of a node share min(PoolSize, GOMAXPROCS) connections
// (pipes). A caller appends its batch to the pipe's write buffer; the one
// that finds no write under way writes it, once, and whatever others
// append meanwhile is written by the pipe's writer goroutine (started at
// the first such hand-over), so batches that arrive together leave in one
// system call and no caller writes another's bytes. Callers take their
// turn to append through a one-slot channel before the pipe's lock, so a
// caller waiting its turn among many gives up when its context ends. A batch over bigBatch
// (64 KiB) is not copied into the shared buffer: its own buffer becomes a
// segment of the next write, written by the writer goroutine. One
// goroutine per pipe reads the replies in order and hands each batch its
// replies. A caller whose context ends returns at once; its replies are
// still read and dropped, so the stream never goes out of sync. Before each
// reply is read the read deadline is set to that batch's due time (queued +
// ReadTimeout), so a slow reply is never cut by an earlier batch's
// deadline. A reply overdue by ReadTimeout, a write blocked for
// WriteTimeout, or a protocol error closes the pipe and fails the batches
// in flight on it. A pipe idle for HealthCheckInterval sends PING, which
// finds a connection that died silently ReadTimeout later.
//
// # Deadlines
//
// Every wait is bounded by the caller's context and, when the context has
// no deadline, by Config.CallBound (DialTimeout + ReadTimeout) from the
// start of Do: the first attempt takes at most DialTimeout to get a
// connection and ReadTimeout for its reply, and retries (redials, Sentinel
// rediscoveries, Cluster refreshes included) end ReadTimeout after the
// first failure and within the bound. A server whose dials or handshakes
// fail is redialed at a paced rate (dialBackoff): calls meanwhile fail at
// once with the last failure. Close cancels dials and rediscoveries under
// way and waits only for the replies in flight (within ReadTimeout).
//
// # Failures
//
// Do never runs a command twice unless the batch says it may. The commands
// a server answered with a reply saying they did not run are sent again,
// and only those: after MOVED (the slot map is updated) or ASK (each after
// ASKING), after NOSCRIPT, after transient errors (LOADING, BUSY, TRYAGAIN,
// CLUSTERDOWN, MASTERDOWN) and READONLY (Sentinel rediscovers the master),
// with backoff until the context's deadline, or ReadTimeout when it has
// none. A batch that never reached a connection (a refused dial, a dead
// master) is sent when one is found. A batch whose connection failed after
// it was written may have run: it is sent again only when Idempotent.
//
// # Tracking
//
// With Config.Tracker, every connection turns CLIENT TRACKING on (default
// mode, NOLOOP), the batches of a key all go through the shared pipe its
// hash picks (a batch over bigBatch still takes the bulk pipe), and each
// pipe tells the Tracker, from its reader goroutine and in
// the order the server sent them, of invalidations and of its own end; a
// Batch's ReplyHook sees its replies in that same order. A MOVED reply
// makes the Tracker forget what its node served. See track.go.
//
// # Build tags
//
// redisstore_nosentinel and redisstore_nocluster leave Sentinel or Cluster
// routing out of a program (about 35 KB each); New then refuses a Config
// that asks for it, with an error naming the tag. redisstore_nocache
// leaves tracking out: no connection is tracked, whatever the Tracker.
package client
