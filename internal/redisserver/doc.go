// Package redisserver starts real redis-server processes for integration
// tests: single servers (password, ACL users, AOF, TLS with certificates made
// in the test), Sentinel groups and Redis Clusters.
//
// Every server listens on 127.0.0.1 only, on ports found free with
// net.Listen("tcp", "127.0.0.1:0") (never 6379), and works in its own
// t.TempDir, where its redis.conf, its log (redis.log) and its AOF live.
// Start waits until the server answers INFO as the process it started and has
// loaded its data; a failure message carries the tail of the log. Processes
// are killed in t.Cleanup and carry Pdeathsig SIGKILL, so a crashed test
// binary leaves none behind (Pdeathsig follows the OS thread that started the
// process; the Go runtime keeps its threads unless a goroutine exits while
// locked to one).
//
// Fault tests use Kill (kill -9), Shutdown (SIGTERM, graceful), Restart (same
// port, directory and configuration), Pause and Resume (SIGSTOP/SIGCONT).
// Do runs admin commands through redis-cli on the plain port with the
// server's admin credentials (Config.AdminUser/AdminPassword, by default the
// requirepass).
//
// When redis-server is missing, tests fail with a message naming the Debian
// package (apt-get install -y redis-server), or skip when
// REDISSTORE_SKIP_REAL=1.
//
// Typical setup times on a 2-core machine: a single server 30-100 ms, TLS
// about 0.2 s (plus a one-time probe), a Sentinel group 2-4 s, a 3-master
// cluster about 2 s.
package redisserver
