//! Replaying an in-memory trace against one model at one capacity. The
//! loops are monomorphised per policy (no dynamic call per request) and
//! report progress every 64 Ki requests through an atomic counter, so
//! several runs can share one progress bar from several threads.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::belady::Belady;
use crate::loaded::{NEVER, Trace};
use crate::policy::{Clock, Dense, Fifo, Kind, Lfu, Lru, Policy, S3Fifo, Sieve, WTinyLfu};

/// What a run counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Requests replayed.
    pub requests: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Misses.
    pub misses: u64,
    /// Bytes of the missed requests (what the origin sends).
    pub miss_bytes: u64,
}

impl Counts {
    /// misses / requests.
    pub fn miss_ratio(&self) -> f64 {
        self.misses as f64 / self.requests.max(1) as f64
    }
    /// miss bytes / bytes.
    pub fn byte_miss_ratio(&self) -> f64 {
        self.miss_bytes as f64 / self.bytes.max(1) as f64
    }
}

/// A model to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Model {
    /// An online policy.
    Online(Kind),
    /// Belady's MIN.
    Belady,
}

impl Model {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Online(k) => k.as_str(),
            Model::Belady => "belady",
        }
    }

    /// `lru`, …, `belady` (also `min`, `opt`).
    pub fn parse(s: &str) -> Option<Model> {
        match s.to_ascii_lowercase().as_str() {
            "belady" | "min" | "opt" => Some(Model::Belady),
            other => Kind::parse(other).map(Model::Online),
        }
    }
}

const CHUNK: usize = 1 << 16;

fn drive<P: Policy>(mut p: P, t: &Trace, progress: &AtomicU64) -> Counts {
    let mut c = Counts::default();
    for (ids, sizes) in t.ids.chunks(CHUNK).zip(t.sizes.chunks(CHUNK)) {
        for (&id, &size) in ids.iter().zip(sizes) {
            let miss = !p.access(id as u64, size);
            c.misses += miss as u64;
            c.miss_bytes += if miss { size as u64 } else { 0 };
            c.bytes += size as u64;
        }
        c.requests += ids.len() as u64;
        progress.fetch_add(ids.len() as u64, Ordering::Relaxed);
    }
    c
}

/// Replays `t` against an online policy of `cap` bytes.
pub fn run_online(kind: Kind, cap: u64, t: &Trace, progress: &AtomicU64) -> Counts {
    let n = t.objects();
    match kind {
        Kind::Lru => drive(Lru::<Dense>::new(cap, n), t, progress),
        Kind::Fifo => drive(Fifo::<Dense>::new(cap, n), t, progress),
        Kind::Clock => drive(Clock::<Dense>::new(cap, n), t, progress),
        Kind::Sieve => drive(Sieve::<Dense>::new(cap, n), t, progress),
        Kind::S3Fifo => drive(S3Fifo::<Dense>::new(cap, n), t, progress),
        Kind::Lfu => drive(Lfu::<Dense>::new(cap, n), t, progress),
        Kind::WTinyLfu => drive(WTinyLfu::<Dense>::new(cap, n), t, progress),
    }
}

/// Replays `t` against Belady's MIN of `cap` bytes (`next` from
/// [`Trace::next_use`]).
pub fn run_belady(cap: u64, t: &Trace, next: &[u32], progress: &AtomicU64) -> Counts {
    let mut b = Belady::new(cap, t.objects());
    let mut c = Counts::default();
    for start in (0..t.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(t.len());
        for ((&id, &size), &nx) in t.ids[start..end].iter().zip(&t.sizes[start..end]).zip(&next[start..end]) {
            let n = if nx == NEVER { u64::MAX } else { nx as u64 };
            let miss = !b.access(id, size, n);
            c.misses += miss as u64;
            c.miss_bytes += if miss { size as u64 } else { 0 };
            c.bytes += size as u64;
        }
        c.requests += (end - start) as u64;
        progress.fetch_add((end - start) as u64, Ordering::Relaxed);
    }
    c
}

/// Replays `t` against `model` (`next` is needed for Belady only).
pub fn run(model: Model, cap: u64, t: &Trace, next: Option<&[u32]>, progress: &AtomicU64) -> Counts {
    match (model, next) {
        (Model::Online(k), _) => run_online(k, cap, t, progress),
        (Model::Belady, Some(next)) => run_belady(cap, t, next, progress),
        (Model::Belady, None) => run_belady(cap, t, &t.next_use(), progress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_belady_is_no_worse_than_any_policy_with_unit_sizes() {
        let mut x = 3u64;
        let t = Trace::from_pairs((0..30_000).map(|_| {
            x = world::rng::mix(x);
            ((x % 4000) * (x % 9) / 8, 1)
        }));
        let next = t.next_use();
        let p = AtomicU64::new(0);
        for cap in [10u64, 100, 1000] {
            let opt = run(Model::Belady, cap, &t, Some(&next), &p);
            assert_eq!(opt.requests, 30_000);
            assert_eq!(opt.misses, opt.miss_bytes);
            for k in Kind::ALL {
                let c = run(Model::Online(k), cap, &t, None, &p);
                assert!(opt.misses <= c.misses, "{k} at {cap}: {} < Belady {}", c.misses, opt.misses);
                assert!(c.misses >= t.objects() as u64);
            }
        }
        assert_eq!(p.load(Ordering::Relaxed), 3 * 8 * 30_000);
    }

    #[test]
    fn model_names() {
        assert_eq!(Model::parse("OPT"), Some(Model::Belady));
        assert_eq!(Model::parse("sieve"), Some(Model::Online(Kind::Sieve)));
        assert_eq!(Model::parse("lirs"), None);
    }
}
