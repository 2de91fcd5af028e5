#!/usr/bin/env bash
# Compares redisstore with go-redis, rueidis, redigo and a raw stdlib client
# (the bench/ module) against one redis-server, and prints benchstat tables
# of each peer against redisstore plus the binary sizes of cmd/sizes
# (scripts/sizes.sh).
#
# The sequential benchmarks run with the test binary and redis-server pinned
# to the same CPU (taskset), because unpinned sequential timings on a small
# noisy machine swing by 50-130% between rounds; clients are interleaved
# (each round runs every client once) so that drift hits all of them alike.
# The parallel ones (16+ goroutines) run unpinned with -cpu 2; the server
# stays pinned. Allocations, B/op and CPU per op are the steady figures.
#
# Environment:
#   BENCH_COUNT  rounds (default 10); BENCH_COUNT=3 BENCH_TIME=300ms is a quick run
#   BENCH_TIME   -benchtime of each benchmark (default 1s)
#   BENCH_PIN    the CPU to pin to (default 1)
#   BENCH_OUT    directory for the raw results (default: a new temp directory)
#   BENCH_SKIP_SIZES=1  skips the binary sizes
#
# `bash scripts/bench.sh e2e` runs the end-to-end comparison of whole
# session stacks instead (scripts/bench-e2e.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = e2e ]; then
	exec bash scripts/bench-e2e.sh # the whole stacks, end to end
fi
count=${BENCH_COUNT:-10}
benchtime=${BENCH_TIME:-1s}
pin=${BENCH_PIN:-1}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
clients=(redisstore goredis rueidis redigo raw)
started=$(date +%s)

. scripts/bench-redis.sh
benchstat=$(find_benchstat)

# One redis-server, pinned, on a free port (never 6379), persistence off.
start_bench_redis "$out" "$pin"
trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT

echo "== building the benchmark binary" >&2
(cd bench && go test -c -o "$out/bench.test" .)
run() { # run <-cpu> <pattern> [taskset args...]: one pass, appended to stdout
	local cpu=$1 pattern=$2
	shift 2
	"$@" "$out/bench.test" -test.run '^$' -test.bench "$pattern" -test.count 1 \
		-test.cpu "$cpu" -test.benchtime "$benchtime"
}

: >"$out/seq.txt"
: >"$out/par.txt"
: >"$out/json.txt"
for i in $(seq "$count"); do
	echo "== round $i/$count: sequential (pinned to CPU $pin)" >&2
	for c in "${clients[@]}"; do
		run 1 "^Benchmark(Load|Save|Delete|Get|Set)\$/^client=$c\$" taskset -c "$pin" >>"$out/seq.txt"
	done
	run 1 '^BenchmarkJSON' taskset -c "$pin" >>"$out/json.txt"
done
for i in $(seq "$count"); do
	echo "== round $i/$count: parallel (-cpu 2, unpinned)" >&2
	for c in "${clients[@]}"; do
		run 2 "^Benchmark(Load|Save|Delete|Get|Set)Parallel\$/^client=$c\$" >>"$out/par.txt"
	done
done

echo "# redisstore benchmarks"
echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -sr)"
echo "go:      $(go version | cut -d' ' -f3-)"
echo "redis:   $(redis-server --version | cut -d' ' -f3,4)"
echo "run:     BENCH_COUNT=$count BENCH_TIME=$benchtime scripts/bench.sh (raw results in $out)"
echo
echo "## Sequential, client and redis-server pinned to CPU $pin (-cpu 1), each peer against redisstore"
echo
"$benchstat" -col /client "$out/seq.txt"
echo
echo "## Parallel, 16+ goroutines, -cpu 2, unpinned (server pinned), each peer against redisstore"
echo
"$benchstat" -col /client "$out/par.txt"
echo
echo "## JSON alone: session.Session's own methods against encoding/json by reflection"
echo
"$benchstat" -col /codec "$out/json.txt"

if [ "${BENCH_SKIP_SIZES:-}" != "1" ]; then
	echo
	scripts/sizes.sh
fi
echo
echo "total time: $(($(date +%s) - started)) s"
