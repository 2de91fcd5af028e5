package browser

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// demoRedis runs test against the demo on its embedded Redis and on a
// real redis-server.
func demoRedis(t *testing.T, test func(t *testing.T, a, b string)) {
	t.Run("embedded", func(t *testing.T) {
		a, b := startDemo(t)
		test(t, a, b)
	})
	t.Run("redis-server", func(t *testing.T) {
		srv := redisserver.Start(t, redisserver.Config{})
		a, b := startDemo(t, "-redis", "redis://"+srv.Addr+"/0")
		test(t, a, b)
	})
}

// login logs user in through base's login form.
func login(t *testing.T, tab context.Context, base, user string) page {
	t.Helper()
	open(t, tab, base+"/login")
	step(t, tab, "type the user name", chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=user]`), user))
	submit(t, tab, `form[action="/login"]`)
	return read(t, tab)
}

// The demo as a user meets it, two instances behind one browser: the
// counter counts across both, a login rotates the ID and shows on the
// other instance, a logout on one ends the session on both, and the back
// button after it shows no logged-in page.
func TestDemoTwoInstances(t *testing.T) {
	demoRedis(t, func(t *testing.T, a, b string) {
		tab := newBrowser(t)
		for i, base := range []string{a, b, a} {
			open(t, tab, base+"/")
			if p := read(t, tab); p.visits != []string{"1", "2", "3"}[i] || p.user != "" {
				t.Fatalf("counter visit %d: %v", i+1, p)
			}
		}
		before := cookieValue(t, tab, a, "sessionx")
		if p := login(t, tab, a, "alice"); p.url != a+"/dashboard" || p.user != "alice" || !strings.Contains(p.info, "Welcome, alice") {
			t.Fatalf("after the login: %v", p)
		}
		after := cookieValue(t, tab, a, "sessionx")
		if before == "" || after == "" || after == before {
			t.Fatalf("session cookie %q before the login, %q after: want a new ID", before, after)
		}
		// The pre-login ID, replayed in another browser on the other
		// instance (a fixated or stolen cookie), leads to no login.
		attacker := newTab(t, tab, "attacker")
		setCookie(t, attacker, b, "sessionx", before)
		open(t, attacker, b+"/dashboard")
		if p := read(t, attacker); p.user != "" || p.url != b+"/login" {
			t.Fatalf("the pre-login ID, replayed after the login: %v", p)
		}
		open(t, tab, b+"/dashboard")
		if p := read(t, tab); p.user != "alice" || field(t, tab, "instance") != "instance 2" {
			t.Fatalf("the other instance's dashboard: %v", p)
		}

		submit(t, tab, `form[action="/logout"]`)
		if p := read(t, tab); p.url != b+"/" || p.user != "" || !strings.Contains(p.info, "logged out") {
			t.Fatalf("after the logout: %v", p)
		}
		// The logged-in ID, replayed after the logout on the other
		// instance, leads to no session: the logout ended it in Redis,
		// not only in this browser.
		setCookie(t, attacker, a, "sessionx", after)
		open(t, attacker, a+"/dashboard")
		if p := read(t, attacker); p.user != "" || p.url != a+"/login" {
			t.Fatalf("the logged-in ID, replayed after the logout: %v", p)
		}
		back(t, tab)
		if p := read(t, tab); p.user != "" {
			t.Fatalf("the back button after the logout shows a logged-in page: %v", p)
		}
		for _, base := range []string{a, b} {
			open(t, tab, base+"/dashboard")
			if p := read(t, tab); p.url != base+"/login" || p.user != "" {
				t.Fatalf("after the logout the dashboard of %s: %v", base, p)
			}
		}
	})
}

// The login of the parallel-requests page, sent while eight fetches of the
// session run, leaves the browser logged in, round after round.
func TestDemoLoginDuringParallelFetches(t *testing.T) {
	demoRedis(t, func(t *testing.T, a, _ string) {
		tab := newBrowser(t)
		for round := range 5 {
			open(t, tab, a+"/parallel")
			user := "user" + string(rune('a'+round))
			step(t, tab, "type the user name", chromedp.SendKeys(chromedp.CSS(`#parallel-login input[name=user]`), user))
			submit(t, tab, "#parallel-login")
			if p := read(t, tab); p.user != user || p.url != a+"/parallel" {
				t.Fatalf("round %d: after the login with parallel fetches: %v", round+1, p)
			}
		}
	})
}

// "Your devices": one user in two browsers (their own cookies) lists two
// devices, this one marked; "log out this device" and "log out all other
// devices" log the other browser out, and it sees the login page.
func TestDemoYourDevices(t *testing.T) {
	demoRedis(t, func(t *testing.T, a, b string) {
		laptop := newBrowser(t)
		phone := newTab(t, laptop, "phone")
		login(t, laptop, a, "alice")
		login(t, phone, b, "alice")

		open(t, laptop, a+"/dashboard")
		if n, cur := eval[int](t, laptop, `document.querySelectorAll("tr.device").length`),
			eval[int](t, laptop, `document.querySelectorAll("tr.device.current").length`); n != 2 || cur != 1 {
			t.Fatalf("the laptop lists %d devices, %d current; want 2 and 1", n, cur)
		}
		if shot := os.Getenv("UPDATE_SCREENSHOT"); shot != "" {
			png, err := chromedp.Run(laptop, chromedp.FullScreenshot(100))
			if err != nil || os.WriteFile(shot, png, 0o644) != nil {
				t.Fatalf("screenshot: %v", err)
			}
		}
		submit(t, laptop, `tr.device:not(.current) form`)
		if p := read(t, laptop); !strings.Contains(p.info, "is logged out") {
			t.Fatalf("after log out this device: %v", p)
		}
		open(t, phone, b+"/dashboard")
		if p := read(t, phone); p.url != b+"/login" {
			t.Fatalf("the phone, logged out by the laptop: %v", p)
		}

		login(t, phone, b, "alice")
		open(t, laptop, a+"/dashboard")
		submit(t, laptop, "#logout-others")
		if p := read(t, laptop); p.info != "Logged out 1 other device." || p.user != "alice" {
			t.Fatalf("after log out all other devices: %v", p)
		}
		open(t, phone, b+"/dashboard")
		if p := read(t, phone); p.url != b+"/login" {
			t.Fatalf("the phone after log out all other devices: %v", p)
		}
		open(t, laptop, a+"/dashboard")
		if p := read(t, laptop); p.user != "alice" {
			t.Fatalf("the laptop after logging the others out: %v", p)
		}
	})
}
