#!/usr/bin/env bash
# Measure the server layer alone with a trivial handler (bench/server_bridge.ts): small-request
# req/s (wrk), streamed chunked upload MB/s and download MB/s (curl). The server is pinned to CPU 0
# and the clients to CPU 1.
# Usage: bash bench/server_bridge.sh <node|deno|bun|node-on-deno|node-on-bun> [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
secs=${2:-5}
case "$1" in
  node) cmd=(node --import tsx bench/server_bridge.ts) ;;
  deno) cmd=("$BIN/deno" run -A bench/server_bridge.ts) ;;
  bun) cmd=("$BIN/bun" bench/server_bridge.ts) ;;
  node-on-deno) cmd=("$BIN/deno" run -A bench/server_bridge.ts node) ;;
  node-on-bun) cmd=("$BIN/bun" bench/server_bridge.ts node) ;;
  *) echo "usage: $0 node|deno|bun|node-on-deno|node-on-bun [seconds]" >&2; exit 2 ;;
esac
out=$(mktemp); rm -f "$out"
taskset -c 0 "${cmd[@]}" >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -n1 "$out")
taskset -c 1 wrk -t1 -c32 -d1s "$url/small" >/dev/null
rps=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" "$url/small" | awk '/Requests\/sec/ {print int($2)}')
up=$(head -c 1G /dev/zero | taskset -c 1 curl -s -T - -X PATCH -o /dev/null -w '%{speed_upload}' "$url/upload")
down64=$(taskset -c 1 curl -s -o /dev/null -w '%{speed_download}' "$url/download?size=1073741824&chunk=65536")
down256=$(taskset -c 1 curl -s -o /dev/null -w '%{speed_download}' "$url/download?size=1073741824&chunk=262144")
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || echo "?")
printf '%-13s %7s req/s  upload %5d MB/s  download %5d MB/s (64 KiB) %5d MB/s (256 KiB)  peak RSS %s MiB\n' \
  "$1" "$rps" $((${up%.*} / 1000000)) $((${down64%.*} / 1000000)) $((${down256%.*} / 1000000)) "$rss"
