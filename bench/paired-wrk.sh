#!/usr/bin/env bash
# Paired A/B of two HTTP servers with wrk: ROUNDS rounds, each runs both
# targets back to back for SECS seconds, alternating which goes first, and
# prints each round and the medians. Used for the README's 1 MiB comparison
# of the edge with the bare hyper server of ../shared/bench/anchors.sh:
#
#   bench/paired-wrk.sh http://127.0.0.1:9003/files/1m.bin http://127.0.0.1:9100/files/1m.bin 20 5
#
# WRK_SCRIPT=FILE runs wrk with that Lua script (e.g. one cycling over many
# URLs). Loopback targets only. Needs wrk and python3.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 URL_A URL_B [ROUNDS=20] [SECS=5] [CONNS=64]" >&2
  exit 2
fi
A=$1 B=$2 R=${3:-20} S=${4:-5} C=${5:-64}
for u in "$A" "$B"; do
  [[ $u =~ ^http://127\.[0-9]+\.[0-9]+\.[0-9]+(:[0-9]+)?/ ]] || { echo "$0: not a loopback URL: $u" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "$0: wrk not found (apt-get install wrk)" >&2; exit 2; }
run() { wrk -t1 -c"$C" -d"${S}s" ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} "$1" 2>/dev/null | awk '/Requests\/sec/{print $2}'; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq 1 "$R"); do
  if (( r % 2 )); then a=$(run "$A"); b=$(run "$B"); else b=$(run "$B"); a=$(run "$A"); fi
  echo "round $r: A $a req/s, B $b req/s"
  echo "$a $b" >> "$out"
done
python3 - "$out" <<'PY'
import statistics as st, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
a = [x for x, _ in rows]; b = [y for _, y in rows]; r = [y / x for x, y in rows]
print(f"{len(rows)} rounds: A median {st.median(a):,.0f} req/s, B median {st.median(b):,.0f} req/s; "
      f"B/A: ratio of medians {st.median(b) / st.median(a):.3f}, median paired ratio {st.median(r):.3f} "
      f"[{min(r):.2f}-{max(r):.2f}], B ahead in {sum(x >= 1 for x in r)}/{len(r)} rounds")
PY
