#!/usr/bin/env bash
# What conditional saves cost: the README's "Concurrent requests" tables.
#
#  1. The store alone: Save (SET) against SaveVersion (the manager's
#     conditional save, one script), and Load (GET) against LoadVersion
#     (GET + PTTL), in one test binary.
#  2. Through the middleware, 9 requests in 10 reading and 1 writing
#     (BenchmarkMiddlewareMix): this commit against BASE (default 626c7f5,
#     the last commit before conditional saves), the benchmark file copied
#     into a worktree of BASE.
#
# One redis-server on a free port, pinned to BENCH_PIN; the sequential runs
# pin the benchmark to the same CPU, the parallel ones run with -cpu 2.
# Rounds are interleaved so that drift hits both sides alike.
#
# Environment: BENCH_COUNT rounds (default 10), BENCH_TIME (default 1s),
# BENCH_PIN (default 1), BASE (default 626c7f5), BENCH_OUT (raw results).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-10}
benchtime=${BENCH_TIME:-1s}
pin=${BENCH_PIN:-1}
base=${BASE:-626c7f5}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"

. scripts/bench-redis.sh
benchstat=$(find_benchstat)

echo "== building this commit and $base" >&2
go test -c -o "$out/new.test" .
wt=$(mktemp -d)
git worktree add -q --detach "$wt" "$base"
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
cp bench_middleware_test.go "$wt/"
(cd "$wt" && go test -c -o "$out/old.test" .)

start_bench_redis "$out" "$pin"
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; kill "$REDIS_PID" 2>/dev/null || true' EXIT

bench() { # bench <binary> <pattern> <cpu>
	local args=(-test.run '^$' -test.bench "$2" -test.cpu "$3" -test.benchtime "$benchtime")
	if [ "$3" = 1 ]; then
		taskset -c "$pin" "$1" "${args[@]}"
	else
		"$1" "${args[@]}"
	fi
}
for i in $(seq "$count"); do
	echo "== round $i of $count" >&2
	bench "$out/new.test" 'BenchmarkStore/(Save|SaveVersion|Load|LoadVersion)$' 1 >>"$out/store.txt"
	bench "$out/new.test" 'BenchmarkStore/(Save|SaveVersion|Load|LoadVersion)Parallel$' 2 >>"$out/store.txt"
	for v in old new; do
		bench "$out/$v.test" 'BenchmarkMiddlewareMix/Sequential' 1 >>"$out/mix-$v.txt"
		bench "$out/$v.test" 'BenchmarkMiddlewareMix/Parallel' 2 >>"$out/mix-$v.txt"
	done
done

# The store table sets each plain call beside its conditional twin: the
# two files carry one name per pair.
grep -E '^BenchmarkStore/(Save|Load)(Parallel)?(-[0-9]+)? ' "$out/store.txt" >"$out/plain.txt"
grep -E '^BenchmarkStore/(Save|Load)Version(Parallel)?(-[0-9]+)? ' "$out/store.txt" |
	sed -E 's#/(Save|Load)Version#/\1#' >"$out/versioned.txt"
echo
echo "### The store: plain (SET, GET) against conditional (script; GET + PTTL)"
"$benchstat" "plain=$out/plain.txt" "conditional=$out/versioned.txt"
echo
echo "### Through the middleware, 90% reads: $base against this commit"
"$benchstat" "before=$out/mix-old.txt" "after=$out/mix-new.txt"
echo "raw results: $out" >&2
