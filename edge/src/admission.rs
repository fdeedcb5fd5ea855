//! Admission for cost: store a response only from the N-th origin fill of
//! its URL within a window, like nginx's `proxy_cache_min_uses`. The design
//! note warns that caching rarely used content does not pay: a one-hit
//! wonder costs a disk write and evicts something that would have hit.
//!
//! A refused response is still served (it was fetched), just not stored;
//! its `Cache-Status` says `detail=admission` and `/stats` counts it. A
//! fill that refreshes a stored entry (a revalidation answered with a new
//! 200) is neither counted nor refused: the URL was admitted already.
//!
//! Uses are counted in a count-min sketch (4 rows of 2^20 one-byte
//! saturating counters, conservative update), so memory stays fixed however
//! many URLs pass: it may over-count (admit a little early, never late).
//! Windows are approximate in the way TinyLFU ages its sketch: two
//! generations, the older dropped every `window`, so a use counts for
//! between one and two windows. Only paths whose rule asks for
//! `min_uses > 1` are counted; a sketch (8 MiB) exists only for a window
//! some rule uses.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use world::CacheRule;

const DEPTH: usize = 4;
const WIDTH_BITS: u32 = 20;
const WIDTH: usize = 1 << WIDTH_BITS;

/// Admission settings and the use counts.
pub struct Admission {
    /// Uses needed before storing, where no rule says otherwise.
    pub min_uses: u32,
    /// Window of the uses, where no rule says otherwise.
    pub window: Duration,
    sketches: Mutex<Vec<Windowed>>,
    /// Storable fills refused so far.
    refused: AtomicU64,
}

impl Admission {
    /// The edge-wide setting (rules may override it per path).
    pub fn new(min_uses: u32, window: Duration) -> Admission {
        Admission { min_uses: min_uses.max(1), window, sketches: Mutex::new(Vec::new()), refused: AtomicU64::new(0) }
    }

    /// The uses needed and their window for a path under `rule`.
    pub fn setting(&self, rule: Option<&CacheRule>) -> (u32, Duration) {
        let min = rule.and_then(|r| r.min_uses).unwrap_or(self.min_uses).max(1);
        let window = rule.and_then(|r| r.min_uses_window).map_or(self.window, |d| d.0);
        (min, window)
    }

    /// Counts one origin fill of `key` against its rule; false (and
    /// counted as refused) when it should not be stored yet.
    pub fn admit_fill(&self, key: &str, rule: Option<&CacheRule>, now_ms: u64) -> bool {
        let ok = self.admit(key, rule, now_ms);
        if !ok {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Storable fills refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Counts one use of `key` at `now_ms` and says whether it may be
    /// stored. Always true where `min_uses` is 1 (nothing is counted).
    pub fn admit(&self, key: &str, rule: Option<&CacheRule>, now_ms: u64) -> bool {
        let (min, window) = self.setting(rule);
        if min <= 1 {
            return true;
        }
        let window_ms = (window.as_millis() as u64).max(1);
        let mut sketches = self.sketches.lock();
        let i = match sketches.iter().position(|s| s.window_ms == window_ms) {
            Some(i) => i,
            None => {
                sketches.push(Windowed::new(window_ms, now_ms));
                sketches.len() - 1
            }
        };
        let s = &mut sketches[i];
        s.age(now_ms);
        s.add(hash(key)) >= min
    }
}

/// A sketch for one window: the current generation and the one before.
struct Windowed {
    window_ms: u64,
    started_ms: u64,
    current: CountMin,
    previous: CountMin,
}

impl Windowed {
    fn new(window_ms: u64, now_ms: u64) -> Self {
        Windowed { window_ms, started_ms: now_ms, current: CountMin::new(), previous: CountMin::new() }
    }

    fn age(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed < self.window_ms {
            return;
        }
        if elapsed >= 2 * self.window_ms {
            self.previous.clear();
        } else {
            std::mem::swap(&mut self.previous, &mut self.current);
        }
        self.current.clear();
        self.started_ms = now_ms - elapsed % self.window_ms;
    }

    /// Counts one use; returns the estimated uses in this and the last window.
    fn add(&mut self, h: u64) -> u32 {
        self.current.add(h) + self.previous.estimate(h)
    }
}

/// A count-min sketch of saturating byte counters.
struct CountMin {
    counters: Vec<u8>,
}

impl CountMin {
    fn new() -> Self {
        CountMin { counters: vec![0; DEPTH * WIDTH] }
    }

    fn clear(&mut self) {
        self.counters.fill(0);
    }

    fn slots(h: u64) -> [usize; DEPTH] {
        // Kirsch–Mitzenmacher: DEPTH indexes from two halves of one hash.
        let (a, b) = (h as u32 as u64, (h >> 32) | 1);
        std::array::from_fn(|row| row * WIDTH + (a.wrapping_add(row as u64 * b) as usize & (WIDTH - 1)))
    }

    fn estimate(&self, h: u64) -> u32 {
        Self::slots(h).iter().map(|&i| self.counters[i] as u32).min().unwrap_or(0)
    }

    /// Conservative update: raises only the counters at the minimum.
    fn add(&mut self, h: u64) -> u32 {
        let slots = Self::slots(h);
        let min = slots.iter().map(|&i| self.counters[i]).min().unwrap_or(0);
        let new = min.saturating_add(1);
        for i in slots {
            if self.counters[i] < new {
                self.counters[i] = new;
            }
        }
        new as u32
    }
}

/// A hash with fixed keys (`DefaultHasher::new()`): the same key lands in
/// the same counters in every run of a build, so runs are reproducible.
fn hash(key: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use world::Dur;

    fn rule(prefix: &str, min: Option<u32>, window: Option<u64>) -> CacheRule {
        let mut r: CacheRule = serde_json::from_value(serde_json::json!({ "prefix": prefix })).unwrap();
        r.min_uses = min;
        r.min_uses_window = window.map(Dur::secs);
        r
    }

    #[test]
    fn min_uses_one_admits_everything_without_counting() {
        let a = Admission::new(1, Duration::from_secs(60));
        assert!(a.admit("/x", None, 0));
        assert!(a.sketches.lock().is_empty());
    }

    #[test]
    fn the_nth_use_within_the_window_is_admitted() {
        let a = Admission::new(3, Duration::from_secs(60));
        assert!(!a.admit("/x", None, 0));
        assert!(!a.admit("/x", None, 1_000));
        assert!(a.admit("/x", None, 2_000));
        assert!(!a.admit("/y", None, 2_000), "another key has its own count");
    }

    #[test]
    fn uses_older_than_two_windows_are_forgotten() {
        let a = Admission::new(2, Duration::from_secs(60));
        assert!(!a.admit("/x", None, 0));
        // one window later the use is in the previous generation: still counts
        assert!(a.admit("/x", None, 61_000));
        let b = Admission::new(2, Duration::from_secs(60));
        assert!(!b.admit("/x", None, 0));
        assert!(!b.admit("/x", None, 125_000), "two windows later it is forgotten");
    }

    #[test]
    fn rules_override_the_edge_setting_by_path() {
        let a = Admission::new(1, Duration::from_secs(60));
        let r = rule("/big/", Some(2), Some(10));
        assert!(a.admit("/small", None, 0));
        assert!(!a.admit("/big/1", Some(&r), 0));
        assert!(a.admit("/big/1", Some(&r), 5_000));
        assert_eq!(a.setting(Some(&r)), (2, Duration::from_secs(10)));
        assert_eq!(a.setting(Some(&rule("/", None, None))), (1, Duration::from_secs(60)));
    }

    #[test]
    fn one_hit_wonders_are_rarely_over_counted() {
        // 200k distinct keys, each used once: the sketch should admit almost none.
        let a = Admission::new(2, Duration::from_secs(3600));
        let wrongly = (0..200_000).filter(|i| a.admit(&format!("/once/{i}"), None, 0)).count();
        assert!(wrongly < 200, "{wrongly} one-hit wonders admitted");
    }
}
