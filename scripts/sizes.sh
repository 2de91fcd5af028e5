#!/usr/bin/env bash
# Builds every server of bench/cmd/sizes with -trimpath -ldflags='-s -w' and
# prints two markdown tables (1 KB = 1000 bytes):
#   - each server's size and what it adds over nethttp (a bare net/http
#     server), and, for the store-only servers, over nostore (sessions in a
#     map, no manager);
#   - what the store alone adds to a net/http + encoding/json server:
#     redisstore against nethttpjson (a bare server that encodes JSON) and
#     against nostorejson (the same handler as redisstore, keeping its
#     sessions in a map as encoding/json output, so decoding too).
# The rows "<server> single" are that server built with
# -tags redisstore_nosentinel,redisstore_nocluster (single-server routing),
# the rows "<server> noseal" with -tags redisstore_noseal (no sealed values),
# the rows "<server> nocache" with -tags redisstore_nocache (no client-side
# cache).
set -euo pipefail
cd "$(dirname "$0")/../bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
store_only=" nostore nostorejson redisstore goredis "
servers=(nethttp nethttpjson nostore nostorejson redisstore goredis stack scs gorilla)
for d in cmd/sizes/*/; do # and any server not named above
	[[ " ${servers[*]} " == *" $(basename "$d") "* ]] || servers+=("$(basename "$d")")
done
declare -A size
for s in "${servers[@]}"; do
	go build -trimpath -ldflags='-s -w' -o "$tmp/$s" "./cmd/sizes/$s"
	size[$s]=$(stat -c %s "$tmp/$s")
done
for s in redisstore stack; do
	go build -trimpath -tags redisstore_nosentinel,redisstore_nocluster -ldflags='-s -w' -o "$tmp/$s-single" "./cmd/sizes/$s"
	size["$s single"]=$(stat -c %s "$tmp/$s-single")
	go build -trimpath -tags redisstore_noseal -ldflags='-s -w' -o "$tmp/$s-noseal" "./cmd/sizes/$s"
	size["$s noseal"]=$(stat -c %s "$tmp/$s-noseal")
	go build -trimpath -tags redisstore_nocache -ldflags='-s -w' -o "$tmp/$s-nocache" "./cmd/sizes/$s"
	size["$s nocache"]=$(stat -c %s "$tmp/$s-nocache")
done
servers+=("redisstore single" "stack single" "redisstore noseal" "stack noseal" "redisstore nocache" "stack nocache")
store_only+="redisstore single redisstore noseal redisstore nocache "
kb() { awk -v d="$1" 'BEGIN { printf "%+.1f KB", d / 1000 }'; }

echo "## Binary size of a net/http server per session stack (-trimpath -ldflags='-s -w')"
echo
echo "| server | bytes | over nethttp | over nostore |"
echo "| --- | ---: | ---: | ---: |"
for s in "${servers[@]}"; do
	vs=""
	b=${size[$s]}
	[[ $store_only == *" $s "* ]] && vs=$(kb $((b - size[nostore])))
	echo "| $s | $b | $(kb $((b - size[nethttp]))) | $vs |"
done
echo
echo "## The store alone adds to a net/http + encoding/json server"
echo
echo "| server | bytes | over nethttpjson | over nostorejson |"
echo "| --- | ---: | ---: | ---: |"
for s in nethttpjson nostorejson redisstore "redisstore single" "redisstore noseal" "redisstore nocache"; do
	b=${size[$s]}
	echo "| $s | $b | $(kb $((b - size[nethttpjson]))) | $(kb $((b - size[nostorejson]))) |"
done
