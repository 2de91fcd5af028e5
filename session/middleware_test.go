package session

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestResponseControllerFlushThroughWrapper(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	var savedAtFlush int
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data["a"] = 1
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		_, savedAtFlush, _ = store.counts()
		w.(http.Flusher).Flush()
	}))
	rec := serve(h, "/")
	if !rec.Flushed || savedAtFlush != 1 || sessionCookie(rec) == nil {
		t.Errorf("flushed %v, saves at flush %d, cookie %v", rec.Flushed, savedAtFlush, sessionCookie(rec))
	}
}

func TestResponseControllerReachesUnderlyingWriter(t *testing.T) {
	m := newTestManager(t)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok {
			t.Error("wrapper has no Unwrap")
		}
		// The recorder has no deadlines: ErrNotSupported proves the
		// controller got past the wrapper instead of failing on it.
		if err := http.NewResponseController(w).SetWriteDeadline(timeZero); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack on a recorder: %v", err)
		}
	}))
	serve(h, "/")
}

func TestHijackThroughWrapper(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data["ws"] = true
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		rw.Flush()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hijacked" {
		t.Errorf("body %q", body)
	}
	if _, saves, _ := store.counts(); saves != 1 {
		t.Errorf("saves = %d, want the session saved before the hijack", saves)
	}
}

func TestReadFromSavesFirst(t *testing.T) {
	m := newTestManager(t)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data["a"] = 1
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("wrapper is not an io.ReaderFrom")
		}
		w.(io.ReaderFrom).ReadFrom(strings.NewReader("copied"))
	}))
	rec := serve(h, "/")
	if rec.Body.String() != "copied" || sessionCookie(rec) == nil {
		t.Errorf("body %q cookie %v", rec.Body.String(), sessionCookie(rec))
	}
}

func TestSaveAtEndWhenNothingWritten(t *testing.T) {
	m := newTestManager(t)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).AddFlash("info", "hello")
	}))
	rec := serve(h, "/")
	if rec.Code != http.StatusOK || sessionCookie(rec) == nil {
		t.Errorf("code %d cookie %v", rec.Code, sessionCookie(rec))
	}
}

func TestInformationalStatusDoesNotCommit(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		Get(r).Data["a"] = 1
		w.WriteHeader(http.StatusCreated)
	}))
	srv := httptest.NewServer(h) // the recorder does not model 1xx
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(resp.Cookies()) != 1 {
		t.Errorf("status %d cookies %v: change after 103 Early Hints not saved", resp.StatusCode, resp.Cookies())
	}
}

func TestErrorHandlerReplacesResponse(t *testing.T) {
	store := newMemStore()
	store.saveErr = errors.New("down")
	m := newTestManager(t, WithStore(store))
	var writeErr error
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data["a"] = 1
		w.Header().Set("X-Handler", "yes")
		_, writeErr = w.Write([]byte("secret page"))
		w.Write([]byte("more"))
	}))
	rec := serve(h, "/")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("code %d body %q", rec.Code, rec.Body.String())
	}
	if writeErr == nil {
		t.Error("the handler's Write did not fail")
	}
}

func TestChangesAfterResponseStarted(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "streamed")
		Get(r).Data["late"] = "yes"
	}))
	serve(h, "/", c)
	if got := serve(appMux(m), "/get?k=late", c).Body.String(); got != "yes" {
		t.Errorf("late change on a stored session: %q, want it saved", got)
	}
	// A fresh session's late change cannot reach the client: dropped.
	_, before, _ := store.counts()
	serve(h, "/")
	if _, after, _ := store.counts(); after != before {
		t.Errorf("fresh late change saved %d times", after-before)
	}
}

func TestDestroyThenFlashStartsNewSession(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	c := sessionCookie(serve(appMux(m), "/set?k=user&v=alice"))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(w, r); err != nil {
			t.Error(err)
		}
		Get(r).AddFlash("info", "logged out")
	}))
	rec := serve(h, "/", c)
	cookies := rec.Header().Values("Set-Cookie")
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie = %q, want one", cookies)
	}
	nc := sessionCookie(rec)
	if nc.Value == c.Value || !validID(nc.Value) || store.has(c.Value) {
		t.Fatalf("new cookie %v, old still stored %v", nc, store.has(c.Value))
	}
	if got := serve(appMux(m), "/get?k=user", nc).Body.String(); got != "<nil>" {
		t.Errorf("new session carries old data: %q", got)
	}
}

func TestFlashesThroughMiddleware(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		t.Run(fmt.Sprintf("store=%v", withStore), func(t *testing.T) {
			var opts []ConfigOption
			if withStore {
				opts = append(opts, WithStore(newMemStore()))
			}
			m := newTestManager(t, opts...)
			mux := http.NewServeMux()
			mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
				Get(r).AddFlash("success", "saved!")
				Get(r).AddFlash("info", "check mail")
				http.Redirect(w, r, "/show", http.StatusSeeOther)
			})
			mux.HandleFunc("/show", func(w http.ResponseWriter, r *http.Request) {
				sess := Get(r)
				if !sess.HasFlash("success") {
					fmt.Fprint(w, "none")
					return
				}
				v, _ := sess.GetFlash("success")
				fmt.Fprintf(w, "%v|%d", v, len(sess.GetFlashes()))
			})
			h := m.Middleware(mux)
			c := sessionCookie(serve(h, "/add"))
			rec := serve(h, "/show", c)
			if rec.Body.String() != "saved!|1" {
				t.Fatalf("first read: %q", rec.Body.String())
			}
			if nc := sessionCookie(rec); nc != nil {
				c = nc // sealed cookies change when the flashes are consumed
			}
			if got := serve(h, "/show", c).Body.String(); got != "none" {
				t.Errorf("second read: %q, want the flashes gone", got)
			}
		})
	}
}

func TestHijackErrorWhenSaveFails(t *testing.T) {
	store := newMemStore()
	store.saveErr = errors.New("down")
	m := newTestManager(t, WithStore(store))
	w := &sessionWriter{ResponseWriter: hijackable{httptest.NewRecorder()}, m: m, r: httptest.NewRequest("GET", "/", nil), sess: m.New()}
	w.sess.Data["a"] = 1
	if _, _, err := w.Hijack(); !errors.Is(err, store.saveErr) {
		t.Errorf("Hijack: %v", err)
	}
}

type hijackable struct{ *httptest.ResponseRecorder }

func (hijackable) Hijack() (c netConn, rw *bufio.ReadWriter, err error) { return nil, nil, nil }

// An explicit Save with a rotation after the body started cannot set the
// new cookie: the old ID must stay valid (it was deleted, logging the user
// out).
func TestSaveAfterTheResponseStartedKeepsTheClientsSession(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := Get(r)
		if r.URL.Path == "/login" {
			sess.Data["user"] = "alice"
			fmt.Fprint(w, "ok")
			return
		}
		fmt.Fprint(w, "streaming...") // response started
		m.Rotate(sess)
		if err := m.Save(w, sess); err != nil {
			t.Errorf("Save: %v", err)
		}
	}))
	c := sessionCookie(serve(h, "/login"))
	rec := serve(h, "/rotate", c)
	if nc := sessionCookie(rec); nc == nil && !store.has(c.Value) {
		t.Fatalf("old ID %s deleted but no new cookie reached the client: user logged out", c.Value)
	}
}

// A handler replacing Vary does not drop the Vary: Cookie every response
// carries.
func TestVaryCookieSurvivesAHandlerSettingVary(t *testing.T) {
	m := newTestManager(t, WithStore(newMemStore()))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		fmt.Fprint(w, "hello ", Get(r).Data["user"])
	}))
	rec := serve(h, "/")
	if !headerHas(rec.Result().Header, "Vary", "Cookie") {
		t.Fatalf("Vary = %q, want it to include Cookie", rec.Result().Header.Values("Vary"))
	}
}

// An explicit Save, then a handler setting its caching policy: the
// response that sets the cookie still says no-cache="Set-Cookie".
func TestSetCookieKeepsNoCacheAfterAHandlerSetsCacheControl(t *testing.T) {
	m := newTestManager(t, WithStore(newMemStore()))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := Get(r)
		sess.Data["csrf"] = "x"
		if err := m.Save(w, sess); err != nil {
			t.Fatal(err)
		}
		w.Header().Set("Cache-Control", "public, max-age=600")
		fmt.Fprint(w, "page")
	}))
	rec := serve(h, "/")
	res := rec.Result()
	if sessionCookie(rec) != nil && !headerHas(res.Header, "Cache-Control", cacheControlSetCookie) {
		t.Fatalf("Set-Cookie sent with Cache-Control %q", res.Header.Values("Cache-Control"))
	}
}

// The 503 that replaces next's response does not carry next's headers.
func TestErrorResponseDropsTheHandlersHeaders(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	store.saveErr = errors.New("redis down")
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Get(r).Data["k"] = "v"
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Location", "/next")
		w.WriteHeader(http.StatusFound)
	}))
	rec := serve(h, "/")
	res := rec.Result()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, k := range []string{"Content-Encoding", "Location"} {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("503 error response carries handler's %s: %q", k, v)
		}
	}
	if cc := res.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" || !headerHas(res.Header, "Vary", "Cookie") {
		t.Errorf("503 error response: Cache-Control %q, Vary %q; want no-store and Cookie", cc, res.Header.Values("Vary"))
	}
}

// sessionx-style code calling Load inside the middleware when rotation is
// due gets the middleware's session: one new ID, holding the handler's
// changes (they were saved under a second ID the client never got).
func TestLoadInsideTheMiddlewareReturnsItsSession(t *testing.T) {
	clock := useFakeClock(t)
	store := newMemStore()
	m := newTestManager(t, WithStore(store), WithRotationInterval(time.Minute))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := m.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		sess.Data[r.URL.Query().Get("k")] = "v"
		if err := m.Save(w, sess); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(w, "ok")
	}))
	c := sessionCookie(serve(h, "/?k=a"))
	clock.Advance(2 * time.Minute)
	c2 := sessionCookie(serve(h, "/?k=b", c))
	if c2 == nil {
		t.Fatal("no cookie")
	}
	got, err := store.Load(c2.Value)
	if err != nil {
		t.Fatalf("client's new cookie %s loads nothing: %v", c2.Value, err)
	}
	if got.Data["b"] != "v" {
		t.Fatalf("handler's saved change lost: client's session has %v", got.Data)
	}
}
