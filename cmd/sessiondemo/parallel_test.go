package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// The /parallel page's button, as a browser runs it: the login and eight
// requests that each write their own key leave together, spread over two
// instances, and whatever order they run in the browser ends logged in
// with the logged-in cookie. Twenty rounds, each with a new browser.
func TestEndToEndLoginWithParallelRequests(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	d := startDemo(t, "-addr", "127.0.0.1:0", "-instances", "2", "-redis", "redis://"+srv.Addr+"/0")
	bases := []string{d.instances[0].url, d.instances[1].url}
	for round := range 20 {
		br := newBrowser(t)
		want(t, "parallel page", br.get(bases[0]+"/parallel"), bases[0]+"/parallel", map[string]string{"ticks": "0"})
		user := "alice" + strconv.Itoa(round)

		requests := []*http.Request{newPost(t, bases[round%2]+"/login", url.Values{"user": {user}})}
		for n := range 8 {
			requests = append(requests, newPost(t, bases[n%2]+"/tick?n="+strconv.Itoa(n), nil))
		}
		start := make(chan struct{})
		errs := make(chan error, len(requests))
		var wg sync.WaitGroup
		for _, req := range requests {
			wg.Go(func() {
				<-start
				resp, err := br.client.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						err = &statusError{req.URL.Path, resp.StatusCode}
					}
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		p := br.get(bases[1] + "/parallel")
		if p.field("user") != user {
			t.Fatalf("round %d: after the login with parallel requests the page shows user %q, want %q (cookie %s)",
				round, p.field("user"), user, br.cookie(bases[1]))
		}
		if n, _ := strconv.Atoi(p.field("ticks")); n > 8 {
			t.Errorf("round %d: %d ticks", round, n)
		}
	}
}

type statusError struct {
	path string
	code int
}

func (e *statusError) Error() string { return e.path + ": status " + strconv.Itoa(e.code) }

// newPost returns a form POST to u.
func newPost(t *testing.T, u string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
