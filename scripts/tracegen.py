"""Synthetic request traces in libCacheSim's oracleGeneral format (24-byte
little-endian records: u32 time, u64 id, u32 size, i64 next-access index,
-1 for never), for the libcachesim cross-check and the replay benchmark.

    python3 scripts/tracegen.py OUT.oracleGeneral --requests 10000000 --objects 1000000 --zipf 0.9
"""

import argparse

import numpy as np

RECORD = np.dtype([("t", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
assert RECORD.itemsize == 24


def next_access(ids):
    """Index of the next request for the same id, -1 if none."""
    n = len(ids)
    idx = np.arange(n, dtype=np.int64)
    order = np.lexsort((idx, ids))
    nxt = np.full(n, -1, dtype=np.int64)
    same = ids[order][1:] == ids[order][:-1]
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


def zipf_ids(rng, n_req, n_obj, alpha):
    """Object ranks 0..n_obj-1 drawn from Zipf(alpha), shuffled to ids."""
    w = 1.0 / np.arange(1, n_obj + 1, dtype=np.float64) ** alpha
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(n_req), side="right")
    ranks = np.minimum(ranks, n_obj - 1)
    perm = rng.permutation(n_obj).astype(np.uint64) * 7919 + 13  # spread ids
    return perm[ranks]


def object_sizes(rng, ids, median, sigma, max_size):
    """A lognormal size per object (the same for every request of it)."""
    uniq, inv = np.unique(ids, return_inverse=True)
    s = np.exp(np.log(median) + sigma * rng.standard_normal(len(uniq)))
    s = np.clip(np.round(s), 1, max_size).astype(np.uint32)
    return s[inv]


def write(path, times, ids, sizes):
    rec = np.empty(len(ids), dtype=RECORD)
    rec["t"] = times
    rec["id"] = ids
    rec["size"] = sizes
    rec["next"] = next_access(ids)
    rec.tofile(path)


def zipf_trace(path, n_req, n_obj, alpha, seed=1, median=0, sigma=1.0, max_size=1 << 24, per_second=1000,
               one_hit=0.0, loop=0):
    """Zipf popularity; unit sizes when median is 0, else lognormal per object.
    `one_hit`: share of requests for objects requested once (a scan);
    `loop`: instead of Zipf, objects 0..loop-1 requested in a cycle."""
    rng = np.random.default_rng(seed)
    if loop:
        ids = (np.arange(n_req) % loop).astype(np.uint64) * 7919 + 13
    else:
        ids = zipf_ids(rng, n_req, n_obj, alpha)
    if one_hit:
        scan = rng.random(n_req) < one_hit
        ids[scan] = (np.uint64(1) << np.uint64(62)) + np.arange(scan.sum(), dtype=np.uint64)
    sizes = np.ones(n_req, dtype=np.uint32) if median == 0 else object_sizes(rng, ids, median, sigma, max_size)
    times = (np.arange(n_req) // per_second).astype(np.uint32)
    write(path, times, ids, sizes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--zipf", type=float, default=0.9)
    ap.add_argument("--median", type=int, default=0, help="median object size (0: every object 1 byte)")
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one-hit", type=float, default=0.0, help="share of requests for objects requested once")
    ap.add_argument("--loop", type=int, default=0, help="cycle over this many objects instead of Zipf")
    a = ap.parse_args()
    zipf_trace(a.out, a.requests, a.objects, a.zipf, a.seed, a.median, a.sigma, one_hit=a.one_hit, loop=a.loop)


if __name__ == "__main__":
    main()
