package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeStack is an in-memory session stack: cookie "sid" = user name,
// counters in a map. loseWrite makes it acknowledge one /incr of user u0
// (200, right body) without storing it: one lost write.
// down, once set, makes every request 500 (a store that never comes back).
type fakeStack struct {
	mu        sync.Mutex
	n         map[string]int
	lost      bool
	loseWrite bool
	down      bool
}

func (f *fakeStack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "store down", 500)
		return
	}
	if r.URL.Path == "/login" {
		u := r.URL.Query().Get("user")
		f.n[u] = 0
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: u, Path: "/"})
		answer(w, u, 0)
		return
	}
	c, err := r.Cookie("sid")
	if err != nil {
		answer(w, "", 0)
		return
	}
	u := c.Value
	n := f.n[u]
	if r.URL.Path == "/incr" {
		n++
		if f.loseWrite && !f.lost && u == "u0" {
			f.lost = true // acknowledged, not stored
		} else {
			f.n[u] = n
		}
	}
	answer(w, u, n)
}

// One lost write is one failure: the answer that shows it. Run keeps the
// user's expected counter after the mismatch, so every later answer of
// that user fails too: "failures"/"errors" counts requests after a lost
// write, not lost writes.
func TestReviewOneLostWriteIsOneFailure(t *testing.T) {
	f := &fakeStack{n: map[string]int{}, loseWrite: true}
	ts := httptest.NewServer(f)
	defer ts.Close()
	res, err := Run(context.Background(), ts.URL, Load{Users: 8, Clients: 2, Reads: 0.5, Duration: 300 * time.Millisecond}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures != 1 {
		t.Errorf("one lost write gave %d failures of %d requests (first: %s)", res.Failures, res.Requests, res.First)
	}
}

// A store that goes away for good and never answers again: every session
// is unreachable, yet LostUsers ("users who lost their session") is 0.
func TestReviewUsersLostIsZeroWhenNothingAnswers(t *testing.T) {
	f := &fakeStack{n: map[string]int{}}
	ts := httptest.NewServer(f)
	defer ts.Close()
	go func() {
		time.Sleep(150 * time.Millisecond)
		f.mu.Lock()
		f.down, f.n = true, map[string]int{} // all sessions gone
		f.mu.Unlock()
	}()
	res, err := Run(context.Background(), ts.URL, Load{Users: 8, Clients: 2, Reads: 0.5, Duration: 400 * time.Millisecond}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("requests %d failures %d lost users %d unreached %d", res.Requests, res.Failures, res.LostUsers, res.Unreached)
	if res.LostUsers+res.Unreached != 8 {
		t.Errorf("every session is gone, LostUsers = %d, Unreached = %d (failures %d of %d)", res.LostUsers, res.Unreached, res.Failures, res.Requests)
	}
}

var _ = strconv.Itoa

// /login "gives the session a new ID": fakeStack's cookie is the user name,
// the same before and after every login, yet Run finds nothing wrong: each
// user logs in once, with an empty jar, so no existing session is ever
// rotated and the rotation (scs RenewToken, gorilla's ID clearing,
// m.Rotate) is neither measured nor checked.
func TestReviewLoginWithoutRotationPasses(t *testing.T) {
	ts := httptest.NewServer(&fakeStack{n: map[string]int{}})
	defer ts.Close()
	res, err := Run(context.Background(), ts.URL, Load{Users: 8, Clients: 2, Reads: 0.5, Logins: 0.2, Duration: 200 * time.Millisecond}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures == 0 {
		t.Errorf("a stack whose login never changes the session ID: %d requests, 0 failures", res.Requests)
	}
}
