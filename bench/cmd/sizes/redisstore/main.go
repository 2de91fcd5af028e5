// Command redisstore serves one session per request, loaded from and saved
// to Redis with redisstore.
package main

import (
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/session"
)

func main() {
	st, err := redisstore.NewRedisStore(redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		sess, err := st.LoadContext(r.Context(), id)
		if errors.Is(err, redisstore.ErrSessionNotFound) {
			sess, err = &session.Session{ID: id, Data: map[string]interface{}{}}, nil
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := sess.Data["n"].(float64)
		sess.Data["n"] = n + 1
		if err := st.SaveContext(r.Context(), sess); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, n+1)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
