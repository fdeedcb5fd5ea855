#!/usr/bin/env bash
# The fault suite (issue 12) at a larger scale than `cargo test` runs it:
# a real `cdn edge` under load through repeated kill -9 and restarts, bit
# flips in its data files, an origin resetting connections, and a disk
# that fills up and frees (a size-limited tmpfs: run as root). After each
# fault: zero corrupt bodies, zero responses older than an acknowledged
# purge, serving again within seconds (scenarios/tests/faults.rs).
#
#   scripts/fault-suite.sh [ROUNDS]     # default 10 rounds (cargo test runs 1)
#
# Prints one summary line per fault and exits non-zero if an invariant broke.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-10}"
if [ "$(id -u)" != 0 ]; then
  echo "fault-suite: not root: the disk-full part (tmpfs) will be skipped" >&2
fi
cargo build --release -p scenarios --tests --bin cdn >&2
start=$(date +%s)
set +e
CDNLAB_FAULT_ROUNDS="$rounds" cargo test --release -p scenarios --test faults -- --nocapture --test-threads=1 2>&1 \
  | tee /dev/stderr | grep -oE 'fault suite:.*|^test result.*' \
  | sed "s/^/[$(date -u +%Y-%m-%dT%H:%MZ) rounds=$rounds] /"
status=${PIPESTATUS[0]}
echo "fault-suite: $rounds rounds in $(( $(date +%s) - start )) s, exit $status"
exit "$status"
