#!/usr/bin/env bash
# The end-to-end comparison (bench/e2e, cmd/e2e): the README's "Whole
# stacks, end to end" tables, also run by `bash scripts/bench.sh e2e`.
#  1. every stack on loopback, E2E_ROUNDS interleaved rounds (default 3)
#     of E2E_DURATION each (default 5s), each stack in a process of its own;
#  2. the same through a TCP proxy (redistest.Proxy) delaying each
#     direction by E2E_DELAY (default 1ms: the proxy waits on Go's timers,
#     which on Linux fire about 1.1 ms late at the least, so a smaller
#     delay acts as about 1 ms);
#  3. the failover row: each stack on a Sentinel group, the master killed
#     with kill -9 under the load (BenchmarkFailover);
#  4. binary size and module count per stack (cmd/sizes).
set -euo pipefail
cd "$(dirname "$0")/../bench"
rounds=${E2E_ROUNDS:-3}
duration=${E2E_DURATION:-5s}
delay=${E2E_DELAY:-1ms}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/e2e" ./cmd/e2e

echo "### On loopback"
echo
"$tmp/e2e" -rounds "$rounds" -duration "$duration"
echo
echo "### Through a proxy delaying each direction by $delay (about 0.1-0.3 ms more: Go's timers)"
echo
"$tmp/e2e" -rounds "$rounds" -duration "$duration" -delay "$delay"
echo
echo "### Failover: the master killed (kill -9) 3 s into 12 s of load"
echo
echo "| stack | requests | errors | longest gap | users who lost their session | users unreachable after the load | connections to the new master |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
go test -run '^$' -bench Failover ./e2e | grep '^|'
echo
echo "### Binary size and modules per stack (cmd/sizes, -trimpath -ldflags='-s -w')"
echo
echo "| server | bytes | modules besides the standard library |"
echo "| --- | ---: | ---: |"
for s in stack scs gorilla; do
	go build -trimpath -ldflags='-s -w' -o "$tmp/$s" "./cmd/sizes/$s"
	echo "| $s | $(stat -c %s "$tmp/$s") | $(go version -m "$tmp/$s" | awk '$1 == "dep"' | wc -l) |"
done
