//go:build !race

package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// The issue asks for at most 2 allocations per conditional save of the
// store. Counted against a real redis-server, without the race detector
// (whose sync.Pool drops items at random).
func TestAllocAttackConditionalSaveAndLoad(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr})
	ctx := context.Background()
	for i, size := range []int{300, 4 << 10} {
		id := "AllocAllocAllocAlloc0" + string(rune('0'+i))
		value := []byte(`{"ID":"` + id + `","Data":{"x":"` + strings.Repeat("x", size-40) + `"}}`)
		stale := []byte(`{"ID":"` + id + `","Data":{}}`)
		if _, ok, err := attackSave(s, ctx, id, value, nil, time.Hour); !ok || err != nil {
			t.Fatalf("create: %v %v", ok, err)
		}
		// Warm up: the script is loaded (NOSCRIPT then EVAL) on first use.
		for range 10 {
			attackSave(s, ctx, id, value, value, time.Hour)
		}
		save := testing.AllocsPerRun(500, func() {
			if _, ok, err := attackSave(s, ctx, id, value, value, time.Hour); !ok || err != nil {
				t.Fatalf("SaveVersion: %v %v", ok, err)
			}
		})
		keep := testing.AllocsPerRun(500, func() {
			if _, ok, err := attackSaveKeep(s, ctx, id, value, value); !ok || err != nil {
				t.Fatalf("SaveVersion KeepTTL: %v %v", ok, err)
			}
		})
		conflict := testing.AllocsPerRun(500, func() { attackSave(s, ctx, id, value, stale, time.Hour) })
		touch := testing.AllocsPerRun(500, func() { s.TouchVersion(ctx, id, value, time.Hour) })
		load := testing.AllocsPerRun(500, func() {
			if got, err := s.LoadVersion(ctx, id); err != nil || got.Value == nil {
				t.Fatalf("LoadVersion: %+v %v", got, err)
			}
		})
		ended := testing.AllocsPerRun(500, func() { attackSave(s, ctx, "AllocGoneAllocGoneAll0", value, value, time.Hour) })
		create := testing.AllocsPerRun(500, func() {
			attackSave(s, ctx, "AllocNewAllocNewAlloc0", value, nil, time.Hour)
			s.Delete("AllocNewAllocNewAlloc0")
		}) - testing.AllocsPerRun(500, func() { s.Delete("AllocNewAllocNewAlloc0") })
		mk := session.Marker{MovedTo: "AllocNextAllocNextAll0", At: time.UnixMilli(1700000000000)}
		markerBytes := appendMarker(nil, mk)
		if _, ok, err := s.Retire(ctx, id, value, mk, time.Hour); !ok || err != nil {
			t.Fatalf("Retire: %v %v", ok, err)
		}
		retire := testing.AllocsPerRun(500, func() { s.Retire(ctx, id, markerBytes, mk, time.Hour) })
		loadMarker := testing.AllocsPerRun(500, func() { s.LoadVersion(ctx, id) })
		t.Logf("figure (%d-byte value): allocs per SaveVersion written %.1f (KeepTTL %.1f), conflict %.1f, ended %.1f, create %.1f; TouchVersion %.1f; Retire %.1f; LoadVersion of a session %.1f, of a marker %.1f",
			len(value), save, keep, conflict, ended, create, touch, retire, load, loadMarker)
		if save > 2 || keep > 2 {
			t.Errorf("SaveVersion (%d bytes) allocates %.1f per call (KeepTTL %.1f), the issue allows 2", len(value), save, keep)
		}
		if touch > 2 || ended > 2 || create > 2 || retire > 2 {
			t.Errorf("conditional writes allocate more than 2: touch %.1f, ended %.1f, create %.1f, retire %.1f", touch, ended, create, retire)
		}
	}
}

// The same on a server that refuses scripts (plain SET / PEXPIRE).
func TestAllocAttackPlainFallbackSave(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -@scripting"}})
	s := openStore(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &argLogger{}})
	ctx := context.Background()
	id := "AllocPlainAllocPlain00"
	value := []byte(`{"ID":"` + id + `","Data":{"x":"` + strings.Repeat("x", 260) + `"}}`)
	if _, ok, err := attackSave(s, ctx, id, value, nil, time.Hour); !ok || err != nil || !attackPlainWrites(s) {
		t.Fatalf("create: %v %v (plain %v)", ok, err, attackPlainWrites(s))
	}
	save := testing.AllocsPerRun(500, func() { attackSave(s, ctx, id, value, value, time.Hour) })
	keep := testing.AllocsPerRun(500, func() { attackSaveKeep(s, ctx, id, value, value) })
	touch := testing.AllocsPerRun(500, func() { s.TouchVersion(ctx, id, value, time.Hour) })
	t.Logf("figure (plain fallback): allocs per SaveVersion %.1f (KeepTTL %.1f), TouchVersion %.1f", save, keep, touch)
	if save > 2 || keep > 2 || touch > 2 {
		t.Errorf("plain fallback allocates more than 2: save %.1f, keep %.1f, touch %.1f", save, keep, touch)
	}
}
