// Package redistest is an in-process Redis server for tests: a small RESP2
// and RESP3 server on a loopback port that serves an in-memory key space by
// default and can be scripted, per command, to misbehave the way real
// servers and networks do.
//
// Start a server, point the code under test at Addr, and install rules:
//
//	srv := redistest.Start(t, redistest.Config{})
//	srv.Handle(redistest.Rule{Command: "SET", Reply: redistest.ReplyOOM})
//	srv.Handle(redistest.Rule{Command: "GET", Key: "slow", Delay: time.Second})
//	srv.Handle(redistest.Rule{Command: "HELLO", Reply: redistest.ReplyNOPROTO})
//
// A rule matches by command name and optionally by key (the first argument)
// or a function of the arguments; the first matching rule, in installation
// order, decides what happens: delay the reply, send another reply (an error
// such as NOAUTH, LOADING, READONLY, OOM or MOVED, or raw bytes such as a
// hostile length, deep nesting or garbage), cut the reply short, or drop or
// reset the connection. Commands no rule matches are served normally.
//
// The default commands are those a session store and its clients need:
// HELLO 2 and 3 (with AUTH and SETNAME), AUTH, SELECT, PING, ECHO, GET, SET
// (EX, PX, NX, XX, KEEPTTL, GET), DEL, EXISTS, TTL, PTTL, EXPIRE, DBSIZE,
// FLUSHDB, FLUSHALL, QUIT and CLIENT SETNAME, GETNAME and ID. Anything else
// is an "unknown command" error in Redis's words. With Config.Password set,
// commands other than HELLO, AUTH and QUIT answer NOAUTH until the
// connection authenticates.
//
// The server counts commands by name (Count) and reports its connections
// (Conns, Stats), so tests can assert that something caused no Redis
// command, or that a client closed every connection it gave up on.
//
// Replies go out in order per connection, as with Redis: a delayed reply
// holds back the replies of the commands pipelined after it on the same
// connection.
//
// A Proxy stands between a client and a server, a Server or a real
// redis-server, and simulates the network on a machine without netem: a
// one-way delay in each direction, a silent partition that holds bytes
// without FIN or RST until it heals, and resets of every connection:
//
//	p := redistest.StartProxy(t, srv.Addr())
//	p.SetDelay(2 * time.Millisecond) // a round trip takes 4 ms more
//	p.Partition()                    // commands now hang, no error
//	p.Heal()                         // the held bytes flow
//	p.Reset()                        // both sides see an RST
//
// The package imports the standard library and the module's resp codec
// only.
package redistest
