package redisstore

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// bigSession is a session carrying about size bytes of data.
func bigSession(id string, size int) *session.Session {
	s := testSession(id)
	s.Data["blob"] = strings.Repeat("x", size)
	return s
}

// isOOM reports whether err is Redis's OOM error reply.
func isOOM(err error) bool {
	var se resp.Error
	return errors.As(err, &se) && se.Kind == "OOM"
}

// Scenario 9, noeviction: when Redis is out of memory, Save returns a typed
// OOM error, the session middleware answers 503 through its error handler,
// and Load and Delete keep working.
func TestReliabilityOutOfMemory(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"}})
	s := openStore(t, Options{Addr: srv.Addr})
	const size = 64 << 10
	saved := 0
	var oom error
	for i := 0; i < 1000; i++ {
		err := s.Save(bigSession(fmt.Sprintf("big-%d", i), size))
		if err != nil {
			oom = err
			break
		}
		saved++
	}
	if !isOOM(oom) {
		t.Fatalf("after %d Saves of %d KiB: err = %v, want an OOM server error", saved, size>>10, oom)
	}
	// Load and Delete still work.
	loadOK := 0
	for i := range saved {
		if got, err := s.Load(fmt.Sprintf("big-%d", i)); err == nil && got.Data["blob"] == strings.Repeat("x", size) {
			loadOK++
		} else if err != nil {
			t.Errorf("Load under OOM: %v", err)
		}
	}
	if _, err := s.Load("never-saved"); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("Load of a missing session under OOM: %v", err)
	}
	// The middleware: a handler that stores a big value gets 503 from the
	// default error handler; a custom one sees the OOM error itself.
	var handled error
	key := bytes.Repeat([]byte("k"), 32)
	put := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.Get(r).Data["blob"] = strings.Repeat("y", size)
		w.Write([]byte("stored"))
	})
	def, err := session.NewManager(session.DefaultConfig(key, session.WithStore(s)))
	if err != nil {
		t.Fatal(err)
	}
	custom, err := session.NewManager(session.DefaultConfig(key, session.WithStore(s),
		session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			http.Error(w, "store full", http.StatusInsufficientStorage)
		})))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	def.Middleware(put).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	status := rec.Code
	custom.Middleware(put).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if status != http.StatusServiceUnavailable {
		t.Errorf("middleware status %d under OOM, want 503", status)
	}
	if !isOOM(handled) {
		t.Errorf("error handler got %v, want the OOM error", handled)
	}
	deleted := 0
	for i := range saved {
		if err := s.Delete(fmt.Sprintf("big-%d", i)); err != nil {
			t.Errorf("Delete under OOM: %v", err)
		} else {
			deleted++
		}
	}
	// With room again, Save works.
	errAfter := s.Save(bigSession("after-delete", size))
	t.Logf("figure: maxmemory 2mb noeviction: %d Saves of %d KiB, then %v; %d of %d Loads ok, middleware %d (error handler got OOM: %v), %d of %d Deletes ok, Save after the Deletes: %v",
		saved, size>>10, oom, loadOK, saved, status, isOOM(handled), deleted, saved, errAfter)
	if errAfter != nil {
		t.Errorf("Save after freeing memory: %v", errAfter)
	}
}

// Scenario 9, volatile-lru: a session Redis evicted to make room loads as
// a clean ErrSessionNotFound.
func TestReliabilityEvictedSessionNotFound(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru"}})
	s := openStore(t, Options{Addr: srv.Addr})
	const n, size = 200, 32 << 10 // 6 MiB of sessions into 2 MiB
	for i := range n {
		if err := s.Save(bigSession(fmt.Sprintf("ev-%d", i), size)); err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
	}
	evictedBefore, _ := strconv.Atoi(srv.Info(t, "stats")["evicted_keys"])
	found, notFound, other := 0, 0, 0
	for i := range n {
		got, err := s.Load(fmt.Sprintf("ev-%d", i))
		switch {
		case err == nil && got.ID == fmt.Sprintf("ev-%d", i):
			found++
		case errors.Is(err, ErrSessionNotFound) && errors.Is(err, session.ErrNotFound):
			notFound++
		default:
			other++
			t.Errorf("Load of ev-%d: %v, %v", i, got, err)
		}
	}
	// Redis may evict more while the Loads run (it makes room before any
	// command), so the sessions not found lie between the two counts.
	evicted, _ := strconv.Atoi(srv.Info(t, "stats")["evicted_keys"])
	t.Logf("figure: maxmemory 2mb volatile-lru: %d Saves of %d KiB, %d evicted by Redis (%d by the end of the Loads); Loads: %d found, %d ErrSessionNotFound, %d other errors",
		n, size>>10, evictedBefore, evicted, found, notFound, other)
	if evictedBefore == 0 || notFound == 0 {
		t.Errorf("nothing evicted (evicted_keys %d, not found %d)", evictedBefore, notFound)
	}
	if notFound < evictedBefore || notFound > evicted {
		t.Errorf("%d sessions not found, %d..%d evicted", notFound, evictedBefore, evicted)
	}
}
