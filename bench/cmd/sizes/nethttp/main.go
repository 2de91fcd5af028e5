// Command nethttp counts visits in a package-level counter: the binary size
// baseline of a net/http server, with no sessions and no encoding/json.
package main

import (
	"fmt"
	"log"
	"net/http"
	"sync"
)

var (
	mu     sync.Mutex // protects visits
	visits int
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		visits++
		n := visits
		mu.Unlock()
		fmt.Fprintln(w, n)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
