#!/usr/bin/env bash
# The network model on the wire, checked with curl: the demo world
# (`cdn up`), objects filled into the Seoul edge from 127.0.0.1 (not
# paced), then fetched from a Seoul, a Tokyo and a New York client address
# (RTT 2, 30, 185 ms to Seoul), 10 kB, 100 kB and 1 MB, each on a new
# connection (cold) and again at once on the same connection (warm: curl
# given the URL twice). For every case: curl's
# `%{time_starttransfer} %{time_total}` beside the model's prediction for
# exactly the bytes curl sent and received (world/examples/predict.rs),
# and whether they agree within 5 % or 2 ms.
#
#   cargo build --release --bin cdn --example predict -p scenarios -p world
#   flock /tmp/cdnlab-ports.lock bench/pacing-accuracy.sh
#
# Binds the demo world's fixed addresses (127.k.0.1:8080, 127.0.0.1:8080 …):
# run it under the ports lock. Prints a Markdown table; exits 1 if any case
# is outside the bound.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/demo-world.sh
CDN=${CDN:-target/release/cdn}
PREDICT=${PREDICT:-target/release/examples/predict}
need_built "$CDN" "$PREDICT" -- "cargo build --release --bin cdn --example predict -p scenarios -p world"
EDGE=http://127.1.0.1:8080
start_demo_world
W='%{time_starttransfer} %{time_total} %{size_request} %{size_header} %{size_download}\n'
echo "| size | client → Seoul edge | | predicted TTFB ms | measured TTFB ms | predicted total ms | measured total ms | within |"
echo "|---|---|---|---|---|---|---|---|"
bad=0
key=$(( $(date +%s) % 100000 * 10 ))
for size in 10000 100000 1000000; do
  key=$((key + 1))
  url="$EDGE/t/$key/$size"
  # Fill from 127.0.0.1 (outside every region: not paced), then check it is a hit.
  curl -s -o /dev/null --interface 127.0.0.1 "$url"
  cs=$(curl -s -o /dev/null -D - --interface 127.0.0.1 "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-status"{print $2}')
  [[ $cs == *hit* ]] || { echo "$0: $url is not a hit: $cs" >&2; exit 1; }
  for client in seoul:127.1.1.1 tokyo:127.2.1.1 newyork:127.3.1.1; do
    region=${client%%:*} ip=${client##*:}
    mapfile -t runs < <(curl -s -o /dev/null -o /dev/null --interface "$ip" -w "$W" "$url" "$url")
    for i in 0 1; do
      read -r ttfb total req hdr dl <<<"${runs[$i]}"
      read -r c_ttfb c_total w_ttfb w_total _ _ < <("$PREDICT" "$region" seoul "$req" $((hdr + dl)))
      if [[ $i == 0 ]]; then kind=cold p_ttfb=$c_ttfb p_total=$c_total; else kind=warm p_ttfb=$w_ttfb p_total=$w_total; fi
      row=$(python3 - "$size" "$region" "$kind" "$p_ttfb" "$ttfb" "$p_total" "$total" <<'PY'
import sys
size, region, kind = sys.argv[1:4]
pt, mt, pT, mT = float(sys.argv[4]), float(sys.argv[5]) * 1e3, float(sys.argv[6]), float(sys.argv[7]) * 1e3
ok = lambda p, m: abs(m - p) <= max(0.05 * p, 2.0)
good = ok(pt, mt) and ok(pT, mT)
label = {10000: "10 kB", 100000: "100 kB", 1000000: "1 MB"}[int(size)]
print(f"| {label} | {region} | {kind} | {pt:.1f} | {mt:.1f} | {pT:.1f} | {mT:.1f} | {'yes' if good else 'NO'} |")
PY
)
      echo "$row"
      [[ $row == *"| NO |" ]] && bad=$((bad + 1))
    done
  done
done
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg); outside the bound: $bad"
[[ $bad == 0 ]]
