#!/usr/bin/env bash
# What the user index costs: the README's "Log out everywhere" table.
# BenchmarkUserIndex with the index off and on, in one test binary, one
# caller at a time, pinned beside one redis-server (BENCH_PIN, default 1);
# rounds interleaved so that drift hits both sides alike.
#
# Environment: BENCH_COUNT rounds (default 10), BENCH_TIME (default 1s),
# BENCH_PIN (default 1), BENCH_OUT (raw results).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-10}
benchtime=${BENCH_TIME:-1s}
pin=${BENCH_PIN:-1}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"

. scripts/bench-redis.sh
benchstat=$(find_benchstat)

go test -c -o "$out/users.test" .
start_bench_redis "$out" "$pin"
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
for i in $(seq "$count"); do
	echo "== round $i of $count" >&2
	taskset -c "$pin" "$out/users.test" -test.run '^$' -test.bench 'BenchmarkUserIndex' -test.cpu 1 \
		-test.benchtime "$benchtime" >>"$out/users.txt"
done
echo "### A login and a change, the user index off and on"
"$benchstat" -col /index "$out/users.txt"
echo "raw results: $out" >&2
