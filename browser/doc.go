// Package browser is the browser test suite: the demo (cmd/sessiondemo)
// and the session cookie's rules, driven in Debian's Chromium through the
// DevTools protocol (chromedp), since Go's HTTP client enforces none of a
// browser's cookie rules. It is its own module, so that the library's
// go.mod never requires chromedp. The tests need /usr/bin/chromium
// (scripts/deps.sh installs it) and start their own Redis.
package browser
