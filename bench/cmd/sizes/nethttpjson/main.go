// Command nethttpjson is a bare net/http server that uses encoding/json's
// encoder: the baseline for what the store alone adds to a server that
// already uses encoding/json.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(map[string]any{"a": 1})
		fmt.Fprint(w, string(b))
	})
	http.ListenAndServe("127.0.0.1:8080", nil)
}
