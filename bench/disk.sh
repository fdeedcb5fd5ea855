#!/usr/bin/env bash
# Disk-tier benchmark (not a test): cdnlab's edge against nginx proxy_cache,
# both with the same disk budget and a memory tier far smaller than the
# working set, so hits come from the disk tier. Loopback only, bounded in
# time (rounds × 3 sizes × 2 servers × DURATION seconds, plus warming).
#
#   flock /tmp/cdnlab-bench.lock bench/disk.sh
#   ROUNDS=5 DURATION=8 flock /tmp/cdnlab-bench.lock bench/disk.sh
#   EDGE=/path/to/edge SKIP_BUILD=1 bench/disk.sh -- --disk-promotion always
#
# What it does: builds the release edge (unless SKIP_BUILD), makes the
# object set (COUNT_4K × 4 KiB, COUNT_64K × 64 KiB, COUNT_1M × 1 MiB random
# files), starts an nginx origin serving it (`Cache-Control: public,
# max-age=3600`), nginx proxy_cache in front of it (one worker, cache on
# disk with max_size = DISK, like ../shared/bench's anchors but on disk
# rather than tmpfs) and the edge (`--memory MEMORY --disk DISK`, extra
# arguments after `--` go to the edge), warms both (passes over every
# object until one is all hits), then runs wrk
# (`-t1 -c64`, a Lua script cycling round-robin over each size's paths)
# in interleaved rounds: each round runs every size on both servers,
# alternating which server goes first. It prints each run and, per size,
# the medians of req/s, p99 and server CPU per request (utime + stime of
# the server's processes from /proc, nginx's master and worker) and the
# edge/nginx ratio of req/s; then the edge's tier counters (/stats).
#
# Ports 127.0.0.1:19500-19503. Scratch data under $WORK (default
# /tmp/cdnlab-disk-bench: 356 MiB of objects, nginx's cache, the edge's 1 GiB
# reserved disk tier), removed at the end. Servers started here are
# stopped by PID on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
MEMORY=${MEMORY:-4MiB}
DISK=${DISK:-1GiB}
COUNT_4K=${COUNT_4K:-8000}
COUNT_64K=${COUNT_64K:-2000}
COUNT_1M=${COUNT_1M:-200}
WORK=${WORK:-/tmp/cdnlab-disk-bench}
EDGE=${EDGE:-target/release/edge}
if [[ ${1:-} == -- ]]; then shift; fi

for c in nginx wrk curl python3; do
  command -v "$c" >/dev/null || { echo "$0: missing $c (apt-get install nginx wrk curl python3)" >&2; exit 2; }
done
if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release -q -p edge
fi
[[ -x $EDGE ]] || { echo "$0: no edge binary at $EDGE" >&2; exit 2; }

ORIGIN=127.0.0.1:19500 NGINX=127.0.0.1:19501 EDGE_ADDR=127.0.0.1:19502 EDGE_ADMIN=127.0.0.1:19503
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK"/{www,run,logs,nginx-cache,origin-tmp,cache-tmp,lua}
chown nobody:nogroup "$WORK/nginx-cache" "$WORK/cache-tmp" "$WORK/origin-tmp"
chmod 755 "$WORK"

# ---------------------------------------------------------------- objects
make_set() { # name count bytes
  mkdir -p "$WORK/www/$1"
  python3 - "$WORK/www/$1" "$2" "$3" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, f"{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(size))
PY
  # wrk script: round-robin over the set
  cat >"$WORK/lua/$1.lua" <<LUA
local reqs, n, i = {}, $2, 0
init = function(args)
  for k = 0, n - 1 do reqs[k + 1] = wrk.format("GET", string.format("/$1/%05d.bin", k)) end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p99_us=%d errors=%d\n", summary.requests,
    summary.duration, latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
}
SIZES=(4k 64k 1m)
declare -A COUNT=([4k]=$COUNT_4K [64k]=$COUNT_64K [1m]=$COUNT_1M)
make_set 4k "$COUNT_4K" 4096
make_set 64k "$COUNT_64K" 65536
make_set 1m "$COUNT_1M" 1048576
chmod -R a+rX "$WORK/www"

# ---------------------------------------------------------------- servers
# What both nginx configs share, up to the open http block: one worker,
# sendfile, tcp_nopush off, no access log; pid, log and temp paths by name.
nginx_head() { # name temp-dir
  cat <<CONF
daemon off; master_process on; worker_processes 1; user nobody nogroup;
pid $WORK/run/$1.pid; error_log $WORK/logs/$1-error.log warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream; sendfile on; tcp_nopush off; tcp_nodelay on;
  keepalive_requests 1000000; access_log off;
  client_body_temp_path $WORK/$2/body; proxy_temp_path $WORK/$2/proxy;
  fastcgi_temp_path $WORK/$2/fcgi; uwsgi_temp_path $WORK/$2/uwsgi; scgi_temp_path $WORK/$2/scgi;
CONF
}
{ nginx_head origin origin-tmp; cat <<CONF
  server {
    listen $ORIGIN backlog=4096; root $WORK/www;
    location / { add_header Cache-Control "public, max-age=3600" always; }
  }
}
CONF
} >"$WORK/origin.conf"
# nginx proxy_cache as ../shared/bench/conf/nginx-cache.conf (one worker,
# sendfile, tcp_nopush off, no access log), its cache on disk with the
# edge's disk budget.
NGINX_MAX=$(python3 -c "import re,sys; s=sys.argv[1]; m=re.fullmatch(r'(\d+)(KiB|MiB|GiB)',s); print(int(m[1])*{'KiB':1,'MiB':1024,'GiB':1048576}[m[2]], 'k', sep='')" "$DISK")
{ nginx_head nginx cache-tmp; cat <<CONF
  keepalive_timeout 65;
  proxy_cache_path $WORK/nginx-cache levels=1:2 keys_zone=edge:64m max_size=$NGINX_MAX inactive=60m use_temp_path=off;
  upstream origin { server $ORIGIN; keepalive 64; }
  server {
    listen $NGINX backlog=4096;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_cache edge; proxy_cache_lock on;
    add_header X-Cache-Status \$upstream_cache_status always;
    location / { proxy_pass http://origin; }
  }
}
CONF
} >"$WORK/nginx.conf"
nginx -c "$WORK/origin.conf" -p "$WORK" &
pids+=($!)
nginx -c "$WORK/nginx.conf" -p "$WORK" &
nginx_pid=$!
pids+=("$nginx_pid")
MALLOC_MMAP_THRESHOLD_=131072 "$EDGE" --origin "http://$ORIGIN" --listen "$EDGE_ADDR" --admin "$EDGE_ADMIN" \
  --data-dir "$WORK/edge" --memory "$MEMORY" --disk "$DISK" "$@" >"$WORK/logs/edge.log" 2>&1 &
edge_pid=$!
pids+=("$edge_pid")
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://$EDGE_ADMIN/healthz" && curl -sf -o /dev/null "http://$NGINX/4k/00000.bin" && break
  kill -0 "$edge_pid" 2>/dev/null || { echo "edge exited:" >&2; cat "$WORK/logs/edge.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null "http://$EDGE_ADMIN/healthz" || { echo "edge not ready" >&2; cat "$WORK/logs/edge.log" >&2; exit 1; }

# ------------------------------------------------------------------ warm
# Passes over every object until one is all hits (nginx: X-Cache-Status
# HIT; the edge: Cache-Status hit).
warm() { # base-url header-pattern size
  local n=${COUNT[$3]} last=$((COUNT[$3] - 1)) hits pass
  local urls="$1/$3/[00000-$(printf %05d "$last")].bin"
  curl -s --no-progress-meter --parallel --parallel-max 8 -o /dev/null "$urls"
  # A disk tier may drop a write when its queue is full: pass again (at
  # most 4 times) until one pass is all hits.
  for pass in 2 3 4 5; do
    hits=$(curl -s --no-progress-meter --parallel --parallel-max 8 -o /dev/null -D - "$urls" | grep -ci "$2" || true)
    echo "  warming $1/$3: pass $pass, $hits of $n answers were hits" >&2
    ((hits == n)) && return 0
  done
  echo "$0: $1 did not cache every $3 object" >&2
  exit 1
}
echo "warming (until a pass over every object is all hits)..." >&2
for s in "${SIZES[@]}"; do
  warm "http://$EDGE_ADDR" '^cache-status:.*; hit' "$s"
  warm "http://$NGINX" '^x-cache-status: HIT' "$s"
done

# ------------------------------------------------------------------ runs
ticks() { # utime + stime of the given PIDs and their children threads, clock ticks
  local t=0 p
  for p in "$@"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
nginx_pids() { echo "$nginx_pid" $(cat /proc/"$nginx_pid"/task/*/children 2>/dev/null); }
CLK=$(getconf CLK_TCK)
out=$WORK/runs.txt
: >"$out"
run() { # system size round
  local url pids0 t0 t1 line
  if [[ $1 == edge ]]; then url=http://$EDGE_ADDR; pids0=$edge_pid; else url=http://$NGINX; pids0=$(nginx_pids); fi
  t0=$(ticks $pids0)
  line=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/lua/$2.lua" "$url" 2>/dev/null | grep '^RESULT')
  t1=$(ticks $pids0)
  echo "$1 $2 $3 $line cpu_ticks=$((t1 - t0))" | tee -a "$out" >&2
}
echo "runs: $ROUNDS rounds × ${SIZES[*]} × edge, nginx; wrk -t1 -c$CONNS -d${DURATION}s round-robin" >&2
for r in $(seq 1 "$ROUNDS"); do
  for s in "${SIZES[@]}"; do
    if ((r % 2)); then run edge "$s" "$r"; run nginx "$s" "$r"; else run nginx "$s" "$r"; run edge "$s" "$r"; fi
  done
done

# ----------------------------------------------------------------- table
echo
echo "disk-tier hits: edge (--memory $MEMORY --disk $DISK $*) vs nginx proxy_cache (1 worker, max_size $DISK), $(date -u '+%Y-%m-%d %H:%M UTC')"
python3 - "$out" "$CLK" "$COUNT_4K" "$COUNT_64K" "$COUNT_1M" <<'PY'
import re, statistics as st, sys
clk = int(sys.argv[2]); counts = dict(zip(["4k", "64k", "1m"], sys.argv[3:6]))
runs = {}
for line in open(sys.argv[1]):
    system, size, _r, rest = line.split(" ", 3)
    kv = dict(re.findall(r"(\w+)=(\d+)", rest))
    req, dur = int(kv["requests"]), int(kv["duration_us"]) / 1e6
    runs.setdefault((size, system), []).append(
        (req / dur, int(kv["p99_us"]) / 1000, int(kv["cpu_ticks"]) / clk / req * 1e6, int(kv["errors"])))
print(f"{'objects':<16} {'server':<6} {'req/s':>9} {'p99 ms':>8} {'CPU µs/req':>11} {'errors':>7} {'edge/nginx':>11}")
for size in ["4k", "64k", "1m"]:
    med = {}
    for system in ["edge", "nginx"]:
        rs = runs.get((size, system), [])
        if not rs:
            continue
        m = [st.median(x[i] for x in rs) for i in range(3)]
        med[system] = m[0]
        ratio = f"{med['edge'] / med['nginx']:.2f}x" if system == "nginx" and "edge" in med else ""
        print(f"{counts[size] + ' x ' + size.upper().replace('K', ' KiB').replace('M', ' MiB'):<16} {system:<6} "
              f"{m[0]:>9,.0f} {m[1]:>8.2f} {m[2]:>11.1f} {sum(x[3] for x in rs):>7} {ratio:>11}")
print(f"(medians of {len(next(iter(runs.values())))} interleaved rounds; CPU: the server's user+system time per request)")
PY
echo
curl -sf "http://$EDGE_ADMIN/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin); t = s["cache_tiers"]
reads = t.get("disk_reads", 0)
print("edge tiers: memory hits {:,}, disk hits {:,} ({:,} sent from the body file), disk reads {:,}, promotions {:,} (rule {}), device bytes read {:,} ({:,} per read), memory tier {} entries".format(
    t.get("memory_hits", 0), t.get("disk_hits", 0), t.get("body_sends", 0), reads, t.get("promotions", 0),
    t.get("promotion", "?"), s["disk_read"], s["disk_read"] // reads if reads else 0, s["memory_entries"]))'
