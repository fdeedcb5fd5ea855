#!/usr/bin/env bash
# Instructions a server spends per request (all its threads, user space),
# under valgrind's callgrind: start it, warm it with 50 GETs, zero the
# counters, send N keep-alive GETs of PATH from one Python client, dump,
# divide. Needs valgrind and python3; loopback only.
#
#   bench/callgrind-hit.sh PORT PATH N -- SERVER-COMMAND...
#   VIA_HYPER=1 bench/callgrind-hit.sh …   # send `Connection: keep-alive`,
#                                           # which the edge's raw hit path hands to hyper
#   KEYS=1000 bench/callgrind-hit.sh …      # cycle over PATH?k=0 … PATH?k=999 (each
#                                           # fetched once more to warm), not one URL
# e.g. bench/callgrind-hit.sh 9100 /files/1k.bin 5000 -- target/release/edge \
#        --origin http://127.0.0.1:9000 --listen 127.0.0.1:9100 --memory 64MiB --disk 0
set -euo pipefail
# The edge and cdn re-execute themselves to set glibc's mmap threshold
# unless it is already set (runtime/src/malloc.rs); valgrind would then
# measure the process that left, not the server. Set it (to the same value).
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072}
[ $# -ge 5 ] && [ "$4" = -- ] || { echo "usage: $0 PORT PATH N -- SERVER-COMMAND..." >&2; exit 2; }
port=$1 path=$2 n=$3; shift 4
for t in valgrind callgrind_control python3 curl; do
  command -v $t >/dev/null || { echo "$0: $t is not installed" >&2; exit 2; }
done
dir=$(mktemp -d)
trap 'kill -INT $vpid 2>/dev/null || true; sleep 1; kill -9 $vpid 2>/dev/null || true; rm -rf "$dir"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$@" >"$dir/server.log" 2>&1 &
vpid=$!
gets() { # count [keep-alive header?]
  python3 - "$port" "$path" "$1" "${2:-}" "${KEYS:-0}" <<'PY'
import http.client, sys
port, path, n, via, keys = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
c = http.client.HTTPConnection("127.0.0.1", port)
sep = "&" if "?" in path else "?"
for i in range(n):
    p = f"{path}{sep}k={i % keys}" if keys else path
    c.request("GET", p, headers={"Connection": "keep-alive"} if via else {})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status}")
print("last Cache-Status:", r.getheader("cache-status") or "none")
PY
}
for _ in $(seq 120); do curl -so /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.5; done
gets $((50 + ${KEYS:-0})) >/dev/null
callgrind_control -d warm $vpid >/dev/null 2>&1
gets "$n" "${VIA_HYPER:-}"
callgrind_control -d measured $vpid >/dev/null 2>&1
sleep 1
ir=$(awk '/^(summary|totals):/{print $2; exit}' "$dir"/cg.$vpid.2)
echo "$ir instructions over $n requests: $((ir / n)) per request"
