"""Replay throughput of the libcachesim Python package (its C core, driven by
`process_trace`, which reads an oracleGeneral file through libCacheSim's own
mmap reader), for comparison with cdnlab's replay_bench on the same trace.

    python3 scripts/libcachesim-bench.py TRACE CAPACITY_BYTES [lru,fifo,sieve]
"""

import sys
import time

import libcachesim as lcs

CLASSES = {"lru": lcs.LRU, "fifo": lcs.FIFO, "sieve": lcs.Sieve, "s3fifo": lcs.S3FIFO, "clock": lcs.Clock,
           "belady": lcs.Belady}


def main():
    path, cap = sys.argv[1], int(sys.argv[2])
    policies = sys.argv[3].split(",") if len(sys.argv) > 3 else ["lru", "fifo", "sieve"]
    reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
    n = reader.get_num_of_req()
    print(f"libcachesim {lcs.__version__}: {n} requests, capacity {cap} B")
    for p in policies:
        cache = CLASSES[p](cap)
        t = time.perf_counter()
        mr, bmr = cache.process_trace(reader)
        s = time.perf_counter() - t
        print(f"{p:<16} {n / s / 1e6:>8.2f} M requests/s  ({s:.3f} s)  miss ratio {mr:.4f}  byte miss ratio {bmr:.4f}")


if __name__ == "__main__":
    main()
