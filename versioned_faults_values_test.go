package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Hostile or foreign values under a session key, through the manager's
// middleware on a real redis-server: each request must end (no loop), never
// panic, never show another user's session, and get a clear outcome: a fresh
// session (a new cookie, its change stored under the new ID) or the error
// handler.

// attackOutcome is what one request with a hostile value produced.
type attackOutcome struct {
	code   int
	body   string
	cookie string // "" none, "-" cleared
	panic  any
}

// attackRequest sends target with cookie id through a.h, within 3 s; a
// request that does not end in time fails the test (a loop).
func attackRequest(t *testing.T, a *app, id, target string) attackOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan attackOutcome, 1)
	go func() {
		var out attackOutcome
		defer func() {
			out.panic = recover()
			done <- out
		}()
		r := httptest.NewRequestWithContext(ctx, "GET", target, nil)
		if id != "" {
			r.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
		}
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		out.code, out.body = w.Code, w.Body.String()
		for _, c := range w.Result().Cookies() {
			if c.Name == "sessionx" {
				out.cookie = c.Value
				if c.MaxAge < 0 {
					out.cookie = "-"
				}
			}
		}
	}()
	select {
	case out := <-done:
		return out
	case <-time.After(4 * time.Second):
		t.Fatalf("request with a hostile value did not end within 4 s (a loop?)")
		return attackOutcome{}
	}
}

// A fixed, well-formed session ID for the key under attack, and a victim's.
const (
	attackID = "AttackAttackAttackAtt0"
	victimID = "VictimVictimVictimVic0"
	otherID  = "OtherOtherOtherOtherO0"
)

func TestAttackFaultsHostileValuesThroughMiddleware(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	bob, _ := json.Marshal(&session.Session{ID: victimID, Data: map[string]interface{}{"user": "bob-the-victim"},
		CreatedAt: time.Now(), UpdatedAt: time.Now()})
	bobUnderAttackID := strings.Replace(string(bob), victimID, otherID, 1) // another ID's JSON
	future := time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	futureJSON, _ := json.Marshal(&session.Session{ID: attackID, Data: map[string]interface{}{"user": "bob-the-victim"},
		CreatedAt: future, UpdatedAt: future})
	futureSess := string(futureJSON) // its own ID, dated in the future: refused (pastLimits)
	huge := strings.Repeat("A", 1<<20)
	cases := []struct {
		name  string
		value string
		other map[string]string // further keys (ID -> value)
	}{
		{"bang", "!", nil},
		{"bang-foreign", "!important: not a marker", nil},
		{"retired-empty-ts", "!retired:", nil},
		{"retired-garbage-ts", "!retired:yesterday", nil},
		{"retired-overflow-ts", "!retired:999999999999999999999999999", nil},
		{"retired-ancient", "!retired:-9223372036854775808", nil},
		{"moved-no-ts", "!moved:" + victimID, nil},
		{"moved-empty-target", "!moved::" + now, nil},
		{"moved-garbage-ts", "!moved:" + victimID + ":soon", nil},
		{"moved-self-loop", "!moved:" + attackID + ":" + now, nil},
		{"moved-two-cycle", "!moved:" + otherID + ":" + now, map[string]string{otherID: "!moved:" + attackID + ":" + now}},
		{"moved-invalid-target", "!moved:../../etc/passwd:" + now, nil},
		{"moved-target-with-colon", "!moved:" + victimID + ":x:" + now, nil},
		{"moved-huge-target", "!moved:" + huge + ":" + now, nil},
		{"retired-huge-ts", "!retired:" + strings.Repeat("9", 1<<20), nil},
		{"moved-to-foreign-json", "!moved:" + otherID + ":" + now, map[string]string{otherID: string(bob)}},
		{"moved-to-garbage", "!moved:" + otherID + ":" + now, map[string]string{otherID: "\x00\xff garbage"}},
		{"other-id-json", bobUnderAttackID, nil},
		{"victim-json", string(bob), nil},
		{"not-json", "<html>hello</html>", nil},
		{"empty-string", "", nil},
		{"json-null", "null", nil},
		{"json-empty-object", "{}", nil},
		{"json-array", `[1,2,3]`, nil},
		{"data-not-object", fmt.Sprintf(`{"id":%q,"data":"bob-the-victim"}`, attackID), nil},
		{"future-dated-session", futureSess, nil},
		{"tilde-value", "~" + string(bob), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rawDo(t, srv.Addr, "FLUSHALL")
			rawDo(t, srv.Addr, "SET", "sessionx:"+attackID, c.value, "EX", "3600")
			rawDo(t, srv.Addr, "SET", "sessionx:"+victimID, string(bob), "EX", "3600")
			for id, v := range c.other {
				rawDo(t, srv.Addr, "SET", "sessionx:"+id, v, "EX", "3600")
			}
			out := attackRequest(t, a, attackID, "/set?x=1")
			checkFreshOutcome(t, a, out)
		})
	}
}

// checkFreshOutcome asserts a request answered with a fresh session: no
// panic, 200 (or the error handler), none of the victim's data, a new cookie
// whose session holds the request's change.
func checkFreshOutcome(t *testing.T, a *app, out attackOutcome) {
	t.Helper()
	if out.panic != nil {
		t.Fatalf("handler panicked: %v", out.panic)
	}
	if strings.Contains(out.body, "bob-the-victim") {
		t.Fatalf("request was handed another user's session: %q", out.body)
	}
	if out.code == http.StatusServiceUnavailable {
		return // the error handler: a clear outcome
	}
	if out.code != http.StatusOK {
		t.Fatalf("status %d %q", out.code, out.body)
	}
	switch out.cookie {
	case "", "-":
		t.Fatalf("response %q set cookie %q: the request's change went nowhere and the client is stuck with its cookie", out.body, out.cookie)
	case attackID:
		t.Fatalf("response re-sent the hostile ID's cookie")
	}
	if d := a.data(out.cookie); d["x"] != "1" || d["user"] != nil {
		t.Fatalf("fresh session %s holds %v, want only x=1", out.cookie, d)
	}
}

// A rotation marker dated in the future (a foreign value, or a server whose
// clock runs ahead) is "within the grace" for as long as the key lives: the
// cookie holder gets an ended session on every request, nothing is saved,
// no new cookie is sent, and a login does not stick. A session dated more
// than a minute in the future is refused (pastLimits); a marker is not.
func TestAttackFaultsFutureRetiredMarkerLocksUserOut(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	future := strconv.FormatInt(time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), 10)
	rawDo(t, srv.Addr, "SET", "sessionx:"+attackID, "!retired:"+future, "EX", "3600")
	checkFreshOutcome(t, a, attackRequest(t, a, attackID, "/set?x=1"))
	out := attackRequest(t, a, attackID, "/login?user=alice")
	if out.cookie == "" || out.cookie == "-" {
		t.Errorf("login with the cookie of a future-dated marker set cookie %q: the user cannot log in while the key lives (TTL %v)",
			out.cookie, rawDo(t, srv.Addr, "TTL", "sessionx:"+attackID).Int)
	}
}

// The same through an automatic rotation's marker to a live session: a
// future date forwards the old cookie past the grace, for as long as the
// marker's key lives.
func TestAttackFaultsFutureMovedMarkerForwardsPastGrace(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	id := a.login("alice")
	// 10 minutes ahead: beyond the documented one-minute clock skew and far
	// beyond the 30 s grace.
	future := strconv.FormatInt(time.Now().Add(10*time.Minute).UnixMilli(), 10)
	rawDo(t, srv.Addr, "SET", "sessionx:"+otherID, "!moved:"+id+":"+future, "EX", "3600")
	out := attackRequest(t, a, otherID, "/read")
	if strings.Contains(out.body, "alice") {
		t.Errorf("a marker dated 10 minutes ahead forwarded the old ID to the session (%q, cookie %q): the grace is stretched by the skew", out.body, out.cookie)
	}
}

// A foreign value starting with '!' that replaced the session after the
// request loaded it: the conflict reply '~!...' is reported as an error
// (503), whereas a foreign value without '!' ends the session quietly. The
// same situation should have the same outcome.
func TestAttackFaultsForeignBangValueMidRequestIsNotAnOutage(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	for _, foreign := range []string{"plain foreign value", "!foreign value", "!retired:garbage"} {
		t.Run(foreign, func(t *testing.T) {
			id := a.login("alice")
			a.gate = func(r *http.Request) {
				rawDo(t, srv.Addr, "SET", "sessionx:"+id, foreign, "EX", "3600")
			}
			out := attackRequest(t, a, id, "/set?x=1")
			a.gate = nil
			if out.panic != nil || out.code != http.StatusOK {
				t.Errorf("save over a foreign value %q: status %d %q, panic %v", foreign, out.code, strings.TrimSpace(out.body), out.panic)
			}
		})
	}
}

// WRONGTYPE keys: under a rotation marker's target, and replacing the
// session while a request is under way (the script's GET then fails).
func TestAttackFaultsWrongTypeKeys(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newApp(t, Options{Addr: srv.Addr})
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)

	t.Run("moved-to-list", func(t *testing.T) {
		rawDo(t, srv.Addr, "FLUSHALL")
		rawDo(t, srv.Addr, "SET", "sessionx:"+attackID, "!moved:"+otherID+":"+now, "EX", "3600")
		rawDo(t, srv.Addr, "RPUSH", "sessionx:"+otherID, "bob-the-victim")
		checkFreshOutcome(t, a, attackRequest(t, a, attackID, "/set?x=1"))
	})
	t.Run("hash-under-id", func(t *testing.T) {
		rawDo(t, srv.Addr, "FLUSHALL")
		rawDo(t, srv.Addr, "HSET", "sessionx:"+attackID, "user", "bob-the-victim")
		checkFreshOutcome(t, a, attackRequest(t, a, attackID, "/set?x=1"))
	})
	for _, route := range []string{"/set?x=1", "/login?user=alice"} {
		t.Run("list-replaces-session-mid-request"+route, func(t *testing.T) {
			id := a.login("alice")
			a.gate = func(r *http.Request) {
				rawDo(t, srv.Addr, "DEL", "sessionx:"+id)
				rawDo(t, srv.Addr, "RPUSH", "sessionx:"+id, "x")
			}
			out := attackRequest(t, a, id, route)
			a.gate = nil
			if out.panic != nil || (out.code != http.StatusOK && out.code != http.StatusServiceUnavailable) {
				t.Fatalf("status %d %q, panic %v", out.code, out.body, out.panic)
			}
			t.Logf("outcome: %d, cookie %q", out.code, out.cookie)
			// The next request with that cookie gets a fresh session.
			checkFreshOutcome(t, a, attackRequest(t, a, id, "/set?x=1"))
		})
	}
}
