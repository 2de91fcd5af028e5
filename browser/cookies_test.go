package browser

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/sessionx-redis/redisstore/session"
)

// The session cookie's rules as Chromium applies them, on small apps of
// the session manager (sealed cookies: the rules are the cookie's, not
// the store's).

var testKey = []byte("0123456789abcdef0123456789abcdef")

// cookieApp serves, under cfg's manager on http://127.0.0.1:port:
//   - /login?user=: logs the user in (Rotate, then Data["user"]);
//   - /whoami (GET or POST): the user (#user), how many cookies of the
//     session's name came (#cookies) and whether the first one is the
//     planted one (#first);
//   - /plant?path=: a page whose script plants a cookie of the session's
//     name, value "planted", for the path (default /whoami: sent before
//     the session's own, whose path is shorter);
//   - /form: a same-site form that POSTs to /whoami.
func cookieApp(t *testing.T, cfg session.Config) string {
	t.Helper()
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.CookieName
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		m.Rotate(sess)
		sess.Data["user"] = r.FormValue("user")
		fmt.Fprintf(w, `<p id="user">%s</p>`, html.EscapeString(r.FormValue("user")))
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		user, _ := session.Get(r).Data["user"].(string)
		cookies := r.CookiesNamed(name)
		first := ""
		if len(cookies) > 0 {
			first = cookies[0].Value
		}
		fmt.Fprintf(w, `<p id="user">%s</p><p id="cookies">%d</p><p id="first">%v</p>`,
			html.EscapeString(user), len(cookies), first == "planted")
	})
	mux.HandleFunc("/plant", func(w http.ResponseWriter, r *http.Request) {
		path := r.FormValue("path")
		if path == "" {
			path = "/whoami"
		}
		fmt.Fprintf(w, `<script>document.cookie = %q</script><p id="planted">yes</p>`, name+"=planted; path="+path)
	})
	mux.HandleFunc("/form", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/whoami" id="post"><button>post</button></form>`)
	})
	srv := httptest.NewServer(m.Middleware(htmlPages(mux)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// htmlPages serves h's answers as HTML, which Go's sniffing would not
// always tell.
func htmlPages(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		h.ServeHTTP(w, r)
	})
}

// loggedIn logs alice in on app and returns what /whoami then shows.
func loggedIn(t *testing.T, tab context.Context, app string) string {
	t.Helper()
	open(t, tab, app+"/login?user=alice")
	open(t, tab, app+"/whoami")
	return field(t, tab, "user")
}

// The cookie of each configuration survives in Chromium on
// http://127.0.0.1, which browsers treat as a secure origin: DevConfig,
// DefaultConfig (Secure) and a "__Host-" name (Secure, Path=/, no Domain).
func TestCookieKeptOnLoopback(t *testing.T) {
	browser := newBrowser(t)
	for name, cfg := range map[string]session.Config{
		"DevConfig":               session.DevConfig(testKey),
		"DefaultConfig (Secure)":  session.DefaultConfig(testKey),
		"__Host- name (Secure)":   session.DefaultConfig(testKey, session.WithCookieName("__Host-sessionx")),
		"__Secure- name (Secure)": session.DefaultConfig(testKey, session.WithCookieName("__Secure-sessionx")),
	} {
		t.Run(name, func(t *testing.T) {
			tab := newTab(t, browser, "tab")
			app := cookieApp(t, cfg)
			if user := loggedIn(t, tab, app); user != "alice" {
				t.Fatalf("after the login /whoami sees user %q: Chromium dropped the cookie", user)
			}
			c := cookie(t, tab, app, cfg.CookieName)
			if c == nil || !c.HTTPOnly || c.Secure != cfg.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
				t.Fatalf("the cookie as Chromium keeps it: %+v; want HttpOnly, Secure %v, SameSite Lax, Path /", c, cfg.Secure)
			}
		})
	}
}

// SameSite=Lax (the default): a POST from another site (a page served as
// http://localhost:PORT: another host, so another site, unlike another
// port) does not carry the session, while a POST from the app's own page
// and a cross-site link (a top-level GET) do.
func TestSameSiteLaxCrossSitePost(t *testing.T) {
	tab := newBrowser(t)
	app := cookieApp(t, session.DevConfig(testKey))
	if user := loggedIn(t, tab, app); user != "alice" {
		t.Fatalf("not logged in: %q", user)
	}
	attacker := httptest.NewServer(htmlPages(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post" action="%s/whoami" id="post"><button>post</button></form><a id="link" href="%s/whoami">link</a>`, app, app)
	})))
	defer attacker.Close()
	evil := strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)

	open(t, tab, evil+"/")
	submit(t, tab, "#post")
	if user, n := field(t, tab, "user"), field(t, tab, "cookies"); user != "" || n != "0" {
		t.Fatalf("a cross-site POST reached the app as user %q with %s session cookies", user, n)
	}
	open(t, tab, app+"/form")
	submit(t, tab, "#post")
	if user := field(t, tab, "user"); user != "alice" {
		t.Fatalf("a same-site POST reached the app as user %q, want alice", user)
	}
	open(t, tab, evil+"/")
	mark := markPage(t, tab)
	eval[any](t, tab, `document.getElementById("link").click()`)
	waitNewPage(t, tab, mark)
	if user := field(t, tab, "user"); user != "alice" {
		t.Fatalf("a cross-site link reached the app as user %q, want alice (Lax sends top-level GETs)", user)
	}

	// The control: with SameSite=None the same cross-site POST carries
	// the session, so the check above is the attribute's doing.
	none := cookieApp(t, session.DefaultConfig(testKey, session.WithSameSite("None")))
	if user := loggedIn(t, tab, none); user != "alice" {
		t.Fatalf("not logged in with SameSite=None: %q", user)
	}
	open(t, tab, evil+"/")
	eval[any](t, tab, `document.getElementById("post").action = "`+none+`/whoami"`)
	submit(t, tab, "#post")
	if user := field(t, tab, "user"); user != "alice" {
		t.Fatalf("with SameSite=None a cross-site POST reached the app as user %q, want alice", user)
	}
}

// A cookie of the session's name planted for a longer path (by a script
// on the site, or a sibling subdomain for the parent domain) comes first
// in the Cookie header; the manager tries every cookie of the name, so
// the user stays logged in, where a manager reading only the first one
// would hand out a fresh session.
func TestPlantedCookieDoesNotLockUserOut(t *testing.T) {
	tab := newBrowser(t)
	app := cookieApp(t, session.DevConfig(testKey))
	if user := loggedIn(t, tab, app); user != "alice" {
		t.Fatalf("not logged in: %q", user)
	}
	open(t, tab, app+"/plant")
	open(t, tab, app+"/whoami")
	if n, first := field(t, tab, "cookies"), field(t, tab, "first"); n != "2" || first != "true" {
		t.Fatalf("/whoami got %s session cookies, the planted one first: %s; want 2, true", n, first)
	}
	if user := field(t, tab, "user"); user != "alice" {
		t.Fatalf("with a planted cookie first, /whoami sees user %q, want alice", user)
	}

	// The session cookie scoped to /whoami (WithPath), a cookie planted
	// for the parent path /: sent second, and the user stays logged in.
	scoped := cookieApp(t, session.DevConfig(testKey, session.WithPath("/whoami")))
	open(t, tab, scoped+"/login?user=alice")
	open(t, tab, scoped+"/plant?path=/")
	open(t, tab, scoped+"/whoami")
	if user, n, first := field(t, tab, "user"), field(t, tab, "cookies"), field(t, tab, "first"); user != "alice" || n != "2" || first != "false" {
		t.Fatalf("a cookie planted for the parent path: user %q, %s session cookies, the planted one first: %s; want alice, 2, false", user, n, first)
	}
}

// A sibling subdomain plants a cookie of the session's name for the parent
// domain before the user logs in (evil.example.localhost setting it for
// example.localhost; Chromium resolves *.localhost to loopback): it has
// the session cookie's path and is older, so the browser sends it first
// to app.example.localhost. The manager tries every cookie of the name, so
// the user stays logged in.
func TestSiblingSubdomainCookieDoesNotLockUserOut(t *testing.T) {
	tab := newBrowser(t)
	app := strings.Replace(cookieApp(t, session.DevConfig(testKey)), "127.0.0.1", "app.example.localhost", 1)
	sibling := httptest.NewServer(htmlPages(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<script>document.cookie = "sessionx=planted; domain=example.localhost; path=/"</script><p id="planted">yes</p>`)
	})))
	defer sibling.Close()
	open(t, tab, strings.Replace(sibling.URL, "127.0.0.1", "evil.example.localhost", 1)+"/")
	if user := loggedIn(t, tab, app); user != "alice" {
		t.Fatalf("with a sibling's cookie sent first, /whoami sees user %q, want alice", user)
	}
	if n, first := field(t, tab, "cookies"), field(t, tab, "first"); n != "2" || first != "true" {
		t.Fatalf("/whoami got %s session cookies, the planted one first: %s; want 2, true", n, first)
	}
}
