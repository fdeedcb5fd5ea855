//! A size-aware lower bound on misses: PFOO-L (Berger, Beckmann,
//! Harchol-Balter, "Practical Bounds on Optimal Caching with Variable
//! Object Sizes", SIGMETRICS 2018).
//!
//! Every hit needs its object kept from its previous request to this one:
//! an interval costing `size × length` of cache "space-time" (length in
//! requests). A cache of C bytes offers at most `C × n` of it over n
//! requests, at every instant at most C; PFOO-L keeps only the total. With
//! that one constraint relaxed, the most hits any policy — offline, with
//! bypassing, with perfect knowledge — can get are those of the cheapest
//! intervals that fit the budget: sorted by cost, taken greedily. So no
//! policy misses less: this is a *bound*, not a schedule, and the true
//! optimum lies between it and the best policy found. O(n log n).
//!
//! Two bounds: for misses (intervals by cost, each worth one hit; the
//! greedy prefix is the exact optimum of the relaxation) and for miss bytes
//! (intervals by cost per byte saved, the last one taken fractionally, as
//! the relaxation's optimum does). Objects larger than the cache cannot be
//! kept at all.

use crate::loaded::{NEVER, Trace};

/// The bounds at one capacity.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bound {
    /// No policy has fewer misses.
    pub misses: u64,
    /// No policy fetches fewer bytes.
    pub miss_bytes: u64,
}

/// PFOO-L at `cap` bytes (`next` from [`Trace::next_use`]).
pub fn pfoo_lower(trace: &Trace, next: &[u32], cap: u64) -> Bound {
    let n = trace.len();
    let budget = cap as u128 * n as u128;
    // (cost, value in bytes) of every interval that could be a hit
    let mut by_cost: Vec<(u128, u32)> = Vec::new();
    for (i, &j) in next.iter().enumerate().take(n) {
        if j == NEVER || trace.sizes[i] as u64 > cap {
            continue;
        }
        let cost = trace.sizes[i] as u128 * (j as usize - i) as u128;
        by_cost.push((cost, trace.sizes[j as usize]));
    }
    let total_bytes: u64 = trace.sizes.iter().map(|&s| s as u64).sum();

    by_cost.sort_unstable_by_key(|x| x.0);
    let mut spent = 0u128;
    let mut hits = 0u64;
    for (cost, _) in &by_cost {
        if spent + cost > budget {
            break;
        }
        spent += cost;
        hits += 1;
    }

    // bytes: best value per cost first (ties: cheaper first)
    by_cost.sort_unstable_by(|a, b| {
        let (ra, rb) = (a.1 as f64 / a.0 as f64, b.1 as f64 / b.0 as f64);
        rb.total_cmp(&ra).then(a.0.cmp(&b.0))
    });
    let mut spent = 0u128;
    let mut hit_bytes = 0f64;
    for (cost, value) in &by_cost {
        if spent + cost > budget {
            let part = (budget - spent) as f64 / *cost as f64;
            hit_bytes += *value as f64 * part;
            break;
        }
        spent += cost;
        hit_bytes += *value as f64;
    }
    Bound { misses: n as u64 - hits, miss_bytes: (total_bytes as f64 - hit_bytes).max(0.0).ceil() as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::belady::Belady;

    #[test]
    fn a_hand_computed_bound() {
        // A B A B with a 1-byte cache, unit sizes: intervals A(0→2) and
        // B(1→3) cost 2 each, the budget is 1 × 4 = 4: both fit in the
        // relaxation (a real cache can keep only one of them at a time).
        let t = Trace::from_pairs([(0, 1), (1, 1), (0, 1), (1, 1)]);
        let b = pfoo_lower(&t, &t.next_use(), 1);
        assert_eq!(b, Bound { misses: 2, miss_bytes: 2 });
        // Belady admits every object, so it misses all four; an optimum
        // that may bypass keeps A and misses 3. The bound is below both.
        let mut opt = Belady::new(1, 2);
        let next = t.next_use();
        let m = (0..4)
            .filter(|&i| !opt.access(t.ids[i], 1, if next[i] == NEVER { u64::MAX } else { next[i] as u64 }))
            .count();
        assert_eq!(m, 4);
    }

    #[test]
    fn the_bound_never_exceeds_belady_with_unit_sizes() {
        let mut x = 7u64;
        let pairs: Vec<(u64, u32)> = (0..5000)
            .map(|_| {
                x = world::rng::mix(x);
                ((x % 1000) * (x % 7) / 6, 1)
            })
            .collect();
        let t = Trace::from_pairs(pairs);
        let next = t.next_use();
        for cap in [1u64, 10, 50, 200] {
            let mut opt = Belady::new(cap, t.objects());
            let m = (0..t.len())
                .filter(|&i| !opt.access(t.ids[i], 1, if next[i] == NEVER { u64::MAX } else { next[i] as u64 }))
                .count() as u64;
            let b = pfoo_lower(&t, &next, cap);
            assert!(b.misses <= m, "cap {cap}: bound {} > Belady {m}", b.misses);
            assert!(b.misses >= t.objects() as u64, "compulsory misses stay");
        }
    }

    #[test]
    fn oversized_objects_always_miss() {
        let t = Trace::from_pairs([(0, 10), (0, 10), (1, 1), (1, 1)]);
        let b = pfoo_lower(&t, &t.next_use(), 5);
        assert_eq!(b, Bound { misses: 3, miss_bytes: 21 });
    }
}
