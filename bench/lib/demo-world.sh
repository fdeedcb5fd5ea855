# Sourced by the pacing benches (bench/pacing-*.sh): the demo world started
# with `cdn up` for the length of the script.
#
#   need_built BIN… -- HOW   exits 2 naming the first BIN not built, and HOW to build it
#   start_demo_world         `$CDN up --quiet --fresh` in the background (its log in
#                            $work/up.log), stopped and $work removed when the script
#                            exits; returns once the Seoul edge and the origin answer
#                            /healthz. Sets `work` (a temporary directory) and `up`
#                            (the `cdn up` process).
#
# Expects `set -euo pipefail`, the repository as the current directory and
# CDN (the cdn binary). Binds the demo world's fixed addresses: run the
# bench under the ports lock.

need_built() {
  local how bins=()
  while [[ $1 != -- ]]; do bins+=("$1"); shift; done
  how=$2
  for b in "${bins[@]}"; do
    [[ -x $b ]] || { echo "$0: $b not built ($how)" >&2; exit 2; }
  done
}

start_demo_world() {
  ulimit -n 65536 2>/dev/null || true
  work=$(mktemp -d)
  "$CDN" up --quiet --fresh >"$work/up.log" 2>&1 &
  up=$!
  trap 'kill $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null http://127.1.0.1:9080/healthz && curl -sf -o /dev/null http://127.0.0.1:9080/healthz && return
    sleep 0.2
  done
  echo "$0: the demo world did not come up (log: $work/up.log)" >&2
  cat "$work/up.log" >&2
  exit 1
}
