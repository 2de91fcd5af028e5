package redisstore

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Review (issue 14), minor: the user may be "a string, or a number by its
// decimal text" (README, WithUserKey), and ErrInvalidUser is for "a value
// that is neither a string nor a number"; a json.Number (what an app
// decoding with UseNumber holds, and what Session's JSON writes as a
// number) is refused with "a json.Number under "user", not a string or
// number". The value JSON stores is the number 42, which loads as the
// float64 42, user "42".
func TestReviewFaultsJSONNumberUserRefused(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr})
	sess := a.m.New()
	sess.Data["user"] = json.Number("42")
	if err := a.m.Save(httptest.NewRecorder(), sess); err != nil {
		t.Fatalf("Save with user json.Number(\"42\"): %v", err)
	}
	if list, err := a.m.UserSessions(context.Background(), "42"); err != nil || len(list) != 1 {
		t.Errorf("UserSessions(\"42\") = %d, %v; want 1", len(list), err)
	}
}
