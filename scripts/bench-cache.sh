#!/usr/bin/env bash
# What the client-side cache (Options.CacheSize) saves: the README's
# "Client-side cache" tables. BenchmarkCachedStore (Load and LoadVersion,
# cache off and on, on loopback and through a proxy that delays each way),
# BenchmarkMiddlewareCache (nine reads in ten through the session manager,
# cache off and on) and BenchmarkCacheStaleness (the lag between another
# process's Save and the cache serving it, 10,000 writes a round), one
# caller at a time (-cpu 1), pinned beside one redis-server (BENCH_PIN,
# default 1), in interleaved rounds.
#
# Environment: BENCH_COUNT rounds (default 10), BENCH_TIME (default 1s),
# BENCH_PIN (default 1), BENCH_OUT (raw results).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-redis.sh
benchstat=$(find_benchstat)

pinned_rounds cache '^(BenchmarkCachedStore|BenchmarkMiddlewareCache)$'
staleness=$out/staleness.txt
for i in $(seq "${BENCH_COUNT:-10}"); do
	echo "== staleness round $i" >&2
	taskset -c "${BENCH_PIN:-1}" "$out/cache.test" -test.run '^$' -test.bench '^BenchmarkCacheStaleness$' \
		-test.cpu 1 -test.benchtime 10000x >>"$staleness"
done
echo "### Load and LoadVersion of the realistic session, cache off and on"
"$benchstat" -filter '.name:CachedStore' -col /cache "$results"
echo
echo "### Through the session manager's middleware, nine requests in ten only read"
"$benchstat" -filter '.name:MiddlewareCache' -col /cache "$results"
echo
echo "### Lag between another process's Save and the cache serving it (10,000 writes a round)"
"$benchstat" "$staleness"
echo "raw results: $out" >&2
