#!/usr/bin/env bash
# What pacing costs in CPU: 1,000 concurrent 1 MB hits from the Seoul edge
# of the demo world (`cdn up`), once from a Tokyo client address (paced
# over the 30 ms link) and once from 127.0.0.1 (not paced), the edge's CPU
# time read from /proc/PID/stat (utime + stime) around each. The extra CPU
# of pacing is the difference, as a share of one core over the paced run's
# wall time (issue 14's bound: under 20 %).
#
#   cargo build --release --bin cdn -p scenarios
#   flock /tmp/cdnlab-ports.lock flock /tmp/cdnlab-bench.lock bench/pacing-cpu.sh
#
# Binds the demo world's fixed addresses: run it under the ports lock.
# N=1000 by default (concurrent transfers); curl runs them (--parallel),
# in processes of 250 transfers each.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/demo-world.sh
CDN=${CDN:-target/release/cdn}
N=${N:-1000}
need_built "$CDN" -- "cargo build --release --bin cdn -p scenarios"
start_demo_world
edge=""
for _ in $(seq 1 50); do
  edge=$(pgrep -P "$up" -f -- '--name seoul' | head -1 || true)
  [[ -n $edge ]] && break
  sleep 0.1
done
[[ -n $edge ]] || { echo "$0: cannot find the Seoul edge's process" >&2; exit 1; }
url=http://127.1.0.1:8080/t/$(( $(date +%s) % 100000 ))/1000000
curl -s -o /dev/null --interface 127.0.0.1 "$url"
curl -s -o /dev/null --interface 127.0.0.1 "$url"
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$edge/stat"; }
# curl runs at most 300 transfers at once (--parallel-max is capped there):
# N transfers are split over curl processes of at most 250 each, all
# started together, so that N are in flight at once.
per=250
procs=$(( (N + per - 1) / per ))
for i in $(seq 1 "$per"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$work/urls"
run() { # $1: source address; prints "cpu_seconds wall_seconds"
  local c0 c1 t0 t1 left k n
  c0=$(cpu); t0=$(date +%s.%N)
  left=$N
  for k in $(seq 1 "$procs"); do
    n=$(( left < per ? left : per )); left=$(( left - n ))
    head -n $(( 2 * n )) "$work/urls" | curl -s --parallel --parallel-immediate --parallel-max "$n" --interface "$1" -K - &
  done
  wait
  t1=$(date +%s.%N); c1=$(cpu)
  python3 -c "print(($c1 - $c0) / $tck, $t1 - $t0)"
}
read -r up_cpu up_wall < <(run 127.0.0.1)
read -r p_cpu p_wall < <(run 127.2.1.1)
python3 - "$N" "$up_cpu" "$up_wall" "$p_cpu" "$p_wall" <<'PY'
import sys
n = int(sys.argv[1]); uc, uw, pc, pw = map(float, sys.argv[2:])
print(f"{n} concurrent 1 MB hits from the Seoul edge")
print(f"  unpaced (127.0.0.1):        edge CPU {uc:.2f} s over {uw:.2f} s wall")
print(f"  paced (Tokyo, 127.2.1.1):   edge CPU {pc:.2f} s over {pw:.2f} s wall")
print(f"  pacing's extra CPU: {pc - uc:.2f} s = {100 * (pc - uc) / pw:.1f} % of a core over the paced run")
PY
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
