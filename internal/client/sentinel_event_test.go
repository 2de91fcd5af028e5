package client

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/redistest"
	"github.com/sessionx-redis/redisstore/resp"
)

// switchMaster is a sentinel's answer to SUBSCRIBE +switch-master followed
// at once by the event announcing that master m moved from old to to, as
// RESP2 messages.
func switchMaster(m, old, to string) string {
	oh, op, _ := net.SplitHostPort(old)
	th, tp, _ := net.SplitHostPort(to)
	confirm := "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n"
	return confirm + string(resp.AppendCommand(nil, "message", "+switch-master", strings.Join([]string{m, oh, op, th, tp}, " ")))
}

// The +switch-master event names the new master. The flaky
// TestSentinelSwitchesOnTheEvent (root package) failed when the store, on
// the event, asked the sentinels again and the first to answer had not
// switched yet: the event was dropped and, with polling off, the store
// stayed on the old master. Here every sentinel still names the old master
// when the event arrives, and the new master's ROLE says replica twice
// before its promotion completes: the store switches all the same.
func TestSentinelEventSwitchesWhileOtherSentinelsLag(t *testing.T) {
	defer func(d time.Duration) { SentinelWatchInterval = d }(SentinelWatchInterval)
	SentinelWatchInterval = time.Hour // the event alone must do it
	oldMaster := redistest.Start(t, redistest.Config{})
	oldMaster.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	newMaster := redistest.Start(t, redistest.Config{})
	newMaster.Handle(redistest.Rule{Command: "ROLE", Reply: "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n", Times: 2})
	newMaster.Handle(redistest.Rule{Command: "ROLE", Reply: roleMaster})
	ss := fakeSentinels(t, 3, oldMaster.Addr())
	for _, s := range ss {
		s.Handle(redistest.Rule{Command: "SUBSCRIBE", Reply: switchMaster("m", oldMaster.Addr(), newMaster.Addr())})
	}
	c := newTestClient(t, Config{SentinelAddrs: addrsOf(ss), MasterName: "m", Protocol: 2})
	// The event comes right after the subscription; the three ROLE checks
	// take 50 + 100 ms of waiting. 10 s is the bound of a stalled machine.
	deadline := time.Now().Add(10 * time.Second)
	for c.Addrs()[0] != newMaster.Addr() {
		if time.Now().After(deadline) {
			t.Fatalf("client on %v 10 s after the event named %s", c.Addrs(), newMaster.Addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
