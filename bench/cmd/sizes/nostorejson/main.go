// Command nostorejson is nostore with each session kept as encoding/json
// output: it shows how much of a store's size encoding/json alone adds.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"sync"

	"github.com/sessionx-redis/redisstore/session"
)

func main() {
	var mu sync.Mutex
	sessions := map[string][]byte{}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		mu.Lock()
		defer mu.Unlock()
		sess := &session.Session{ID: id, Data: map[string]interface{}{}}
		if b, ok := sessions[id]; ok {
			if err := json.Unmarshal(b, sess); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1
		b, err := json.Marshal(sess)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sessions[id] = b
		fmt.Fprintln(w, n+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
