// Command scs counts visits in a session kept in Redis by
// alexedwards/scs/v2 with its redisstore on redigo.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
)

func main() {
	pool := &redis.Pool{
		MaxIdle: 10,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("tcp", "localhost:6379")
		},
	}
	sessionManager := scs.New()
	sessionManager.Store = redisstore.New(pool)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := sessionManager.GetInt(r.Context(), "n") + 1
		sessionManager.Put(r.Context(), "n", n) // LoadAndSave saves it
		fmt.Fprintln(w, n)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", sessionManager.LoadAndSave(mux)))
}
