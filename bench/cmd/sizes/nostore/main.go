// Command nostore serves one session per request from a map: the binary
// size baseline of a net/http server without any store.
package main

import (
	"fmt"
	"log"
	"net/http"
	"sync"

	"github.com/sessionx-redis/redisstore/session"
)

func main() {
	var mu sync.Mutex
	sessions := map[string]*session.Session{}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		mu.Lock()
		sess := sessions[id]
		if sess == nil {
			sess = &session.Session{ID: id, Data: map[string]interface{}{}}
		}
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1
		sessions[id] = sess
		mu.Unlock()
		fmt.Fprintln(w, n+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
