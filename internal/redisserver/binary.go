package redisserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SkipEnv is the environment variable that turns a missing redis-server into
// a skipped test instead of a failed one when it is set to "1".
const SkipEnv = "REDISSTORE_SKIP_REAL"

// Binary returns the path of redis-server. When it is missing the test is
// skipped if REDISSTORE_SKIP_REAL=1 is set and fails otherwise, with a message
// naming the Debian package that provides it.
func Binary(t testing.TB) string {
	t.Helper()
	return lookup(t, "redis-server")
}

// CLIBinary returns the path of redis-cli, with the same skip-or-fail rule as
// Binary.
func CLIBinary(t testing.TB) string {
	t.Helper()
	return lookup(t, "redis-cli")
}

// lookup finds name in PATH or in the usual system directories.
func lookup(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin", "/usr/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("redisserver: %s not found; install the Debian package with \"apt-get install -y redis-server\" (it provides redis-server and redis-cli)", name)
	if os.Getenv(SkipEnv) == "1" {
		t.Skip(msg + "; skipped because " + SkipEnv + "=1")
	}
	t.Fatal(msg + "; or set " + SkipEnv + "=1 to skip tests that need a real Redis")
	return ""
}

// tlsProbe caches whether the redis-server build understands --tls-port.
var tlsProbe struct {
	once sync.Once
	ok   bool
	out  string
}

// tlsSupported reports whether bin was built with TLS. A TLS build started
// with both ports 0 complains that it listens nowhere; a build without TLS
// rejects tls-port as a bad directive.
func tlsSupported(bin string) (bool, string) {
	tlsProbe.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--port", "0", "--tls-port", "0", "--save", "", "--appendonly", "no")
		cmd.Dir = os.TempDir()
		out, _ := cmd.CombinedOutput()
		tlsProbe.out = string(out)
		tlsProbe.ok = strings.Contains(tlsProbe.out, "not listen anywhere")
	})
	return tlsProbe.ok, tlsProbe.out
}
