package redisstore

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// replyDropper is a TCP proxy that, once armed, lets the first command
// whose bytes contain match reach the server, reads the server's reply to
// it (so the command ran) and, instead of forwarding that reply, closes the
// client's connection: a reply lost after the command ran.
type replyDropper struct {
	ln      net.Listener
	target  string
	match   atomic.Pointer[[]byte]
	dropped chan struct{}
	once    sync.Once
}

func startReplyDropper(t *testing.T, target string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &replyDropper{ln: ln, target: target, dropped: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return d
}

func (d *replyDropper) arm(match string) { b := []byte(match); d.match.Store(&b) }

func (d *replyDropper) serve(c net.Conn) {
	s, err := net.Dial("tcp", d.target)
	if err != nil {
		c.Close()
		return
	}
	defer s.Close()
	defer c.Close()
	var drop atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if m := d.match.Load(); m != nil && bytes.Contains(buf[:n], *m) && d.match.CompareAndSwap(m, nil) {
					drop.Store(true)
				}
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if drop.Load() {
				// The command ran; its reply is lost with the connection.
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Close()
				d.once.Do(func() { close(d.dropped) })
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// A logout loaded before a parallel automatic rotation: Destroy's Revoke
// of the old ID must find the "moved" marker and end the new ID too. When
// the reply of SET ... GET is lost after it ran, the batch (Idempotent) is
// sent again and its GET now returns the retired marker the first run
// wrote: the moved marker is never seen, and the rotated session survives
// the logout.
func TestReview3RevokeReplyLostLeavesRotatedSessionLive(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	p := startReplyDropper(t, srv.Addr)
	a := newApp(t, Options{Addr: p.ln.Addr().String()})
	id := a.login("alice")
	backdate(t, a, id, 20*time.Minute) // rotation due (15m)

	logout := a.hold(id, "/logout")
	_, next := a.do(context.Background(), id, "/read")
	if next == "" || next == id {
		t.Fatalf("the parallel request did not rotate: cookie %q", next)
	}
	p.arm("!retired:") // the Revoke's SET carries the retired marker
	if set := logout.finish(); set != "-" {
		t.Errorf("logout set cookie %q", set)
	}
	select {
	case <-p.dropped:
	default:
		t.Fatal("no reply was dropped: the fault did not happen")
	}
	if live := liveSessionsOf(t, srv.Addr, "alice"); len(live) != 0 {
		t.Errorf("after a logout whose Revoke reply was lost, sessions of alice live on: %v (rotated ID %s)", live, next)
	}
	if w, _ := a.do(context.Background(), next, "/read"); bytes.Contains(w.Body.Bytes(), []byte("alice")) {
		t.Errorf("after the logout the rotated cookie reads %q", w.Body)
	}
}
