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
