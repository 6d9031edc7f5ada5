#!/usr/bin/env bash
# Measure the server layer alone with a trivial handler (bench/server_bridge.ts): small requests
# (wrk), a streamed chunked 1 GiB upload and 1 GiB downloads (curl). The server is pinned to CPU 0
# and the clients to CPU 1. Besides wall-clock rates it prints rates per server CPU-second
# (requests, or MB, divided by the server's utime+stime), which hold up far better than wall
# clock on a machine shared with other work.
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
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
taskset -c 1 wrk -t1 -c32 -d1s "$url/small" >/dev/null
t0=$(ticks)
reqs=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" "$url/small" | awk '/requests in/ {print $1}')
t1=$(ticks)
up=$(head -c 1G /dev/zero | taskset -c 1 curl -s -T - -X PATCH -o /dev/null -w '%{speed_upload}' "$url/upload")
t2=$(ticks)
down64=$(taskset -c 1 curl -s -o /dev/null -w '%{speed_download}' "$url/download?size=1073741824&chunk=65536")
t3=$(ticks)
down256=$(taskset -c 1 curl -s -o /dev/null -w '%{speed_download}' "$url/download?size=1073741824&chunk=262144")
t4=$(ticks)
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || echo "?")
per_cpu() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%d", (t > 0 ? n / (t / 100) : 0) }'; }
G=1073741824
printf '%-13s wall: %6d req/s  up %5d MB/s  down %5d MB/s (64 KiB) %5d MB/s (256 KiB) | per CPU-s: %6s req  up %5s MB  down %5s MB (64 KiB) %5s MB (256 KiB) | peak RSS %s MiB\n' \
  "$1" $((reqs / secs)) $((${up%.*} / 1000000)) $((${down64%.*} / 1000000)) $((${down256%.*} / 1000000)) \
  "$(per_cpu "$reqs" $((t1 - t0)))" "$(per_cpu $((G / 1000000)) $((t2 - t1)))" \
  "$(per_cpu $((G / 1000000)) $((t3 - t2)))" "$(per_cpu $((G / 1000000)) $((t4 - t3)))" "$rss"
