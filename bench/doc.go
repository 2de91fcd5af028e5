// Package bench compares redisstore with session stores and raw clients
// built on go-redis, rueidis and redigo, and with a minimal client of its
// own, against one real redis-server. It is a separate module so that the
// root module never requires another Redis client; everything lives in its
// tests (see bench_test.go) and in cmd/sizes.
//
// Run scripts/bench.sh at the root for the pinned, interleaved comparison
// with benchstat tables.
package bench
