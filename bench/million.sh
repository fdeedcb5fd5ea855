#!/usr/bin/env bash
# A million objects per edge (issue 20): how every cost grows with the
# number of objects. For each N it starts, on loopback, the release origin
# (trace objects /t/<k>/<SIZE>: N distinct objects of SIZE bytes), one
# standalone edge and the bare hyper server (bench/bare: the same N paths,
# one in-memory body), then:
#
#   fill     every object once through the edge (curl, 8 at a time): misses/s,
#            resident memory per object (VmRSS growth / N), the memory
#            tier's own count (entries, bytes per entry), disk bytes written
#            per entry
#   hits     wrk over the N keys (bench/million-keys.lua), edge and bare server
#            interleaved, ROUNDS rounds of SECS seconds: req/s and p99; and a
#            second bare server that sends the edge's own response head (the
#            same bytes per response: "bare, same head")
#   purges   a URL, a tag, and the prefix /t/9 (N/9 keys) while wrk hits the
#            keys it does not cover (p99 of those hits during the purge)
#   restart  TERM and start again on the same data directory: time to ready,
#            hits from the disk tier among SAMPLE keys; then kill -9 and the same
#   memory   the same fill through a fresh edge without a disk tier (--disk 0,
#            like Varnish's -s malloc): resident memory per object
#   varnish  the same fill and hits through Varnish (-s malloc with the same
#            memory budget): resident memory per object, its own counts
#
# and prints a KEY=VALUE line and a Markdown table row per N (docs/million.md
# explains the columns and holds the numbers).
#
#   flock /tmp/cdnlab-bench.lock bench/million.sh              # N = 1000 100000 1000000
#   SIZE=4096 SECS=5 flock /tmp/cdnlab-bench.lock bench/million.sh 1000 50000
#   NO_VARNISH=1 SKIP_BUILD=1 bench/million.sh 100000
#
# Settings (environment): SIZE (512), MEMORY (edge memory tier and Varnish's
# -s malloc; default N x 2 KiB, at least 64 MiB), DISK (default N x 5 KiB +
# 64 MiB), ROUNDS (2), SECS (10), CONNS (64), SAMPLE (1000), PORT (18700;
# uses PORT..PORT+7 on 127.0.0.1), BIN (target/release), SKIP_BUILD,
# NO_VARNISH, WORK (scratch directory, default under /tmp; deleted at the
# end). N is at most 2,000,000 and every step is bounded in time.
# Needs curl, wrk, python3, and varnishd for the Varnish part.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-512}
ROUNDS=${ROUNDS:-2}
SECS=${SECS:-10}
CONNS=${CONNS:-64}
SAMPLE=${SAMPLE:-1000}
PORT=${PORT:-18700}
BIN=${BIN:-target/release}
BARE=${BARE:-target/bare-bench/release/bare}
LUA=bench/million-keys.lua
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(1000 100000 1000000)

die() { echo "million.sh: $*" >&2; exit 1; }
for v in SIZE ROUNDS SECS CONNS SAMPLE PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
((SIZE >= 1 && SIZE <= 1048576)) || die "SIZE: 1 byte to 1 MiB"
((SECS >= 1 && SECS <= 120 && ROUNDS >= 1 && ROUNDS <= 10)) || die "SECS 1-120, ROUNDS 1-10"
for n in "${COUNTS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 10 && n <= 2000000)) || die "N must be 10 to 2,000,000: $n"
done
for c in curl wrk python3; do command -v $c >/dev/null || die "$c is not installed"; done
if [[ -z ${NO_VARNISH:-} ]]; then
  command -v varnishd >/dev/null || die "varnishd is not installed (apt-get install varnish), or set NO_VARNISH=1"
fi

if [[ -z ${SKIP_BUILD:-} ]]; then
  cargo build --release -q -p edge -p origin
  CARGO_TARGET_DIR=target/bare-bench cargo build --release --locked --offline -q --manifest-path bench/bare/Cargo.toml
fi
[[ -x $BIN/edge && -x $BIN/origin && -x $BARE ]] || die "missing binaries ($BIN/edge, $BIN/origin, $BARE)"

ORIGIN=127.0.0.1:$PORT
EDGE=127.0.0.1:$((PORT + 2))
EDGE_ADMIN=127.0.0.1:$((PORT + 3))
BARE_AT=127.0.0.1:$((PORT + 4))
VARNISH=127.0.0.1:$((PORT + 5))
SAME_AT=127.0.0.1:$((PORT + 7)) # the bare server with the edge's head (PORT + 6: Varnish's admin)
for p in $(seq "$PORT" $((PORT + 7))); do
  ! ss -Hltn "sport = :$p" | grep -q . || die "port $p is in use"
done

WORK=${WORK:-$(mktemp -d /tmp/million.XXXXXX)}
mkdir -p "$WORK"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
tree_rss_kib() { # a process and its children (varnishd: manager + cache child)
  local total=0 p
  for p in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null); do total=$((total + $(rss_kib "$p" || echo 0))); done
  echo "$total"
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
wait_http() { # URL PID SECONDS
  local deadline=$(($(date +%s) + $3))
  while ! curl -sf -o /dev/null --max-time 1 "$1"; do
    kill -0 "$2" 2>/dev/null || return 1
    (($(date +%s) < deadline)) || return 1
    sleep 0.02
  done
}
stop() { # PID: TERM, wait up to 60 s, then KILL
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for i in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
fill() { # BASE N -> prints seconds; fails unless every answer is a 200
  local t0 codes
  t0=$(now)
  curl -s --parallel --parallel-max 8 --max-time 60 -o /dev/null -w '%{http_code}\n' \
    "$1/t/[0-$(($2 - 1))]/$SIZE" >"$WORK/codes" 2>/dev/null || true
  since "$t0"
  codes=$(sort "$WORK/codes" | uniq -c | tr -s ' ' | tr '\n' ';')
  [[ $(grep -c '^200$' "$WORK/codes" || true) == "$2" ]] || die "fill of $1: $codes"
}
wrk_run() { # URL N [SKIP] -> "req/s p99_ms"
  local out
  out=$(timeout $((SECS + 120)) wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$1" -- "$2" "$SIZE" "${3:-}" 2>&1 |
    grep '^MILLION_RESULT') || die "wrk against $1 failed"
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         if (v["errors"] + v["status_errors"] > 0) { print "ERR " v["errors"] "/" v["status_errors"]; exit }
         printf "%.0f %.2f\n", v["requests"] / (v["duration_us"] / 1e6), v["p99_us"] / 1000 }' <<<"$out"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
purge() { # JSON -> "took_ms objects"
  curl -sf --max-time 120 -H "Authorization: Bearer $(cat "$WORK/edge/admin-token")" \
    -H 'content-type: application/json' -d "$1" "http://$EDGE_ADMIN/purge" |
    json '"%.1f %d" % (d["took_us"] / 1000, d["objects"])'
}
disk_hits() { # N -> hits among SAMPLE keys spread over 0..N-1, as the edge answered them
  local n=$1 step
  step=$(((n + SAMPLE - 1) / SAMPLE))
  for k in $(seq 0 "$step" $((n - 1))); do echo "url = \"http://$EDGE/t/$k/$SIZE\""; done >"$WORK/sample.cfg"
  curl -s --max-time 120 -K "$WORK/sample.cfg" -o /dev/null -D - 2>/dev/null | grep -ic '^cache-status:.*; hit' || true
}
start_edge() { # memory disk: starts the edge, sets edge_pid
  "$BIN/edge" --origin "http://$ORIGIN" --listen "$EDGE" --admin "$EDGE_ADMIN" --data-dir "$WORK/edge" \
    --memory "$1" --disk "$2" --max-object 1MiB >>"$WORK/edge.log" 2>&1 &
  edge_pid=$!
  PIDS+=("$edge_pid")
}

echo "million.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/{print $2}') GiB; SIZE=$SIZE ROUNDS=$ROUNDS SECS=$SECS CONNS=$CONNS; N: ${COUNTS[*]}"

"$BIN/origin" --listen "$ORIGIN" --admin "127.0.0.1:$((PORT + 1))" >"$WORK/origin.log" 2>&1 &
origin_pid=$!
PIDS+=("$origin_pid")
"$BARE" "$BARE_AT" "$SIZE" >"$WORK/bare.log" 2>&1 &
PIDS+=($!)
wait_http "http://$ORIGIN/t/0/$SIZE" "$origin_pid" 30 || die "origin did not start"
wait_http "http://$BARE_AT/t/0/$SIZE" "${PIDS[1]}" 30 || die "bare server did not start"

ROWS=()
for N in "${COUNTS[@]}"; do
  mem=${MEMORY:-$(((N * 2048 > 64 << 20 ? N * 2048 : 64 << 20) >> 20))MiB}
  disk=${DISK:-$(((N * 5120 + (64 << 20)) >> 20))MiB}
  rm -rf "$WORK/edge"
  echo "== N=$N: edge --memory $mem --disk $disk --max-object 1MiB" >&2

  # ---- fill through the edge
  t0=$(now)
  start_edge "$mem" "$disk"
  wait_http "http://$EDGE_ADMIN/healthz" "$edge_pid" 120 || die "edge did not start; $WORK/edge.log"
  first_start=$(since "$t0")
  rss0=$(rss_kib "$edge_pid")
  fill_s=$(fill "http://$EDGE" "$N")
  sleep 2 # the flusher drains its queue
  rss1=$(rss_kib "$edge_pid")
  stats=$(curl -sf "http://$EDGE_ADMIN/stats")
  entries=$(json 'd["memory_entries"]' <<<"$stats")
  used=$(json 'd["memory_bytes"]' <<<"$stats")
  written=$(json 'd["disk_written"]' <<<"$stats")
  stored=$(json 'd["stored"]' <<<"$stats")
  rss_per=$(((rss1 - rss0) * 1024 / N))
  fill_rate=$(awk -v n="$N" -v s="$fill_s" 'BEGIN { printf "%.0f", n / s }')
  echo "   fill: ${fill_s}s (${fill_rate}/s), RSS ${rss0} -> ${rss1} KiB (${rss_per} B/object), tier $entries entries, $((used / (entries > 0 ? entries : 1))) B each, disk written $((written / (stored > 0 ? stored : 1))) B per entry" >&2

  # ---- the bare server with the edge's response head (started once)
  if [[ -z ${same_pid:-} ]]; then
    curl -sf -D - -o /dev/null "http://$EDGE/t/0/$SIZE" | tail -n +2 >"$WORK/edge-head.txt" ||
      die "could not read the edge's response head"
    "$BARE" "$SAME_AT" "$SIZE" "$WORK/edge-head.txt" >"$WORK/bare-same.log" 2>&1 &
    same_pid=$!
    PIDS+=("$same_pid")
    wait_http "http://$SAME_AT/t/0/$SIZE" "$same_pid" 30 || die "bare server (same head) did not start; $WORK/bare-same.log"
  fi

  # ---- hits: edge and both bare servers interleaved (the order rotates)
  edge_rates=() bare_rates=() same_rates=() edge_p99=()
  systems=(edge bare same)
  for r in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
      case ${systems[$(((r - 1 + i) % 3))]} in
      edge)
        read -r rate p99 <<<"$(wrk_run "http://$EDGE" "$N")"
        edge_rates+=("$rate"); edge_p99+=("$p99") ;;
      bare)
        read -r rate _ <<<"$(wrk_run "http://$BARE_AT" "$N")"
        bare_rates+=("$rate") ;;
      same)
        read -r rate _ <<<"$(wrk_run "http://$SAME_AT" "$N")"
        same_rates+=("$rate") ;;
      esac
    done
  done
  hit=$(printf '%s\n' "${edge_rates[@]}" | median)
  bare=$(printf '%s\n' "${bare_rates[@]}" | median)
  same=$(printf '%s\n' "${same_rates[@]}" | median)
  p99=$(printf '%s\n' "${edge_p99[@]}" | median)
  misses=$(curl -sf "http://$EDGE_ADMIN/stats" | json 'd["requests"]["miss"]')
  echo "   hits: edge ${edge_rates[*]} req/s (p99 ${edge_p99[*]} ms), bare ${bare_rates[*]} req/s, bare with the edge's head ($(wc -c <"$WORK/edge-head.txt") B) ${same_rates[*]} req/s; misses so far $misses (the fill's: $N)" >&2

  # ---- purges
  read -r url_ms _ <<<"$(purge "{\"url\":\"/t/1/$SIZE\"}")"
  read -r tag_ms _ <<<"$(purge '{"tag":"t-2"}')"
  wrk_run "http://$EDGE" "$N" 9 >"$WORK/during" &
  wrk_pid=$!
  sleep $((SECS / 3 + 1))
  read -r prefix_ms prefix_objects <<<"$(purge '{"prefix":"/t/9"}')"
  wait "$wrk_pid" || die "wrk during the prefix purge failed"
  read -r during_rate during_p99 <<<"$(cat "$WORK/during")"
  echo "   purges: url ${url_ms} ms, tag ${tag_ms} ms, prefix /t/9 ${prefix_ms} ms ($prefix_objects objects); hits meanwhile ${during_rate} req/s, p99 ${during_p99} ms" >&2

  # ---- restart (TERM), then kill -9
  stop "$edge_pid"
  t0=$(now)
  start_edge "$mem" "$disk"
  wait_http "http://$EDGE_ADMIN/healthz" "$edge_pid" 300 || die "edge did not restart; $WORK/edge.log"
  restart_s=$(since "$t0")
  restart_hits=$(disk_hits "$N")
  sample=$(seq 0 $(((N + SAMPLE - 1) / SAMPLE)) $((N - 1)) | wc -l)
  kill -9 "$edge_pid"
  wait "$edge_pid" 2>/dev/null || true
  t0=$(now)
  start_edge "$mem" "$disk"
  wait_http "http://$EDGE_ADMIN/healthz" "$edge_pid" 300 || die "edge did not recover; $WORK/edge.log"
  recover_s=$(since "$t0")
  recover_hits=$(disk_hits "$N")
  echo "   start-up: empty ${first_start}s; after TERM ${restart_s}s ($restart_hits/$sample sampled keys hit); after kill -9 ${recover_s}s ($recover_hits/$sample hit)" >&2
  stop "$edge_pid"
  rm -rf "$WORK/edge"

  # ---- the same fill, memory only (--disk 0)
  start_edge "$mem" 0
  wait_http "http://$EDGE_ADMIN/healthz" "$edge_pid" 120 || die "edge (--disk 0) did not start; $WORK/edge.log"
  m0=$(rss_kib "$edge_pid")
  m_fill=$(fill "http://$EDGE" "$N")
  sleep 2
  m1=$(rss_kib "$edge_pid")
  mem_rss=$(((m1 - m0) * 1024 / N))
  echo "   memory only: fill ${m_fill}s, RSS ${m0} -> ${m1} KiB (${mem_rss} B/object)" >&2
  stop "$edge_pid"
  rm -rf "$WORK/edge"

  # ---- Varnish, same budget
  v_rss="-" v_obj="-" v_bytes="-" v_hit="-" v_bare="-"
  if [[ -z ${NO_VARNISH:-} ]]; then
    mkdir -p "$WORK/varnish"
    printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "%s"; }\n' "$PORT" >"$WORK/million.vcl"
    chmod -R a+rX "$WORK"
    varnishd -F -a "$VARNISH" -T "127.0.0.1:$((PORT + 6))" -f "$WORK/million.vcl" -s "malloc,${mem%iB}" \
      -n "$WORK/varnish" >"$WORK/varnish.log" 2>&1 &
    v_pid=$!
    PIDS+=("$v_pid")
    wait_http "http://$VARNISH/t/0/$SIZE" "$v_pid" 60 || die "varnish did not start; $WORK/varnish.log"
    sleep 1
    vr0=$(tree_rss_kib "$v_pid")
    v_fill=$(fill "http://$VARNISH" "$N")
    sleep 2
    vr1=$(tree_rss_kib "$v_pid")
    v_rss=$(((vr1 - vr0) * 1024 / N))
    v_obj=$(varnishstat -1 -n "$WORK/varnish" -f MAIN.n_object | awk '{ print $2 }')
    v_g=$(varnishstat -1 -n "$WORK/varnish" -f SMA.s0.g_bytes | awk '{ print $2 }')
    v_bytes=$((v_g / (v_obj > 0 ? v_obj : 1)))
    v_rates=() vb_rates=()
    for r in $(seq "$ROUNDS"); do
      read -r rate _ <<<"$(wrk_run "http://$VARNISH" "$N")"
      v_rates+=("$rate")
      read -r rate _ <<<"$(wrk_run "http://$BARE_AT" "$N")"
      vb_rates+=("$rate")
    done
    v_hit=$(printf '%s\n' "${v_rates[@]}" | median)
    v_bare=$(printf '%s\n' "${vb_rates[@]}" | median)
    echo "   varnish: fill ${v_fill}s, RSS ${vr0} -> ${vr1} KiB (${v_rss} B/object), $v_obj objects, $v_bytes B each in storage; hits ${v_rates[*]} req/s, bare ${vb_rates[*]}" >&2
    stop "$v_pid"
  fi

  ratio=$(awk -v a="$hit" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')
  same_ratio=$(awk -v a="$hit" -v b="$same" 'BEGIN { printf "%.2f", a / b }')
  v_ratio=$([[ $v_hit == - ]] && echo - || awk -v a="$v_hit" -v b="$v_bare" 'BEGIN { printf "%.2f", a / b }')
  echo "N=$N SIZE=$SIZE MEMORY=$mem DISK=$disk RSS_PER_OBJECT=$rss_per RSS_PER_OBJECT_NO_DISK=$mem_rss TIER_ENTRIES=$entries TIER_BYTES_PER_ENTRY=$((used / (entries > 0 ? entries : 1))) DISK_WRITTEN_PER_ENTRY=$((written / (stored > 0 ? stored : 1))) FILL_PER_S=$fill_rate HIT_RPS=$hit BARE_RPS=$bare HIT_RATIO=$ratio SAME_HEAD_BARE_RPS=$same SAME_HEAD_RATIO=$same_ratio HIT_P99_MS=$p99 PURGE_URL_MS=$url_ms PURGE_TAG_MS=$tag_ms PURGE_PREFIX_MS=$prefix_ms PURGE_PREFIX_OBJECTS=$prefix_objects P99_DURING_PREFIX_MS=$during_p99 START_EMPTY_S=$first_start RESTART_S=$restart_s RESTART_HITS=$restart_hits/$sample RECOVER_S=$recover_s RECOVER_HITS=$recover_hits/$sample VARNISH_RSS_PER_OBJECT=$v_rss VARNISH_OBJECTS=$v_obj VARNISH_BYTES_PER_OBJECT=$v_bytes VARNISH_HIT_RPS=$v_hit VARNISH_BARE_RPS=$v_bare"
  ROWS+=("| $N | $rss_per / $mem_rss | $v_rss | $entries × $((used / (entries > 0 ? entries : 1))) B | $v_obj × $v_bytes B | $((written / (stored > 0 ? stored : 1))) | $fill_rate | $hit / $bare = $ratio | $same = $same_ratio | $v_hit / $v_bare = $v_ratio | $p99 | $url_ms / $tag_ms / $prefix_ms ($prefix_objects) | $during_p99 | $restart_s ($restart_hits/$sample) | $recover_s ($recover_hits/$sample) |")
done

echo
echo "| N | edge RSS B/object (with / without disk tier) | Varnish RSS B/object | edge tier: entries × B | Varnish: objects × B | disk written B/entry | fill misses/s | hits req/s edge / bare | bare with the edge's head: req/s = edge ÷ it | Varnish / bare | hit p99 ms | purge ms url / tag / prefix (objects) | hit p99 ms during prefix purge | restart s (disk hits) | after kill -9 s (disk hits) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
