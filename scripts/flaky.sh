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
# CDNLAB_TEST_LOCK names a lock file each run holds (flock) while it runs,
# for a machine shared with other test runs; the time spent waiting for it
# is not counted in the run's time.
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

# One run of the suite (under the lock when there is one; the run's time
# starts once it holds it).
run_suite() {
  if [[ -n ${CDNLAB_TEST_LOCK:-} ]]; then
    flock "$CDNLAB_TEST_LOCK" bash -c 'date +%s >"$1"; exec cargo test --workspace' _ "$LOGS/start"
  else
    date +%s >"$LOGS/start"
    cargo test --workspace
  fi
}

times=()
for i in $(seq 1 "$N"); do
  ok=0
  rm -f "$LOGS/start"
  run_suite >"$LOGS/run-$i.log" 2>&1 || ok=$?
  took=$(($(date +%s) - $(cat "$LOGS/start" 2>/dev/null || date +%s)))
  if ((ok == 0)); then
    times+=("$took")
    tests=$(grep -o '^test result: ok. [0-9]* passed' "$LOGS/run-$i.log" | awk '{s += $4} END {print s}')
    printf 'run %2d/%d: ok, %s tests, %3d s, load average %s\n' "$i" "$N" "$tests" "$took" "$(cut -d' ' -f1 /proc/loadavg)"
  else
    printf 'run %2d/%d: FAILED after %d s; output: %s\n' "$i" "$N" "$took" "$LOGS/run-$i.log"
    grep -E '^test .* FAILED$|panicked at|^failures:$' -A3 "$LOGS/run-$i.log" | head -60
    echo "summary: $((i - 1)) green run(s), then a failure in run $i (of $N) under load"
    exit 1
  fi
  rm -f "$LOGS/run-$i.log"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "summary: $N of $N runs green with one core busy; each run $(head -1 <<<"$sorted")-$(tail -1 <<<"$sorted") s (median $(sed -n "$(((N + 1) / 2))p" <<<"$sorted") s); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
