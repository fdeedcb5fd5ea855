#!/usr/bin/env bash
# Stress check: the whole test suite N times in a row while a busy loop
# keeps one core at 100%, stopping at the first failure. A test that waits
# for a fixed time instead of for its condition fails here sooner or later.
#
#   scripts/flaky.sh [N]          (default 10)
#
# Builds the tests first (not counted), then runs `cargo test --workspace`
# N times beside the busy loop (started here, killed on exit), and prints
# one line per run and a summary; the full output of a failing run is kept
# and its failures are printed. Exit status 0 only if all N runs passed.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]" >&2; exit 2; }
LOGS=$(mktemp -d /tmp/cdnlab-flaky.XXXXXX)

echo "building the tests"
cargo test --workspace --no-run -q 2>"$LOGS/build.log" || { cat "$LOGS/build.log" >&2; exit 1; }

bash -c 'while :; do :; done' &
BUSY=$!
trap 'kill "$BUSY" 2>/dev/null || true' EXIT
echo "busy loop: pid $BUSY; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

times=()
for i in $(seq 1 "$N"); do
  t0=$SECONDS
  if cargo test --workspace >"$LOGS/run-$i.log" 2>&1; then
    times+=($((SECONDS - t0)))
    tests=$(grep -o '^test result: ok. [0-9]* passed' "$LOGS/run-$i.log" | awk '{s += $4} END {print s}')
    printf 'run %2d/%d: ok, %s tests, %3d s, load average %s\n' "$i" "$N" "$tests" $((SECONDS - t0)) "$(cut -d' ' -f1 /proc/loadavg)"
  else
    printf 'run %2d/%d: FAILED after %d s; output: %s\n' "$i" "$N" $((SECONDS - t0)) "$LOGS/run-$i.log"
    grep -E '^test .* FAILED$|panicked at|^failures:$' -A3 "$LOGS/run-$i.log" | head -60
    echo "summary: $((i - 1)) green run(s), then a failure in run $i (of $N) under load"
    exit 1
  fi
  rm -f "$LOGS/run-$i.log"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "summary: $N of $N runs green with one core busy; each run $(head -1 <<<"$sorted")-$(tail -1 <<<"$sorted") s (median $(sed -n "$(((N + 1) / 2))p" <<<"$sorted") s); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
