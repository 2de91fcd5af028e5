# Sourced by the benchmark scripts. find_benchstat prints the path of
# benchstat, installing it when missing. start_bench_redis <dir> <cpu>
# starts one redis-server pinned to <cpu>, on a free loopback port (never 6379),
# persistence off, logging to <dir>/redis.log; waits until it answers and
# exports REDIS_ADDR and REDIS_PID (the benchmarks measure that process's
# CPU). The caller stops it: kill "$REDIS_PID".
start_bench_redis() {
	local dir=$1 cpu=$2 port="" p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
	done
	[ -n "$port" ] || { echo "no free port found" >&2; return 1; }
	taskset -c "$cpu" redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--logfile "$dir/redis.log" --dir "$dir" &
	export REDIS_ADDR="127.0.0.1:$port" REDIS_PID=$!
	for _ in $(seq 250); do
		[ "$(redis-cli -p "$port" ping 2>/dev/null || true)" = PONG ] && return 0
		sleep 0.02
	done
	[ "$(redis-cli -p "$port" ping)" = PONG ]
}

find_benchstat() {
	if ! command -v benchstat; then
		echo "== installing benchstat" >&2
		go install golang.org/x/perf/cmd/benchstat@latest >&2
		echo "$(go env GOPATH)/bin/benchstat"
	fi
}

# pinned_rounds <name> <bench regexp> runs the root package's benchmarks
# matching the regexp one caller at a time (-cpu 1), pinned beside one
# redis-server, in BENCH_COUNT interleaved rounds (default 10) of
# BENCH_TIME each (default 1s), on CPU BENCH_PIN (default 1). It sets out
# (BENCH_OUT, default a new temporary directory) and results, the file of
# raw results ($out/<name>.txt), and stops the server at exit.
pinned_rounds() {
	local name=$1 pattern=$2 count=${BENCH_COUNT:-10} benchtime=${BENCH_TIME:-1s} pin=${BENCH_PIN:-1}
	out=${BENCH_OUT:-$(mktemp -d)}
	results=$out/$name.txt
	mkdir -p "$out"
	go test -c -o "$out/$name.test" .
	start_bench_redis "$out" "$pin"
	trap 'kill "$REDIS_PID" 2>/dev/null || true' EXIT
	for i in $(seq "$count"); do
		echo "== round $i of $count" >&2
		taskset -c "$pin" "$out/$name.test" -test.run '^$' -test.bench "$pattern" -test.cpu 1 \
			-test.benchtime "$benchtime" >>"$results"
	done
}
