#!/usr/bin/env bash
# Runs the public HTTP cache test suite (cache-tests.fyi, npm package
# http-cache-tests) through a cdnlab edge on loopback and scores it beside
# the suite's published results for Varnish, Apache httpd, nginx, ATS, Squid.
#
#   tests/conformance/run.sh [--edge PATH_TO_CDN_BINARY] [--id TEST_ID] [--check BASELINE]
#
# --check BASELINE (tests/conformance/baseline.txt): exit 1 when fewer
# required tests pass than the baseline records, or when a required test
# fails that the baseline does not list, naming those tests (.ci/run does
# this).
#
# Needs node and npm. Everything listens on 127.0.0.1 on ports the kernel
# picks, so runs at the same time do not collide. The suite's package is
# kept in $CONFORMANCE_DIR (default /tmp/cdnlab-conformance); each run's
# files (the result JSON, logs, the edge's data) in a directory of its own
# there, printed at the end.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${CONFORMANCE_DIR:-/tmp/cdnlab-conformance}
CDN="$ROOT/target/release/cdn"
ID=""
CHECK=""
while (($#)); do
  case $1 in
    --edge) CDN=$2; shift 2 ;;
    --id) ID=$2; shift 2 ;;
    --check) CHECK=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    *) echo "usage: $0 [--edge PATH] [--id TEST_ID] [--check BASELINE]" >&2; exit 2 ;;
  esac
done
[[ -x $CDN ]] || { echo "no cdn binary at $CDN (cargo build --release --bin cdn, or pass --edge)" >&2; exit 2; }
command -v npm >/dev/null || { echo "needs node and npm" >&2; exit 2; }

mkdir -p "$WORK"
PKG=$WORK/package
# One setup at a time; later runs reuse it.
(
  flock 9
  if [[ ! -f $PKG/.cdnlab-ready ]]; then
    if [[ ! -f $PKG/cli.mjs ]]; then
      (cd "$WORK" && npm pack --silent http-cache-tests@0.4.5 >/dev/null && tar xzf http-cache-tests-0.4.5.tgz)
    fi
    (cd "$PKG" && npm install --silent --no-audit --no-fund --no-save liquidjs@9 node-fetch@2 >/dev/null)
    # listen on loopback only
    sed -i "s/^server.listen(port)$/server.listen(port, '127.0.0.1')/" "$PKG/server/server.mjs"
    grep -q "server.listen(port, '127.0.0.1')" "$PKG/server/server.mjs" || { echo "cannot bind the suite's server to loopback" >&2; exit 2; }
    touch "$PKG/.cdnlab-ready"
  fi
) 9>"$WORK/.setup.lock"
RUN=$(mktemp -d "$WORK/run.XXXXXX")
cp "$HERE/score.mjs" "$RUN/score.mjs"
ln -s "$PKG/tests" "$RUN/tests"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits (up to a minute) for a line starting with $2 in file $1; prints it.
wait_line() {
  local line
  for _ in $(seq 1 600); do
    line=$(grep -m1 "^$2" "$1" 2>/dev/null || true)
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.1
  done
  echo "no '$2' line in $1 after a minute:" >&2
  cat "$1" >&2
  return 1
}

(cd "$PKG" && npm_package_config_protocol=http npm_package_config_port=0 \
  npm_package_config_pidfile="$RUN/server.pid" exec node server/server.mjs >"$RUN/server.log" 2>&1) &
PIDS+=($!)
ORIGIN=$(wait_line "$RUN/server.log" "Listening on " | sed -E 's#^Listening on http://([0-9.]+:[0-9]+)/.*#\1#')
"$CDN" edge --origin "http://$ORIGIN" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --data-dir "$RUN/edge-data" >"$RUN/edge.log" 2>&1 &
PIDS+=($!)
EDGE=$(wait_line "$RUN/edge.log" "cdnlab-ready " | tr ' ' '\n' | sed -n 's/^public=//p')
[[ -n $EDGE ]] || { echo "no public address in the edge's ready line" >&2; exit 2; }

cd "$PKG"
if [[ -n $ID ]]; then
  npm_config_base="http://$EDGE" npm_package_config_id="$ID" node --no-warnings cli.mjs
  exit 0
fi
npm_config_base="http://$EDGE" npm_package_config_id="" node --no-warnings cli.mjs >"$RUN/cdnlab.json"
echo "results: $RUN/cdnlab.json"
cd "$RUN"
node score.mjs "$PKG"/results/{varnish,apache,nginx,trafficserver,squid,fastly}.json "$RUN/cdnlab.json"
echo
echo "cdnlab's failing required tests:"
node score.mjs --failures "$RUN/cdnlab.json" | sed '$d'
if [[ -n $CHECK ]]; then
  echo
  node score.mjs --check "$CHECK" "$RUN/cdnlab.json"
fi
