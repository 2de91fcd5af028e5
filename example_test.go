package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
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
