#!/usr/bin/env bash
# Memory benchmark (not a test): how much resident memory an edge holds once
# its memory tier is full. Starts the real release binaries on loopback (an
# origin serving the demo catalog and one standalone edge in front of it),
# fetches OBJECTS demo objects through the edge, and prints the edge's
# VmRSS / VmHWM from /proc next to its memory tier's size and use.
# docs/memory.md explains the numbers and the formula they are checked against.
#
#   scripts/memory.sh                        # --memory 128MiB --disk 512MiB, 6000 objects
#   OBJECTS=10000 MEMORY=64MiB DISK=256MiB scripts/memory.sh --eviction lru
#   MALLOC_ARENA_MAX=8 scripts/memory.sh     # environment reaches the edge
#
# Extra arguments go to the edge.
# Ports: PORT (origin; origin admin PORT+1, edge PORT+2, edge admin PORT+3),
# default 18480, on 127.0.0.1: not the demo world's fixed addresses, so no
# lock is needed. Output: a summary, and KEY=VALUE lines (for comparing runs).
set -euo pipefail

cd "$(dirname "$0")/.."
OBJECTS=${OBJECTS:-6000}
PORT=${PORT:-18480}
PARALLEL=${PARALLEL:-8}
MEMORY=${MEMORY:-128MiB}
DISK=${DISK:-512MiB}
BIN=${BIN:-target/release}

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p edge -p origin
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

origin=127.0.0.1:$PORT
edge=127.0.0.1:$((PORT + 2))
edge_admin=127.0.0.1:$((PORT + 3))

"$BIN/origin" --listen "$origin" --admin "127.0.0.1:$((PORT + 1))" >"$work/origin.log" 2>&1 &
pids+=($!)
"$BIN/edge" --origin "http://$origin" --listen "$edge" --admin "$edge_admin" --data-dir "$work/edge" \
  --memory "$MEMORY" --disk "$DISK" "$@" >"$work/edge.log" 2>&1 &
edge_pid=$!
pids+=("$edge_pid")

# Ready: poll with a deadline (the disk tier is reserved when it opens).
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://$edge_admin/healthz" && curl -sf -o /dev/null "http://$origin/obj/0" && break
  if ! kill -0 "$edge_pid" 2>/dev/null; then
    echo "edge exited:" >&2
    cat "$work/edge.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -sf -o /dev/null "http://$edge_admin/healthz" || { echo "edge not ready" >&2; cat "$work/edge.log" >&2; exit 1; }

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$edge_pid/status"; }
stat() { curl -sf "http://$edge_admin/stats" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

start_rss=$(kib VmRSS)
t0=$(date +%s.%N)
# One curl fetches the whole range (URL globbing), PARALLEL transfers at a time.
curl -s --parallel --parallel-max "$PARALLEL" -o /dev/null -w '%{http_code}\n' \
  "http://$edge/obj/[0-$((OBJECTS - 1))]" >"$work/codes" 2>/dev/null
t1=$(date +%s.%N)
ok=$(grep -c '^200$' "$work/codes" || true)
# Let the flusher drain what is queued for the disk before reading.
sleep 1

rss=$(kib VmRSS)
hwm=$(kib VmHWM)
anon=$(awk '$1 == "Anonymous:" { print $2 }' "/proc/$edge_pid/smaps_rollup")
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$edge_pid/status")
used=$(stat memory_bytes)
cap=$(stat memory_capacity)
entries=$(stat memory_entries)
written=$(stat disk_written)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
bmib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "memory.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs; edge flags: --memory $MEMORY --disk $DISK $*"
echo "  fetched $ok/$OBJECTS objects with 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
echo "  memory tier: $(bmib "$used") of $(bmib "$cap") MiB used, $entries entries; $(bmib "${written:-0}") MiB written to disk"
echo "  edge VmRSS $(mib "$rss") MiB (anonymous $(mib "$anon") MiB), VmHWM $(mib "$hwm") MiB, at start $(mib "$start_rss") MiB, $threads threads"
echo "  over the tier: RSS $(awk -v r="$rss" -v c="$cap" 'BEGIN { printf "%+.1f", r / 1024 - c / 1048576 }') MiB, HWM $(awk -v r="$hwm" -v c="$cap" 'BEGIN { printf "%+.1f", r / 1024 - c / 1048576 }') MiB"
echo "OBJECTS=$OBJECTS OK=$ok TIER_USED=$used TIER_CAP=$cap ENTRIES=$entries DISK_WRITTEN=${written:-0} RSS_KIB=$rss HWM_KIB=$hwm ANON_KIB=$anon START_KIB=$start_rss THREADS=$threads"
