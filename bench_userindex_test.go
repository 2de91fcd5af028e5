package redisstore_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/session"
)

// BenchmarkUserIndex measures what the user index (WithUserKey) costs a
// request, one caller at a time on a real redis-server, with the index
// off and on:
//   - Login: a request without a cookie that stores a session with a new
//     user, as a login does: with the index, one script (the entry)
//     before the session's value.
//   - Change: a request of a logged-in session that changes a counter:
//     the entry is current, so the index adds no command.
//
// An idle refresh or a change of user adds the same script as a login, a
// rotation the script and a ZREM of the old ID. It reports the client's
// and the server's CPU per request.
func BenchmarkUserIndex(b *testing.B) {
	addr, pid := benchServer(b)
	for _, index := range []string{"off", "on"} {
		st, err := redisstore.NewRedisStore(redisstore.Options{Addr: addr, Prefix: "benchusers-" + index + ":"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		opts := []session.ConfigOption{session.WithStore(st), session.WithRotationInterval(0)}
		if index == "on" {
			opts = append(opts, session.WithUserKey("user"))
		}
		m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef"), opts...))
		if err != nil {
			b.Fatal(err)
		}
		h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess := session.Get(r)
			switch r.URL.Path {
			case "/login":
				for k, v := range benchkit.Session("").Data {
					sess.Data[k] = v
				}
				sess.Data["user"] = r.URL.Query().Get("user")
			case "/change":
				n, _ := sess.Data["n"].(float64)
				sess.Data["n"] = n + 1
			}
		}))
		serve := func(r *http.Request) string {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
			for _, c := range w.Result().Cookies() {
				return c.Value
			}
			return ""
		}
		b.Run("Login/index="+index, func(b *testing.B) {
			meter := benchkit.Start(b, pid)
			i := 0
			for b.Loop() {
				if serve(httptest.NewRequest("GET", "/login?user=u"+strconv.Itoa(i), nil)) == "" {
					b.Fatal("login set no cookie")
				}
				i++
			}
			meter.Report(b)
		})
		id := serve(httptest.NewRequest("GET", "/login?user=alice", nil))
		b.Run("Change/index="+index, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/change", nil)
			r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
			meter := benchkit.Start(b, pid)
			for b.Loop() {
				serve(r)
			}
			meter.Report(b)
		})
	}
}
