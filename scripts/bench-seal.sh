#!/usr/bin/env bash
# What sealed values cost: the README's "Encryption at rest" tables.
# BenchmarkSeal (sealing and opening alone) and BenchmarkSealedStore
# (Load, Save, LoadVersion, SaveVersion with sealing off, on, and on with
# HashKeys) in one test binary, one caller at a time, pinned beside one
# redis-server (BENCH_PIN, default 1); rounds interleaved so that drift
# hits every mode alike.
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

go test -c -o "$out/seal.test" .
start_bench_redis "$out" "$pin"
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
for i in $(seq "$count"); do
	echo "== round $i of $count" >&2
	taskset -c "$pin" "$out/seal.test" -test.run '^$' -test.bench '^(BenchmarkSeal|BenchmarkSealedStore)$' -test.cpu 1 \
		-test.benchtime "$benchtime" >>"$out/seal.txt"
done
echo "### Sealing and opening the realistic session, without I/O"
"$benchstat" -filter '.name:Seal' "$out/seal.txt"
echo
echo "### The store's calls, sealing off, on, and on with HashKeys"
"$benchstat" -filter '.name:SealedStore' -col /seal "$out/seal.txt"
echo "raw results: $out" >&2
