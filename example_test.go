package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// The README's quick start: a store, the session manager on it, and a
// handler that counts visits.
func Example_quickStart() {
	secretKey := []byte("0123456789abcdef0123456789abcdef") // 32 bytes: AES-256

	store, err := redisstore.NewRedisStore(redisstore.Options{
		Addr:   "localhost:6379",
		Prefix: "myapp:session:",
		TTL:    24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err) // New pings Redis and fails fast
	}
	defer store.Close()

	manager, err := session.NewManager(session.DefaultConfig(secretKey, session.WithStore(store)))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		visits, _ := sess.Data["visits"].(float64)
		sess.Data["visits"] = visits + 1
		fmt.Fprintf(w, "visits: %v\n", visits+1)
	})
	log.Fatal(http.ListenAndServe(":8080", manager.Middleware(mux)))
}

// A store of your own session type: New takes a function that returns its
// ID. With sessionx, pass sessionx's *session.Session the same way.
func ExampleNew() {
	mr, _ := miniredis.Run() // an in-process Redis for the example
	defer mr.Close()

	type Session struct {
		ID   string
		User string
	}
	store, err := redisstore.New(redisstore.Options{Addr: mr.Addr(), TTL: time.Hour},
		func(s *Session) string { return s.ID })
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := store.SaveContext(ctx, &Session{ID: "s1", User: "alice"}); err != nil {
		log.Fatal(err)
	}
	s, err := store.LoadContext(ctx, "s1")
	fmt.Println(s.User, err)
	v, _ := mr.Get("sessionx:s1")
	fmt.Println(v)

	_, err = store.Load("nobody")
	fmt.Println(errors.Is(err, redisstore.ErrSessionNotFound))
	// Output:
	// alice <nil>
	// {"ID":"s1","User":"alice"}
	// true
}

// Log out everywhere: with WithUserKey the manager indexes each session
// under its user; after a password change, RevokeUser ends the user's
// other sessions, and UserSessions lists what is left ("your devices").
func Example_logOutEverywhere() {
	mr, _ := miniredis.Run() // an in-process Redis for the example
	defer mr.Close()
	store, err := redisstore.NewRedisStore(redisstore.Options{Addr: mr.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	manager, err := session.NewManager(session.DefaultConfig([]byte("0123456789abcdef"),
		session.WithStore(store), session.WithUserKey("user")))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		manager.Rotate(sess)
		sess.Data["user"] = r.FormValue("user")
	})
	mux.HandleFunc("POST /password", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		user, _ := sess.Data["user"].(string)
		// ... the password changed: every other session of the user ends.
		n, err := manager.RevokeUser(r.Context(), user, sess)
		fmt.Fprintln(w, "ended", n, "other sessions", err)
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		user, _ := session.Get(r).Data["user"].(string)
		if user == "" {
			fmt.Fprintln(w, "not logged in")
			return
		}
		list, err := manager.UserSessions(r.Context(), user)
		for _, info := range list {
			fmt.Fprintln(w, "device; this one:", info.Current(r))
		}
		if err != nil {
			fmt.Fprintln(w, err)
		}
	})
	h := manager.Middleware(mux)
	send := func(method, target, cookie string) (body, setCookie string) {
		r := httptest.NewRequest(method, target, nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "sessionx", Value: cookie})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			setCookie = c.Value
		}
		return w.Body.String(), setCookie
	}

	var devices []string // alice logs in on three devices
	for range 3 {
		_, cookie := send("POST", "/login?user=alice", "")
		devices = append(devices, cookie)
	}
	body, _ := send("GET", "/devices", devices[0])
	fmt.Print(body)
	body, _ = send("POST", "/password", devices[0])
	fmt.Print(body)
	body, _ = send("GET", "/devices", devices[0])
	fmt.Print(body)
	body, _ = send("GET", "/devices", devices[1]) // logged out: no user
	fmt.Print(body)
	// Output:
	// device; this one: false
	// device; this one: false
	// device; this one: true
	// ended 2 other sessions <nil>
	// device; this one: true
	// not logged in
}
