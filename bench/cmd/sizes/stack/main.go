// Command stack counts visits in a session kept in Redis by the session
// manager's middleware over redisstore: the whole session stack of this
// module.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/session"
)

func main() {
	store, err := redisstore.NewRedisStore(redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	key := []byte("your-32-byte-secret-key-here!!!!")
	manager, err := session.NewManager(session.DefaultConfig(key, session.WithStore(store)))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1 // the middleware saves it before the first write
		fmt.Fprintln(w, n+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", manager.Middleware(mux)))
}
