#!/usr/bin/env bash
# Runs the public HTTP cache test suite (cache-tests.fyi, npm package
# http-cache-tests) through a cdnlab edge on loopback and scores it beside
# the suite's published results for Varnish, Apache httpd, nginx, ATS, Squid.
#
#   tests/conformance/run.sh [--edge PATH_TO_CDN_BINARY] [--id TEST_ID]
#
# Needs node and npm. Everything listens on 127.0.0.1 only. Scratch files in
# /tmp/cdnlab-conformance; the result JSON is printed there.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${CONFORMANCE_DIR:-/tmp/cdnlab-conformance}
CDN="$ROOT/target/release/cdn"
ID=""
ORIGIN_PORT=18000 EDGE_PORT=18001 ADMIN_PORT=18002
while (($#)); do
  case $1 in
    --edge) CDN=$2; shift 2 ;;
    --id) ID=$2; shift 2 ;;
    *) echo "usage: $0 [--edge PATH] [--id TEST_ID]" >&2; exit 2 ;;
  esac
done
[[ -x $CDN ]] || { echo "no cdn binary at $CDN (cargo build --release --bin cdn, or pass --edge)" >&2; exit 2; }
command -v npm >/dev/null || { echo "needs node and npm" >&2; exit 2; }

mkdir -p "$WORK"
PKG=$WORK/package
if [[ ! -f $PKG/cli.mjs ]]; then
  (cd "$WORK" && npm pack --silent http-cache-tests@0.4.5 >/dev/null && tar xzf http-cache-tests-0.4.5.tgz)
  (cd "$PKG" && npm install --silent --no-audit --no-fund --no-save liquidjs@9 node-fetch@2 >/dev/null)
  # listen on loopback only
  sed -i "s/^server.listen(port)$/server.listen(port, '127.0.0.1')/" "$PKG/server/server.mjs"
fi
cp "$HERE/score.mjs" "$PKG/score.mjs"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

(cd "$PKG" && npm_package_config_protocol=http npm_package_config_port=$ORIGIN_PORT \
  npm_package_config_pidfile="$WORK/server.pid" exec node server/server.mjs >"$WORK/server.log" 2>&1) &
PIDS+=($!)
rm -rf "$WORK/edge-data"
"$CDN" edge --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:$EDGE_PORT" \
  --admin "127.0.0.1:$ADMIN_PORT" --data-dir "$WORK/edge-data" >"$WORK/edge.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$EDGE_PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$ORIGIN_PORT") 2>/dev/null && break
  sleep 0.1
done

cd "$PKG"
if [[ -n $ID ]]; then
  npm_config_base="http://127.0.0.1:$EDGE_PORT" npm_package_config_id="$ID" node --no-warnings cli.mjs
  exit 0
fi
npm_config_base="http://127.0.0.1:$EDGE_PORT" npm_package_config_id="" node --no-warnings cli.mjs >"$WORK/cdnlab.json"
echo "results: $WORK/cdnlab.json"
node score.mjs results/varnish.json results/apache.json results/nginx.json results/trafficserver.json \
  results/squid.json results/fastly.json "$WORK/cdnlab.json"
echo
echo "cdnlab's failing required tests:"
node score.mjs --failures "$WORK/cdnlab.json" | sed '$d'
