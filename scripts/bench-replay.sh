#!/usr/bin/env bash
# Offline replay throughput, cdnlab against the libcachesim Python package,
# on the same 10M-request trace, in one run, pinned to one core, under the
# shared benchmark lock. Only the ratio within one run means anything on a
# shared machine.
#
#   bash scripts/bench-replay.sh            # generates the trace on first use (~240 MB in /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
TRACE=${TRACE:-/tmp/cdnlab-bench-10m.oracleGeneral}
CORE=${CORE:-1}
if [ ! -f "$TRACE" ]; then
  python3 scripts/tracegen.py "$TRACE" --requests 10000000 --objects 1000000 --zipf 0.9 --median 20000 --sigma 1.2
fi
cargo build --release -q -p cachesim --example replay_bench
# 10% of the working set (the bytes of the distinct objects)
CAP=$(python3 - "$TRACE" <<'PY'
import sys, numpy as np
sys.path.insert(0, "scripts")
import tracegen
r = np.fromfile(sys.argv[1], dtype=tracegen.RECORD)
_, first = np.unique(r["id"], return_index=True)
print(int(r["size"][first].astype(np.uint64).sum()) // 10)
PY
)
date -u +"%Y-%m-%dT%H:%M:%SZ"
flock /tmp/cdnlab-bench.lock bash -c "
  taskset -c $CORE ./target/release/examples/replay_bench '$TRACE' $CAP lru,fifo,sieve,hashed-lru,hashed-fifo,hashed-sieve,belady
  taskset -c $CORE python3 scripts/libcachesim-bench.py '$TRACE' $CAP lru,fifo,sieve,belady 2>/dev/null
"
