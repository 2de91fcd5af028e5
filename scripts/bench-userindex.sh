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
. scripts/bench-redis.sh
benchstat=$(find_benchstat)

pinned_rounds users 'BenchmarkUserIndex'
echo "### A login and a change, the user index off and on"
"$benchstat" -col /index "$results"
echo "raw results: $out" >&2
