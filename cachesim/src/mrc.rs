//! The exact LRU miss-ratio curve for every byte capacity at once, in one
//! pass (Mattson et al.'s stack distances, by bytes).
//!
//! LRU keeps the longest prefix of the recency stack that fits, as long as
//! every object fits in the cache by itself: then a request hits at
//! capacity C exactly when the bytes of the distinct objects requested
//! since the object's previous request, plus its own, are at most C — its
//! stack distance. A Fenwick tree over request positions holds each
//! object's size at its last request, so a distance is one prefix sum:
//! O(log n) per request.
//!
//! Exactness has two conditions, both checked and reported: C is at least
//! the largest object (a smaller cache refuses the largest objects, and
//! LRU then stops being a stack algorithm: an object can hit at C and miss
//! at a larger C), and no object changes size (a hit keeps the stored
//! size, a miss stores the new one, so the stacks of two capacities
//! differ). Outside them, simulate ([`crate::replay`]).

use crate::loaded::Trace;

/// Stack distances of a trace, sorted, with the bytes behind them.
#[derive(Debug, Clone)]
pub struct Mrc {
    /// Sorted finite distances.
    distances: Vec<u64>,
    /// `bytes_upto[i]`: request bytes of the first i distances.
    bytes_upto: Vec<u64>,
    /// Requests.
    pub requests: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// The curve is exact at capacities of at least this.
    pub exact_from: u64,
    /// Objects that changed size (the curve is then exact nowhere).
    pub size_changes: u64,
}

struct Fenwick(Vec<u64>);

impl Fenwick {
    fn add(&mut self, mut i: usize, v: i64) {
        i += 1;
        while i < self.0.len() {
            self.0[i] = self.0[i].wrapping_add(v as u64);
            i += i & i.wrapping_neg();
        }
    }
    /// Sum of positions `0..i`.
    fn prefix(&self, mut i: usize) -> u64 {
        let mut s = 0u64;
        while i > 0 {
            s = s.wrapping_add(self.0[i]);
            i &= i - 1;
        }
        s
    }
}

impl Mrc {
    /// The stack distances of `trace`; `progress` gets the requests done.
    pub fn lru(trace: &Trace, mut progress: impl FnMut(u64)) -> Mrc {
        let n = trace.len();
        let mut tree = Fenwick(vec![0; n + 1]);
        let mut last = vec![u32::MAX; trace.objects()];
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for t in 0..n {
            let id = trace.ids[t] as usize;
            let size = trace.sizes[t];
            let prev = last[id];
            if prev != u32::MAX {
                let p = prev as usize;
                let between = tree.prefix(t) - tree.prefix(p + 1);
                let own = trace.sizes[p] as u64;
                pairs.push((between + own, size));
                tree.add(p, -(own as i64));
            }
            tree.add(t, size as i64);
            last[id] = t as u32;
            if t % (1 << 16) == 0 {
                progress(t as u64);
            }
        }
        progress(n as u64);
        pairs.sort_unstable_by_key(|p| p.0);
        let mut bytes_upto = Vec::with_capacity(pairs.len() + 1);
        let mut acc = 0u64;
        bytes_upto.push(0);
        for p in &pairs {
            acc += p.1 as u64;
            bytes_upto.push(acc);
        }
        Mrc {
            distances: pairs.into_iter().map(|p| p.0).collect(),
            bytes_upto,
            requests: n as u64,
            bytes: trace.stats.bytes,
            exact_from: trace.stats.max_size as u64,
            size_changes: trace.stats.size_changes,
        }
    }

    /// (misses, miss bytes) of LRU at `cap` bytes.
    pub fn at(&self, cap: u64) -> (u64, u64) {
        let hits = self.distances.partition_point(|&d| d <= cap);
        (self.requests - hits as u64, self.bytes - self.bytes_upto[hits])
    }

    /// Whether [`Mrc::at`] is exact at `cap`.
    pub fn exact_at(&self, cap: u64) -> bool {
        self.size_changes == 0 && cap >= self.exact_from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Cache, Dense, Kind, Policy};

    fn simulate(t: &Trace, cap: u64) -> (u64, u64) {
        let mut c = Cache::<Dense>::new(Kind::Lru, cap, t.objects());
        let (mut m, mut b) = (0, 0);
        for i in 0..t.len() {
            if !c.access(t.ids[i] as u64, t.sizes[i]) {
                m += 1;
                b += t.sizes[i] as u64;
            }
        }
        (m, b)
    }

    #[test]
    fn the_curve_equals_lru_runs_at_every_exact_capacity() {
        let mut x = 11u64;
        let mut size_of = std::collections::HashMap::new();
        let pairs: Vec<(u64, u32)> = (0..20_000)
            .map(|_| {
                x = world::rng::mix(x);
                let k = (x % 3000) * (x % 5) / 4;
                let s = *size_of.entry(k).or_insert(1 + (world::rng::mix(k) % 5000) as u32);
                (k, s)
            })
            .collect();
        let t = Trace::from_pairs(pairs);
        let mrc = Mrc::lru(&t, |_| {});
        assert_eq!(mrc.size_changes, 0);
        for cap in [5000u64, 7777, 20_000, 100_000, 1_000_000, 10_000_000] {
            assert!(mrc.exact_at(cap));
            assert_eq!(mrc.at(cap), simulate(&t, cap), "capacity {cap}");
        }
        assert!(!mrc.exact_at(mrc.exact_from - 1));
    }

    #[test]
    fn below_the_largest_object_lru_is_not_a_stack_algorithm() {
        // X(1) Y(5) X: at C=4, Y is refused and X hits; at C=5 Y evicts X.
        let t = Trace::from_pairs([(0, 1), (1, 5), (0, 1)]);
        assert_eq!(simulate(&t, 4).0, 2);
        assert_eq!(simulate(&t, 5).0, 3);
        let mrc = Mrc::lru(&t, |_| {});
        assert!(!mrc.exact_at(4) && mrc.exact_at(5));
        assert_eq!(mrc.at(5), simulate(&t, 5));
    }
}
