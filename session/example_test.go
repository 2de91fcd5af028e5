package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/sessionx-redis/redisstore/session"
)

// memoryStore stands in for redisstore.NewRedisStore in these examples, so
// they run without a Redis server.
type memoryStore struct {
	mu sync.Mutex
	m  map[string]session.Session
}

func (s *memoryStore) Load(id string) (*session.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok {
		return nil, session.ErrNotFound
	}
	return &sess, nil
}

func (s *memoryStore) Save(sess *session.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[sess.ID] = *sess
	return nil
}

func (s *memoryStore) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// get runs a GET request through h, sending and updating the cookie jar.
func get(h http.Handler, path string, jar map[string]*http.Cookie) string {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range jar {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		jar[c.Name] = c
	}
	return rec.Body.String()
}

// A visit counter with the middleware and sessions kept in a store (in the
// README, redisstore.NewRedisStore).
func Example() {
	store := &memoryStore{m: map[string]session.Session{}} // redisstore.NewRedisStore(redisstore.Options{...})
	cfg := session.DevConfig([]byte("your-32-byte-secret-key-here!!!!"),
		session.WithStore(store),
		session.WithMaxAge(2*time.Hour),
		session.WithAbsoluteTimeout(12*time.Hour),
	)
	manager, err := session.NewManager(cfg)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		count, _ := sess.Data["count"].(float64)
		sess.Data["count"] = count + 1
		fmt.Fprintf(w, "Visits: %.0f", sess.Data["count"])
	})
	handler := manager.Middleware(mux) // http.ListenAndServe(":8080", handler)

	jar := map[string]*http.Cookie{}
	fmt.Println(get(handler, "/", jar))
	fmt.Println(get(handler, "/", jar))
	fmt.Println(len(store.m), "session stored")
	// Output:
	// Visits: 1
	// Visits: 2
	// 1 session stored
}

// Rotate the session ID on login; the old ID is deleted from the store, and
// Destroy logs out.
func ExampleManager_Rotate() {
	store := &memoryStore{m: map[string]session.Session{}}
	manager, err := session.NewManager(session.DevConfig([]byte("your-32-byte-secret-key-here!!!!"), session.WithStore(store)))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		sess.Data["user"] = "alice"
		manager.Rotate(sess)
		sess.AddFlash("success", "Welcome back!")
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
	mux.HandleFunc("/dashboard", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		msg, _ := sess.GetFlash("success")
		fmt.Fprintf(w, "%v %v", sess.Data["user"], msg)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := manager.Destroy(w, r); err != nil {
			http.Error(w, "logout failed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "bye")
	})
	handler := manager.Middleware(mux)

	jar := map[string]*http.Cookie{}
	get(handler, "/login", jar)
	fmt.Println(get(handler, "/dashboard", jar))
	fmt.Println(get(handler, "/logout", jar), len(store.m), "sessions stored")
	// Output:
	// alice Welcome back!
	// bye 0 sessions stored
}

// Answer store outages with a page of your own instead of the default 503.
func ExampleWithErrorHandler() {
	cfg := session.DefaultConfig([]byte("your-32-byte-secret-key-here!!!!"),
		session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "Sessions are unavailable, please retry shortly.", http.StatusServiceUnavailable)
		}),
	)
	if _, err := session.NewManager(cfg); err != nil {
		panic(err)
	}
	fmt.Println("ok")
	// Output: ok
}
