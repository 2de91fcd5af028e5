package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// noEnv is an empty environment.
func noEnv(string) string { return "" }

// lockedBuffer collects the demo's log; servers write to it from their
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDemo starts the demo with args and stops it in t.Cleanup, showing
// its log if the test failed.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo log:\n%s", logs)
		}
	})
	cfg, err := parseConfig(args, noEnv, logs)
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(cfg, log.New(logs, "", log.Lmicroseconds))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return d
}

// browser is an HTTP client with a cookie jar, as a browser would be.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// response is a page as the tests look at it.
type response struct {
	code int
	url  string // the final URL, after redirects
	body string
}

// field returns the text of the element with the given id, or "".
func (p response) field(id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{code: resp.StatusCode, url: resp.Request.URL.String(), body: string(body)}
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// cookie returns the session cookie the browser holds for u.
func (b *browser) cookie(u string) string {
	b.t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.client.Jar.Cookies(parsed) {
		if c.Name == "sessionx" {
			return c.Value
		}
	}
	return ""
}

// want fails the test unless p came from wantURL with the given fields.
func want(t *testing.T, step string, p response, wantURL string, fields map[string]string) {
	t.Helper()
	if p.code != http.StatusOK {
		t.Fatalf("%s: status %d, body %q", step, p.code, p.body)
	}
	if p.url != wantURL {
		t.Errorf("%s: ended at %s, want %s", step, p.url, wantURL)
	}
	for id, v := range fields {
		if got := p.field(id); got != v {
			t.Errorf("%s: %s = %q, want %q", step, id, got, v)
		}
	}
}

// TestEndToEndTwoInstances drives two demo instances sharing a real
// redis-server with one browser, as behind a load balancer.
func TestEndToEndTwoInstances(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	d := startDemo(t, "-addr", "127.0.0.1:0", "-instances", "2", "-redis", "redis://"+srv.Addr+"/0")
	a, b := d.instances[0].url, d.instances[1].url
	exists := func(id string) string { return srv.Do(t, "EXISTS", "sessionx:"+id) }
	br := newBrowser(t)

	// The counter counts across both instances.
	for i, base := range []string{a, b, a} {
		p := br.get(base + "/")
		want(t, "counter", p, base+"/", map[string]string{
			"visits":   []string{"1", "2", "3"}[i],
			"instance": []string{"instance 1", "instance 2", "instance 1"}[i],
			"user":     "",
		})
	}
	before := br.cookie(a)
	if before == "" || br.cookie(b) != before {
		t.Fatalf("cookie %q for A, %q for B: want one session cookie", before, br.cookie(b))
	}
	if got := exists(before); got != "1" {
		t.Fatalf("EXISTS before login = %s, want 1", got)
	}

	// The dashboard sends an anonymous user to the login page, with a flash.
	p := br.get(b + "/dashboard")
	want(t, "dashboard before login", p, b+"/login", nil)
	if !strings.Contains(p.field("flash-error"), "Please log in") {
		t.Errorf("no login flash: %q", p.body)
	}

	// Login on A rotates the ID; the flash shows on the dashboard.
	p = br.post(a+"/login", url.Values{"user": {"alice"}})
	want(t, "login", p, a+"/dashboard", map[string]string{"user": "alice", "visits": "4"})
	if !strings.Contains(p.field("flash-info"), "Welcome, alice") {
		t.Errorf("no welcome flash after login: %q", p.body)
	}
	after := br.cookie(a)
	if after == "" || after == before {
		t.Fatalf("session ID %q after login, want a new one (was %q)", after, before)
	}
	if got := srv.Do(t, "GET", "sessionx:"+before); !strings.HasPrefix(got, "!retired:") {
		t.Errorf("the pre-login ID holds %q, want a retired marker (login retires it)", got)
	}
	if got := exists(after); got != "1" {
		t.Errorf("EXISTS of the new ID = %s, want 1", got)
	}

	// B sees the login; the flash is gone (shown once).
	p = br.get(b + "/dashboard")
	want(t, "dashboard on B", p, b+"/dashboard", map[string]string{"user": "alice", "instance": "instance 2", "flash-info": ""})
	p = br.get(b + "/")
	want(t, "counter on B after login", p, b+"/", map[string]string{"visits": "6", "user": "alice"})

	// The pre-login cookie, replayed within the rotation grace, loads an
	// empty session that is neither saved nor sent: a request the browser
	// sent before the login's answer cannot replace the logged-in cookie.
	replay := newBrowser(t)
	replay.client.Jar.SetCookies(mustURL(t, b), []*http.Cookie{{Name: "sessionx", Value: before, Path: "/"}})
	p = replay.get(b + "/")
	want(t, "replayed pre-login cookie", p, b+"/", map[string]string{"visits": "1", "user": ""})
	if got := replay.cookie(b); got != before {
		t.Errorf("replayed cookie got session %q, want no new cookie", got)
	}
	p = replay.get(a + "/dashboard")
	want(t, "replayed cookie on the dashboard", p, a+"/login", nil)

	// Logout on B ends the session in Redis (a retired marker replaces it);
	// the flash starts a new anonymous session.
	p = br.post(b+"/logout", nil)
	want(t, "logout", p, b+"/", map[string]string{"user": "", "visits": "1"})
	if !strings.Contains(p.field("flash-info"), "logged out") {
		t.Errorf("no logout flash: %q", p.body)
	}
	if got := srv.Do(t, "GET", "sessionx:"+after); !strings.HasPrefix(got, "!retired:") {
		t.Errorf("the logged-out ID holds %q, want a retired marker", got)
	}
	if got := br.cookie(a); got == after || got == "" {
		t.Errorf("cookie after logout %q, want a new session", got)
	}
	p = br.get(a + "/dashboard")
	want(t, "dashboard after logout", p, a+"/login", map[string]string{"flash-info": ""})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRunDefaultMiniredis runs the demo as main does, with no Redis
// configured: it starts miniredis, serves, and stops when ctx is done.
func TestRunDefaultMiniredis(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, noEnv, logs) }()

	listening := regexp.MustCompile(`instance 1 listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("run returned %v before serving; log:\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening after 10s; log:\n%s", logs)
		}
	}
	if !strings.Contains(logs.String(), "miniredis") {
		t.Errorf("the log does not say which Redis is used:\n%s", logs)
	}
	br := newBrowser(t)
	for _, n := range []string{"1", "2"} {
		want(t, "counter", br.get(base+"/"), base+"/", map[string]string{"visits": n})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// The demo's in-process Redis expires keys as time goes, as Redis does:
// a key set to live 100 ms is gone after a few ticks (each 10 ms here),
// not kept until the demo stops.
func TestMiniredisExpiresKeysAsTimeGoes(t *testing.T) {
	mini := miniredis.RunT(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go expireKeys(mini, 10*time.Millisecond, stop, done)
	defer func() { close(stop); <-done }()
	mini.Set("k", "v")
	mini.SetTTL("k", 100*time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); mini.Exists("k"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a key set to live 100 ms still exists 10 s later")
		}
	}
}
