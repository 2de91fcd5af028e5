package redisstore

import (
	"bufio"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	fault "github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// blockedInWrite reports whether some goroutine is blocked writing a pipe's
// buffer to its socket.
func blockedInWrite() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "writeLocked") && strings.Contains(g, "IO wait") {
			return true
		}
	}
	return false
}

// A command appended while another caller's write is blocked, then Close:
// the command still goes out and its call succeeds (calls in flight finish).
func TestCloseWritesCommandsAppendedDuringAWrite(t *testing.T) {
	srv, s := faultStore(t, Options{PoolSize: 1, ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second})
	putSession(srv, "x")
	srv.Handle(fault.Rule{Command: "GET", Key: DefaultPrefix + "gate", Delay: 2 * time.Second})
	go s.Load("gate") // the server reads nothing more for 2 s
	time.Sleep(50 * time.Millisecond)
	big := &session.Session{ID: "big", Data: map[string]interface{}{"blob": strings.Repeat("x", 32<<20)}}
	go s.Save(big) // fills the socket buffers: its caller blocks in Write
	if !waitFor(5*time.Second, blockedInWrite) {
		t.Fatal("the Save never blocked in Write")
	}
	errc := make(chan error, 1)
	go func() { _, err := s.Load("x"); errc <- err }() // appended behind the big write
	time.Sleep(50 * time.Millisecond)
	s.Close()
	if err := <-errc; err != nil {
		t.Fatalf("a call in flight at Close failed: %v", err)
	}
	if n := srv.Count("GET"); n != 2 {
		t.Fatalf("the server received %d GETs, want 2 (gate and x)", n)
	}
}

// During Close, a read deadline left from an earlier call does not fail a
// call in flight whose reply comes well within ReadTimeout.
func TestCloseKeepsCallsInFlightPastAStaleDeadline(t *testing.T) {
	srv, s := faultStore(t, Options{PoolSize: 1, ReadTimeout: 1500 * time.Millisecond, IdleTimeout: -1})
	putSession(srv, "slow")
	putSession(srv, "a")
	if _, err := s.Load("a"); err != nil { // the deadline stays at about now + 1.5 s
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	srv.Handle(fault.Rule{Command: "GET", Key: DefaultPrefix + "slow", Delay: 600 * time.Millisecond})
	errc := make(chan error, 1)
	go func() { _, err := s.Load("slow"); errc <- err }() // due in 1.5 s, answered in 0.6 s
	time.Sleep(100 * time.Millisecond)
	s.Close()
	if err := <-errc; err != nil {
		t.Fatalf("a call in flight at Close: %v (its reply came within ReadTimeout)", err)
	}
}

// A read deadline left from an earlier call does not strike in the middle
// of a reply that completes within the current call's ReadTimeout.
func TestStaleDeadlineDoesNotStrikeMidReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // a server that sends GET slow's reply in two parts
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				rd := resp.NewReader(bufio.NewReader(nc), resp.Limits{})
				for {
					v, err := rd.ReadValue()
					if err != nil || len(v.Elems) == 0 {
						return
					}
					switch strings.ToUpper(v.Elems[0].Str) {
					case "HELLO":
						nc.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
					case "PING":
						nc.Write([]byte("+PONG\r\n"))
					case "GET":
						if strings.HasSuffix(v.Elems[1].Str, "slow") {
							nc.Write([]byte("$2\r\n{"))
							time.Sleep(600 * time.Millisecond)
							nc.Write([]byte("}\r\n"))
						} else {
							nc.Write([]byte("$-1\r\n"))
						}
					default:
						nc.Write([]byte("-ERR unexpected\r\n"))
					}
				}
			}()
		}
	}()
	s := openStore(t, Options{Addr: ln.Addr().String(), PoolSize: 1, ReadTimeout: 2 * time.Second, IdleTimeout: -1})
	s.Load("a") // answered at once: the deadline stays at about now + 2 s
	time.Sleep(1700 * time.Millisecond)
	start := time.Now()
	if _, err := s.Load("slow"); err != nil { // due in 2 s, complete in 0.6 s
		t.Fatalf("Load after %v: %v", time.Since(start), err)
	}
}

// A caller that tries again after Close started (in a retry's backoff, say)
// dials no connection that would outlive Close.
func TestCloseDuringARetryLeavesNoConnection(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // two pipe slots
	srv := fault.Start(t, fault.Config{})
	putSession(srv, "slow")
	base := takeBaseline()
	s, err := NewRedisStore(Options{Addr: srv.Addr(), PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv.Handle(fault.Rule{Command: "GET", Key: DefaultPrefix + "slow", Delay: 400 * time.Millisecond})
	srv.Handle(fault.Rule{Command: "GET", Key: DefaultPrefix + "loading", Times: 1, Reply: fault.ReplyLOADING,
		Match: func([]string) bool { <-release; return true }})
	go s.Load("slow") // in flight on one slot for 400 ms: Close waits for it
	time.Sleep(50 * time.Millisecond)
	go s.Load("loading") // the other slot: LOADING, then a 10 ms backoff and a retry
	time.Sleep(50 * time.Millisecond)
	close(release)
	time.Sleep(3 * time.Millisecond) // the caller is in its backoff
	s.Close()
	time.Sleep(200 * time.Millisecond)
	if open := srv.Stats().Open; open != 0 {
		t.Errorf("the server has %d connections open after Close returned", open)
	}
	waitBaseline(t, base, 2*time.Second)
}

// A reply cut short after some of its bytes arrived is not retried: only a
// connection that broke before any reply byte is.
func TestNoRetryAfterAPartialReply(t *testing.T) {
	srv, s := faultStore(t, Options{PoolSize: 1})
	putSession(srv, "p")
	if _, err := s.Load("p"); err != nil { // the pipe has served
		t.Fatal(err)
	}
	srv.Handle(fault.Rule{Command: "GET", Key: DefaultPrefix + "p", Times: 1, Truncate: 12})
	if _, err := s.Load("p"); err == nil {
		t.Fatal("a truncated reply gave no error")
	}
	if r := s.Stats().Retries; r != 0 {
		t.Fatalf("%d retries after part of a reply arrived", r)
	}
}
