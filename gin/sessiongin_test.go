package sessiongin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionx-redis/redisstore/session"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func init() { gin.SetMode(gin.TestMode) }

// newEngine returns a Gin engine with the session middleware of a manager
// on store, and the manager.
func newEngine(t *testing.T, store session.Store, opts ...session.ConfigOption) (*gin.Engine, *session.Manager) {
	t.Helper()
	opts = append([]session.ConfigOption{session.WithStore(store)}, opts...)
	m, err := session.NewManager(session.DevConfig(testKey, opts...))
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(SessionMiddleware(m))
	return r, m
}

// do serves one request with the cookie (if any) and returns the recorder.
func do(r http.Handler, method, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

// sessionCookie returns the "sessionx" cookie the response set, from the
// headers as they were when the response started, or nil.
func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sessionx" {
			return c
		}
	}
	return nil
}

func TestCounterAcrossRequestsWithCookie(t *testing.T) {
	store := newMemStore()
	r, _ := newEngine(t, store)
	r.GET("/count", func(c *gin.Context) {
		sess := Get(c)
		if sess != session.Get(c.Request) {
			t.Error("Get(c) and session.Get(c.Request) differ")
		}
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1
		c.String(http.StatusOK, "%v", n+1)
	})
	var cookie *http.Cookie
	for want := 1; want <= 3; want++ {
		rec := do(r, "GET", "/count", cookie)
		if got := rec.Body.String(); got != fmt.Sprint(want) {
			t.Fatalf("request %d: body %q, want %d", want, got, want)
		}
		if c := sessionCookie(rec); c != nil {
			if cookie != nil && c.Value != cookie.Value {
				t.Fatalf("request %d: ID changed without rotation", want)
			}
			cookie = c
		}
		if cookie == nil {
			t.Fatalf("request %d: no session cookie", want)
		}
		if got := store.get(cookie.Value)["n"]; got != float64(want) {
			t.Fatalf("request %d: stored n = %v, want %d", want, got, want)
		}
		if got := rec.Header().Get("Vary"); got != "Cookie" {
			t.Errorf("request %d: Vary %q, want Cookie", want, got)
		}
	}
}

func TestUntouchedSessionSetsNoCookie(t *testing.T) {
	store := newMemStore()
	r, _ := newEngine(t, store)
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
	rec := do(r, "GET", "/", nil)
	if c := sessionCookie(rec); c != nil {
		t.Errorf("cookie %v set for an unused session", c)
	}
	if n := store.len(); n != 0 {
		t.Errorf("store holds %d sessions, want 0", n)
	}
}

// TestSaveBeforeFirstByte checks every way of starting the response: the
// session, changed before, is saved and its cookie is among the headers as
// they were sent (the recorder snapshots them when the response starts).
func TestSaveBeforeFirstByte(t *testing.T) {
	tests := []struct {
		name  string
		write func(c *gin.Context)
		code  int
	}{
		{"Write", func(c *gin.Context) { c.Writer.Write([]byte("body")) }, 200},
		{"WriteString", func(c *gin.Context) { c.Writer.WriteString("body") }, 200},
		{"WriteHeader", func(c *gin.Context) { c.Writer.WriteHeader(http.StatusAccepted); c.Writer.WriteString("body") }, 202},
		{"WriteHeaderNow", func(c *gin.Context) { c.Writer.WriteHeaderNow() }, 200},
		{"StatusThenWriteHeaderNow", func(c *gin.Context) { c.Status(http.StatusNoContent); c.Writer.WriteHeaderNow() }, 204},
		{"Flush", func(c *gin.Context) { c.Writer.Flush() }, 200},
		{"String", func(c *gin.Context) { c.String(http.StatusOK, "body") }, 200},
		{"JSON", func(c *gin.Context) { c.JSON(http.StatusCreated, gin.H{"ok": true}) }, 201},
		{"Redirect", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/next") }, 303},
		{"NothingWritten", func(c *gin.Context) {}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			r, _ := newEngine(t, store)
			r.GET("/", func(c *gin.Context) {
				sess := Get(c)
				sess.Data["before"] = true
				tt.write(c)
				sess.Data["after"] = true // too late for the cookie, not for the store
			})
			rec := do(r, "GET", "/", nil)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d", rec.Code, tt.code)
			}
			cookie := sessionCookie(rec)
			if cookie == nil {
				t.Fatalf("no Set-Cookie in the headers sent: %v", rec.Result().Header)
			}
			if got := rec.Result().Header.Get("Cache-Control"); got != `no-cache="Set-Cookie"` {
				t.Errorf("Cache-Control %q", got)
			}
			data := store.get(cookie.Value)
			if data["before"] != true {
				t.Errorf("stored %v, want before=true", data)
			}
			// The cookie that went out names this ID, so a change made
			// after the response started still reaches the store.
			if data["after"] != true {
				t.Errorf("stored %v, want after=true", data)
			}
		})
	}
}

// TestChangeAfterBodyOfExistingSession checks that a session the client's
// cookie already names is still saved when changed after the body.
func TestChangeAfterBodyOfExistingSession(t *testing.T) {
	store := newMemStore()
	r, _ := newEngine(t, store)
	r.GET("/set", func(c *gin.Context) { Get(c).Data["a"] = 1; c.String(200, "ok") })
	r.GET("/late", func(c *gin.Context) {
		c.String(200, "ok")
		Get(c).Data["b"] = 2
	})
	cookie := sessionCookie(do(r, "GET", "/set", nil))
	if cookie == nil {
		t.Fatal("no cookie")
	}
	do(r, "GET", "/late", cookie)
	if got := store.get(cookie.Value)["b"]; got != float64(2) {
		t.Errorf("stored b = %v, want 2", got)
	}
}

func TestStoreErrorOnLoad(t *testing.T) {
	boom := errors.New("redis down")
	tests := []struct {
		name     string
		opts     []session.ConfigOption
		wantCode int
		wantBody string
	}{
		{"default handler", nil, http.StatusServiceUnavailable, "Service Unavailable"},
		{"custom handler", []session.ConfigOption{session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, boom) {
				t.Errorf("handler got %v, want it to wrap %v", err, boom)
			}
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "custom")
		})}, http.StatusTeapot, "custom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			r, _ := newEngine(t, store, tt.opts...)
			ran := false
			r.GET("/", func(c *gin.Context) {
				ran = true
				Get(c).Data["x"] = 1
				c.String(200, "handler")
			})
			cookie := sessionCookie(do(r, "GET", "/", nil))
			if cookie == nil {
				t.Fatal("no cookie")
			}
			ran = false
			store.fail(boom, nil)
			rec := do(r, "GET", "/", cookie)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if ran {
				t.Error("the handler ran although the session could not be loaded")
			}
			if c := sessionCookie(rec); c != nil {
				t.Errorf("cookie overwritten with %v", c)
			}
			store.fail(nil, nil)
			if store.get(cookie.Value)["x"] != float64(1) {
				t.Error("the stored session was lost")
			}
		})
	}
}

func TestStoreErrorOnSave(t *testing.T) {
	store := newMemStore()
	r, _ := newEngine(t, store)
	var writeErr error
	r.GET("/", func(c *gin.Context) {
		Get(c).Data["x"] = 1
		_, writeErr = c.Writer.WriteString("handler")
	})
	store.fail(nil, errors.New("redis down"))
	rec := do(r, "GET", "/", nil)
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "handler") {
		t.Errorf("got %d %q, want the error handler's 503", rec.Code, rec.Body.String())
	}
	if writeErr == nil {
		t.Error("the handler's write succeeded after the save failed")
	}
	if c := sessionCookie(rec); c != nil {
		t.Errorf("cookie %v set for an unsaved session", c)
	}
}

func TestRotationDeletesOldID(t *testing.T) {
	store := newMemStore()
	r, m := newEngine(t, store)
	r.GET("/visit", func(c *gin.Context) { Get(c).Data["visits"] = 1; c.String(200, "ok") })
	r.GET("/login", func(c *gin.Context) {
		sess := Get(c)
		m.Rotate(sess)
		sess.Data["user"] = "alice"
		c.String(200, "ok")
	})
	r.GET("/whoami", func(c *gin.Context) {
		user, _ := Get(c).Data["user"].(string)
		c.String(200, user)
	})
	old := sessionCookie(do(r, "GET", "/visit", nil))
	if old == nil {
		t.Fatal("no cookie before login")
	}
	rec := do(r, "GET", "/login", old)
	cookie := sessionCookie(rec)
	if cookie == nil || cookie.Value == old.Value {
		t.Fatalf("login cookie %v, want a new ID", cookie)
	}
	if store.get(old.Value) != nil {
		t.Error("the old ID is still in the store")
	}
	if got := store.get(cookie.Value); got["user"] != "alice" || got["visits"] != float64(1) {
		t.Errorf("new session holds %v", got)
	}
	if got := do(r, "GET", "/whoami", cookie).Body.String(); got != "alice" {
		t.Errorf("new cookie: user %q, want alice", got)
	}
	if got := do(r, "GET", "/whoami", old).Body.String(); got != "" {
		t.Errorf("old cookie: user %q, want none", got)
	}
}

func TestDestroyThroughRequest(t *testing.T) {
	store := newMemStore()
	r, m := newEngine(t, store)
	r.GET("/set", func(c *gin.Context) { Get(c).Data["x"] = 1; c.String(200, "ok") })
	r.GET("/logout", func(c *gin.Context) {
		if err := m.Destroy(c.Writer, c.Request); err != nil {
			t.Error(err)
		}
		c.String(200, "bye")
	})
	cookie := sessionCookie(do(r, "GET", "/set", nil))
	if cookie == nil {
		t.Fatal("no cookie")
	}
	rec := do(r, "GET", "/logout", cookie)
	if store.get(cookie.Value) != nil {
		t.Error("session still stored after Destroy")
	}
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout cookie %v, want an expiring one", c)
	}
}

func TestGetOutsideMiddleware(t *testing.T) {
	r := gin.New()
	var got *session.Session
	seen := false
	r.GET("/", func(c *gin.Context) { got, seen = Get(c), true })
	do(r, "GET", "/", nil)
	if !seen || got != nil {
		t.Errorf("Get outside the middleware = %v, want nil", got)
	}
}

// TestHijack checks that the writer still hijacks through the adapter and
// saves the session first.
func TestHijack(t *testing.T) {
	store := newMemStore()
	r, _ := newEngine(t, store)
	r.GET("/", func(c *gin.Context) {
		Get(c).Data["ws"] = true
		conn, _, err := c.Writer.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		conn.Close()
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Errorf("body %q, want hi", body)
	}
	if n := store.len(); n != 1 {
		t.Errorf("store holds %d sessions after the hijack, want 1", n)
	}
}

// A handler that changes the session and panics saves nothing, as under the
// net/http middleware, also when Recovery (before the session middleware,
// gin.Default's order) answers 500 through c.Writer.
func TestPanickingHandlerSavesNothingUnderRecovery(t *testing.T) {
	store := newMemStore()
	m, err := session.NewManager(session.DevConfig(testKey, session.WithStore(store)))
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.Use(SessionMiddleware(m))
	r.GET("/", func(c *gin.Context) {
		Get(c).Data["user"] = "half-done"
		panic("boom")
	})
	rec := do(r, http.MethodGet, "/", nil)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if c := sessionCookie(rec); c != nil {
		t.Fatalf("the session of a panicking handler was saved (cookie %s)", c.Value)
	}
}
