#!/usr/bin/env bash
# Installs, from Debian's packages, what the test suite needs and the machine
# lacks: redis-server and redis-cli (the tests start their own servers), a C
# compiler (go test -race needs cgo) and Chromium (the browser suite). Does
# nothing when all are present.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
packages=()
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	packages+=(redis-server)
fi
command -v gcc >/dev/null || packages+=(gcc libc6-dev)
[ -x /usr/bin/chromium ] || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
	echo "== installing ${packages[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The tests start their own servers: keep the package from starting one.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod +x "$policy"
		trap '$sudo rm -f "$policy"' EXIT
	fi
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
[ "$(go env CGO_ENABLED)" = 1 ] || { echo "cgo is disabled (no C compiler?): go test -race cannot run" >&2; exit 1; }
