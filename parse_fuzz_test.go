package redisstore

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzURL parses arbitrary URLs: no panic, and a password in the user
// information never shows in an error or in Options.String.
func FuzzURL(f *testing.F) {
	for _, seed := range []string{
		"redis://localhost:6379/0", "rediss://h:1/2?dial_timeout=3s", "unix:///tmp/r.sock?db=1",
		"redis://u:p@h:1", "redis://[::1]:6379", "redis://h:99999", "redis://h:1:2",
		"redis-sentinel://h1:1,h2:2/0?master_name=m", "redis-cluster://h1:1,h2:2", "%zz", "redis://@/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		newConfig(Options{URL: raw}) // must not panic

		// The same shapes with a password that must never be shown.
		rest := raw
		if _, after, ok := strings.Cut(raw, "://"); ok {
			rest = after
		}
		for _, scheme := range []string{"redis", "redis-sentinel", "unix"} {
			u := scheme + "://user:" + marker + "@" + rest
			c, err := newConfig(Options{URL: u})
			out := fmt.Sprintf("%v %+v %#v", err, Options{URL: u}, Options{URL: u})
			if c != nil {
				out += c.Options.String()
			}
			if strings.Contains(out, marker) {
				t.Fatalf("password shown for %q: %s", u, out)
			}
		}
	})
}
