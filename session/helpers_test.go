package session

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// newTestManager returns a DevConfig manager with opts.
func newTestManager(t *testing.T, opts ...ConfigOption) *Manager {
	t.Helper()
	m, err := NewManager(DevConfig(testKey, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeClock replaces nowFunc for one test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func useFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	old := nowFunc
	nowFunc = c.Now
	t.Cleanup(func() { nowFunc = old })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// failRandom makes the random source fail for one test.
func failRandom(t *testing.T) {
	old := randRead
	randRead = func([]byte) (int, error) { return 0, fmt.Errorf("entropy exhausted") }
	t.Cleanup(func() { randRead = old })
}

// serve runs one GET request for path through h with cookies.
func serve(h http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// cookieNamed returns the Set-Cookie named name in rec, or nil.
func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie returns the "sessionx" Set-Cookie in rec, or nil.
func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie { return cookieNamed(rec, "sessionx") }

// appMux is a small application: /set stores k=v, /get prints k, /login
// stores a user and rotates, /logout destroys, /none ignores the session.
func appMux(m *Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data[r.URL.Query().Get("k")] = r.URL.Query().Get("v")
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, Get(r).Data[r.URL.Query().Get("k")])
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sess := Get(r)
		sess.Data["user"] = "alice"
		m.Rotate(sess)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(w, r); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("/none", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	return m.Middleware(mux)
}

// httpRequestWithCookie returns a GET / request with one cookie (none when
// name is empty).
func httpRequestWithCookie(name, value string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if name != "" {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return req
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

type netConn = net.Conn

var timeZero time.Time

// TestMain silences the default error handler's log lines.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
