//go:build !redisstore_noseal

package redisstore

import (
	"context"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Review finding: a process that does not know the key that sealed a
// session can neither find it in the user's index nor open it, so "log
// out everywhere" run there misses it. The README's rotation therefore
// has two phases: every process first learns the new key as a second one
// ([old, new]), then seals with it ([new, old]). In the first phase,
// RevokeUser on a process that does not seal with the new key yet ends
// the sessions that processes of the second phase sealed and indexed.
func TestSealReviewFlowRevokeUserDuringTwoPhaseRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	rotated := newUserApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}, HashKeys: true})
	learning := newUserApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey, newKey}, HashKeys: true})

	sealedNew, sealedOld := rotated.login("alice"), learning.login("alice")
	n, err := learning.m.RevokeUser(ctx, "alice", nil)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser(alice) on a process learning the new key = %d, %v; want 2", n, err)
	}
	for _, id := range []string{sealedNew, sealedOld} {
		if got := rotated.user(id); got != "<nil>" {
			t.Errorf("after RevokeUser a session sees user %s (unopened values: %d)", got, learning.s.Stats().UnopenedValues)
		}
	}
}
