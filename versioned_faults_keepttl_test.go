package redisstore

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// session.KeepTTL (commit 6c01e69): the script reads PTTL and writes
// "SET key value PX ttl" when it is positive, plain "SET key value"
// otherwise. PTTL answers 0 for a key in the last millisecond of its life
// (Redis expires a key only when now > its deadline, and PTTL rounds the
// rest down to 0): a save in that millisecond stores the session with no
// TTL at all, for ever.
func TestAttackFaultsKeepTTLInLastMillisecondMakesSessionImmortal(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	immortal := 0
	const rounds = 100
	start := time.Now()
	i := 0
	for ; i < rounds && immortal == 0 && time.Since(start) < 3*time.Second; i++ {
		id := fmt.Sprintf("KeepTTLKeepTTLKeep%04d", i)
		v1 := []byte(`{"ID":"` + id + `","Data":{"n":1}}`)
		v2 := []byte(`{"ID":"` + id + `","Data":{"n":2}}`)
		if _, ok, err := attackSave(s, ctx, id, v1, nil, 2*time.Millisecond); !ok || err != nil {
			t.Fatalf("create: %v %v", ok, err)
		}
		// Saves keep TTL until the key is gone, as parallel requests of a
		// session whose idle timeout is running out would.
		for range 20 {
			st, ok, err := attackSaveKeep(s, ctx, id, v2, v1)
			if err != nil {
				t.Fatal(err)
			}
			if !ok && st.Value == nil {
				break // expired: the session ended
			}
			v1, v2 = v2, v1
			time.Sleep(200 * time.Microsecond)
		}
		if pttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+id).Int; pttl == -1 {
			immortal++
		}
	}
	if immortal > 0 {
		t.Errorf("%d of %d sessions saved with KeepTTL at the end of their life has no TTL any more: it never expires", immortal, i)
	}
}

// A session key without a TTL (copied by a migration tool, PERSISTed by an
// operator, written by a store configured without TTL) never gets one: a
// change keeps "no TTL", and the idle refresh needs a known TTL (touchDue
// requires st.ttl > 0). With a VersionedStore the idle timeout is only the
// key's TTL, so the session never expires. Before KeepTTL the first change
// set PX MaxAge.
func TestAttackFaultsSessionWithoutTTLNeverExpires(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(time.Hour))
	id := a.login("alice")
	rawDo(t, srv.Addr, "PERSIST", "sessionx:"+id)
	for _, target := range []string{"/set?x=1", "/read", "/incr"} {
		if w, _ := a.do(context.Background(), id, target); w.Code != http.StatusOK {
			t.Fatalf("%s: %d", target, w.Code)
		}
	}
	if pttl := rawDo(t, srv.Addr, "PTTL", "sessionx:"+id).Int; pttl < 0 || pttl > int64(time.Hour/time.Millisecond) {
		t.Errorf("after three requests (one change) the session's PTTL is %d: no idle timeout (MaxAge 1h)", pttl)
	}
}
