// Command gorilla counts visits in a session kept in Redis by
// gorilla/sessions with boj/redistore on redigo.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/boj/redistore"
	"github.com/gorilla/sessions"
)

func main() {
	key := []byte("your-32-byte-secret-key-here!!!!")
	store, err := redistore.NewRediStore(10, "tcp", "localhost:6379", "", "", key)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, "session")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := sess.Values["n"].(int)
		sess.Values["n"] = n + 1
		if err := sessions.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, n+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
