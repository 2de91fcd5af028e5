package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review (issue 14): one member of a user's index that is not a session
// ID (a space, a control byte, empty, over 256 bytes: written by another
// program, a corrupt copy) makes UserSessions and RevokeSession fail for
// that user with ErrInvalidID, for as long as the entry lives: the
// "your devices" page is down and no device can be logged out by its
// handle. RevokeUser skips such members (validID); userSessions loads
// them (session/users.go, userSessions: us.LoadVersion without validID).
func TestReviewFaultsIndexMemberNotAnIDBreaksUserSessions(t *testing.T) {
	for _, member := range []string{"not an id", "", "a\x00b", strings.Repeat("x", 257), strings.Repeat("x", 1<<20)} {
		t.Run(fmt.Sprintf("%.12q(%d bytes)", member, len(member)), func(t *testing.T) {
			srv := redisserver.Start(t, redisserver.Config{})
			a := newUserApp(t, Options{Addr: srv.Addr})
			ctx := context.Background()
			phone, laptop := a.login("alice"), a.login("alice")
			far := fmt.Sprint(time.Now().Add(48 * time.Hour).UnixMilli())
			a.redis(client.ReplyInt, "ZADD", client.Key("sessionx:user ", "alice"), client.Str(far), client.Str(member))

			list, err := a.m.UserSessions(ctx, "alice")
			if err != nil || len(list) != 2 {
				t.Errorf("UserSessions(alice) = %d, %v; want alice's 2 sessions, the foreign member skipped", len(list), err)
			}
			if errors.Is(err, ErrInvalidID) {
				t.Logf("(the error matches ErrInvalidID, which names neither the index nor the user)")
			}
			err = a.m.RevokeSession(ctx, "alice", "some handle")
			if !errors.Is(err, session.ErrNotFound) {
				t.Errorf("RevokeSession(alice, unknown handle) = %v, want ErrNotFound", err)
			}
			if n, err := a.m.RevokeUser(ctx, "alice", nil); n != 2 || err != nil || a.data(phone) != nil || a.data(laptop) != nil {
				t.Errorf("RevokeUser(alice) = %d, %v", n, err)
			}
		})
	}
}
