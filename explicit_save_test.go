package redisstore

import (
	"context"
	"net/http"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Without MaxAge (browser-session cookies), a handler that saves the
// session itself, then the middleware's save at the end of the request,
// write it once: the second save finds nothing to do.
func TestExplicitSaveThenMiddlewareWritesOnceWithoutMaxAge(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr}, session.WithMaxAge(0))
	a.h = a.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		sess.Data["k"] = r.URL.Query().Get("v")
		if err := a.m.Save(w, sess); err != nil {
			t.Error(err)
		}
	}))
	ctx := context.Background()
	before := a.s.Stats().Commands
	_, id := a.do(ctx, "", "/?v=1")
	if n := a.s.Stats().Commands - before; n != 1 {
		t.Errorf("a request that created the session and saved it twice sent %d commands, want 1", n)
	}
	for _, v := range []string{"2", "3"} {
		before := a.s.Stats().Commands
		a.do(ctx, id, "/?v="+v)
		if n := a.s.Stats().Commands - before; n != 3 {
			t.Errorf("a request that changed the session and saved it twice sent %d commands, want 3 (GET+PTTL, one write)", n)
		}
	}
}
