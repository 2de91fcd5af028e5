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
. scripts/bench-redis.sh
benchstat=$(find_benchstat)

pinned_rounds seal '^(BenchmarkSeal|BenchmarkSealedStore)$'
echo "### Sealing and opening the realistic session, without I/O"
"$benchstat" -filter '.name:Seal' "$results"
echo
echo "### The store's calls, sealing off, on, and on with HashKeys"
"$benchstat" -filter '.name:SealedStore' -col /seal "$results"
echo "raw results: $out" >&2
