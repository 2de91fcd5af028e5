//go:build !redisstore_noseal

package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Untested risk, which held: LoadContext opens in place in a pooled reply
// buffer and every seal and open borrows a scratch from its key's
// sync.Pool. Many callers loading, versioning and touching sessions sealed
// by two keys at once (under -race) each get their own session back whole.
func TestSealReviewCryptoScratchConcurrent(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}, HashKeys: true})
	old := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}, HashKeys: true})
	ctx := context.Background()
	for i := range 16 {
		sess := testSession(fmt.Sprintf("conc-%02d-0123456789", i))
		sess.Data["i"] = float64(i)
		sess.Data["pad"] = string(make([]byte, i*300))
		st := s
		if i%2 == 1 {
			st = old
		}
		if err := st.Save(sess); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 300 {
				i := (g + n) % 16
				id := fmt.Sprintf("conc-%02d-0123456789", i)
				got, err := s.LoadContext(ctx, id)
				if err != nil || got.ID != id || got.Data["i"] != float64(i) || len(got.Data["pad"].(string)) != i*300 {
					t.Errorf("Load %s = %v", id, err)
					return
				}
				st, err := s.LoadVersion(ctx, id)
				if err != nil || st.Value == nil {
					t.Errorf("LoadVersion %s = %v", id, err)
					return
				}
				if n%10 == 0 {
					if _, ok, err := s.TouchVersion(ctx, id, st.Version, 0); err != nil || !ok {
						t.Errorf("Touch %s: %v %v", id, ok, err)
					}
				}
			}
		})
	}
	wg.Wait()
}
