package browser

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's Chromium, which scripts/deps.sh installs.
const chromium = "/usr/bin/chromium"

// demoBin is the demo, built once by TestMain.
var demoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "browser-suite")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demoBin = filepath.Join(dir, "sessiondemo")
	build := exec.Command("go", "build", "-o", demoBin, "./cmd/sessiondemo")
	build.Dir = ".." // the root module
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the demo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startDemo runs the demo with two instances and args, and returns their
// base URLs; it stops the demo (SIGINT, as Ctrl-C) when the test ends.
func startDemo(t *testing.T, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(demoBin, append([]string{"-addr", "127.0.0.1:0", "-instances", "2"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with a test binary killed by its timeout
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder // written by the reader until it closes read
	urls, read := make(chan string, 2), make(chan struct{})
	go func() {
		defer close(read)
		listening := regexp.MustCompile(`instance \d listening on (http://\S+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, out)
		close(urls)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-read: // the pipe ends when the demo does; Wait comes after the reads
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-read
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("demo log:\n%s", log.String())
		}
	})
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < 2 {
		select {
		case u, ok := <-urls:
			if !ok {
				t.Fatalf("the demo stopped before listening")
			}
			got = append(got, u)
		case <-timeout:
			t.Fatal("the demo is not listening after 30s")
		}
	}
	return got[0], got[1]
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// the context of its first tab. When the test fails, each tab made with
// newTab saves a screenshot next to the test output.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("REDISSTORE_SKIP_REAL") == "1" {
			t.Skipf("%s is missing (scripts/deps.sh installs it)", chromium)
		}
		t.Fatalf("%s is missing: scripts/deps.sh installs it (%v)", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
		// No name resolves but loopback's: Chromium asks for Google's
		// hosts at start otherwise, and this machine has no network.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.0.0.1"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chromium, err)
	}
	t.Cleanup(func() {
		// Closed, not killed: a killed Chromium leaves its temporary
		// directories and child processes behind.
		closing, stop := context.WithTimeout(ctx, 10*time.Second)
		chromedp.Cancel(closing)
		stop()
		cancel()
		cancelAlloc()
	})
	screenshotOnFailure(t, ctx, "1")
	return ctx
}

// newTab returns a tab of the browser of ctx with cookies of its own (a
// new browser context, as a second browser or a private window).
func newTab(t *testing.T, ctx context.Context, name string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	screenshotOnFailure(t, tab, name)
	return tab
}

// screenshotOnFailure saves a screenshot of tab, when the test fails, as
// <test>-<name>.png in $BROWSER_SHOTS (default: the package directory,
// next to the test output).
func screenshotOnFailure(t *testing.T, tab context.Context, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		dir := os.Getenv("BROWSER_SHOTS")
		if dir == "" {
			dir = "."
		}
		file := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		t.Logf("screenshot of the failing page: %s", file)
	})
}

// step runs actions in tab within 20s.
func step(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates tab to url.
func open(t *testing.T, tab context.Context, url string) {
	t.Helper()
	step(t, tab, "open "+url, chromedp.Navigate(url))
}

// eval returns the value of a JavaScript expression in tab.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// field returns the text of the element with id on tab's page, or "".
func field(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return eval[string](t, tab, fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ""`, id))
}

// location returns tab's URL.
func location(t *testing.T, tab context.Context) string {
	t.Helper()
	return eval[string](t, tab, `location.href`)
}

// submit clicks the button of the form sel, as a user would, and waits
// until the page it leads to has loaded (after its redirects).
func submit(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	mark := markPage(t, tab)
	step(t, tab, "submit "+sel, chromedp.Click(chromedp.CSS(sel+" button")))
	waitNewPage(t, tab, mark)
}

// back goes back in tab's history, as the browser's button does, and
// waits until the page shows (loaded, or restored from the back-forward
// cache, which fires no load event).
func back(t *testing.T, tab context.Context) {
	t.Helper()
	mark := markPage(t, tab)
	eval[any](t, tab, `history.back()`)
	waitNewPage(t, tab, mark)
}

// marks counts the pages markPage marked.
var marks atomic.Int64

// markPage marks the page tab shows, for waitNewPage.
func markPage(t *testing.T, tab context.Context) string {
	t.Helper()
	mark := fmt.Sprint(marks.Add(1))
	eval[string](t, tab, `window.__mark = "`+mark+`"`)
	return mark
}

// waitNewPage waits until tab shows a page other than the one marked with
// mark, loaded or restored from the back-forward cache.
func waitNewPage(t *testing.T, tab context.Context, mark string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__mark !== "`+mark+`" && document.readyState === "complete"`))
		cancel()
		if err == nil && shown {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new page after 20s (last error %v)", err)
		}
	}
}

// page is what a test reads of a page: the user, the visit counter and
// the flashes, by the ids the demo's templates give them.
type page struct {
	url, user, visits, info, errMsg string
}

func (p page) String() string {
	return fmt.Sprintf("%s user=%q visits=%q info=%q error=%q", p.url, p.user, p.visits, p.info, p.errMsg)
}

// read returns what tab shows.
func read(t *testing.T, tab context.Context) page {
	t.Helper()
	return page{url: location(t, tab), user: field(t, tab, "user"), visits: field(t, tab, "visits"),
		info: field(t, tab, "flash-info"), errMsg: field(t, tab, "flash-error")}
}

// cookie returns the cookie name that tab would send to url (HttpOnly
// ones included, which scripts cannot read), or nil.
func cookie(t *testing.T, tab context.Context, url, name string) *network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	c, err := chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) (*network.Cookie, error) {
		res, err := cdp.Call(ctx, target, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		if err != nil {
			return nil, err
		}
		for _, c := range res.Cookies {
			if c.Name == name {
				return c, nil
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatalf("cookies of %s: %v", url, err)
	}
	return c
}

// cookieValue is the value of cookie, "" when there is none.
func cookieValue(t *testing.T, tab context.Context, url, name string) string {
	t.Helper()
	if c := cookie(t, tab, url, name); c != nil {
		return c.Value
	}
	return ""
}

// setCookie gives tab's browser context the cookie name=value for url, as
// a stolen or fixated cookie would be sent.
func setCookie(t *testing.T, tab context.Context, url, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, target, network.SetCookie, network.SetCookieParams{URL: url, Name: name, Value: value, Path: "/"})
	})
	if err != nil {
		t.Fatalf("set cookie %s for %s: %v", name, url, err)
	}
}
