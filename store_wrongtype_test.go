package redisstore

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// A key of another Redis type under a session's name (a list left by
// another program, a clash of prefixes) answers GET with WRONGTYPE. That is
// a value the store cannot decode, so the user gets a fresh session, not a
// 503 on every request for as long as the key lives.
func TestWrongTypeKeyIsAFreshSessionNotAnOutage(t *testing.T) {
	servers := []struct {
		name  string
		start func(t *testing.T) (addr string, lpush func(key string))
	}{
		{"miniredis", func(t *testing.T) (string, func(string)) {
			mr := miniredis.RunT(t)
			return mr.Addr(), func(key string) {
				if _, err := mr.Lpush(key, "x"); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"redis-server", func(t *testing.T) (string, func(string)) {
			srv := redisserver.Start(t, redisserver.Config{})
			return srv.Addr, func(key string) { srv.Do(t, "LPUSH", key, "x") }
		}},
	}
	for _, server := range servers {
		t.Run(server.name, func(t *testing.T) {
			addr, lpush := server.start(t)
			store := openStore(t, Options{Addr: addr})
			const id = "AAAAAAAAAAAAAAAAAAAAAA" // a well-formed session ID
			lpush("sessionx:" + id)

			_, err := store.Load(id)
			if !errors.Is(err, ErrInvalidSession) || !errors.Is(err, session.ErrInvalidSession) {
				t.Errorf("Load of a list: %v, want an error matching ErrInvalidSession", err)
			}
			if e, ok := errors.AsType[resp.Error](err); !ok || e.Kind != "WRONGTYPE" {
				t.Errorf("Load of a list: %v, want it to wrap the WRONGTYPE reply", err)
			}

			m, err := session.NewManager(session.DevConfig(bytes.Repeat([]byte("k"), 32), session.WithStore(store)))
			if err != nil {
				t.Fatal(err)
			}
			h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				session.Get(r).Data["user"] = "alice"
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d (%s), want 200 with a fresh session", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
			}
			var fresh string
			for _, c := range rec.Result().Cookies() {
				if c.Name == "sessionx" {
					fresh = c.Value
				}
			}
			if fresh == "" || fresh == id {
				t.Fatalf("cookie %q, want a fresh session's new ID", fresh)
			}
			if got, err := store.Load(fresh); err != nil || got.Data["user"] != "alice" {
				t.Errorf("fresh session: %+v, %v", got, err)
			}

			// A save under that name (SET) replaces the list.
			if err := store.Save(testSession(id)); err != nil {
				t.Fatalf("Save over a list: %v", err)
			}
			if got, err := store.Load(id); err != nil || got.Data["user"] != "alice" {
				t.Errorf("Load after the Save over a list: %+v, %v", got, err)
			}
		})
	}
}
