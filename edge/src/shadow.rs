//! What-if caches: metadata-only caches of other policies and sizes, fed
//! the same requests as the real cache (the world's `shadow` setting,
//! `["lru:64MiB", "sieve:256MiB"]`), so `/stats`, `/metrics`, `cdn stats`
//! and run reports can say what each alternative would have hit and what
//! its origin bytes would have cost, beside the real cache.
//!
//! **What is sampled.** Every GET or HEAD answered 200 from the cache or
//! filled for it: the outcomes `hit`, `stale` and `revalidated` (the
//! object was in the real cache) and `miss` (it was not). Passes (private
//! or uncacheable responses, preconditions), errors, 304s to conditional
//! clients, 206 ranges and bodies of unknown length are not samples: no
//! cache policy changes them. A sample is the 64-bit hash
//! of the
//! cache key (the canonical target, [`crate::key`]; [`key_hash`]), the object's size
//! (the whole body; a HEAD's `Content-Length`) and whether the real cache
//! had it. Two keys sharing a hash would share a shadow entry: at 2^-64
//! per pair, negligible for statistics. Shadows keep no bodies, do not
//! expire or purge anything (a purged or expired object still counts as
//! a hit for them) and run `cachesim`'s policies, with its semantics
//! (docs/traces.md).
//!
//! **Sampled shadows** (SHARDS, Waldspurger et al., FAST 2015): at a
//! rate R below 1 (the world's `shadow_sample`) a request is a sample
//! only if its key's hash is in the lowest R of the hash space (one
//! compare, before the queue), each shadow holds R of its capacity, and
//! `/stats` scales every count by 1/R and says so (`sample_rate`); the
//! real row covers the same sampled requests, so the rows stay comparable.
//! A key is followed always or never, so each followed object sees all
//! its requests, and the caches see R of the objects.
//!
//! **No lock on the request path.** A request puts its sample in a
//! bounded queue (`try_send`: one CAS, no allocation); a thread drains
//! the queue every [`DRAIN_EVERY`] (backing off to [`DRAIN_IDLE`] while
//! nothing arrives) and updates the caches in a batch
//! under their lock, and so does every `/stats` read first, so the
//! numbers include every request answered before it. A full queue drops
//! the sample and counts it (`dropped`): the shadows' rows and the real
//! row cover the same samples. With no shadow configured the edge has no
//! [`Shadows`] and a request pays one `Option` test.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Weak};
use std::time::Duration;

use cachesim::policy::{Cache, Hashed, Policy};
use http::header::CONTENT_LENGTH;
use http::{Method, Request, Response};
use parking_lot::Mutex;
use runtime::prom::{Encoder, Kind};
use world::ByteSize;
use world::policy::ShadowCache;
use world::price::Prices;

use crate::body::Body;
use crate::key::{CacheKey, is_normal};
use crate::meter::Outcome;

pub use api::edge::{ShadowRow, ShadowStats};

/// Samples the queue holds before it drops new ones.
pub const QUEUE: usize = 32 * 1024;
/// How often the drain thread empties the queue into the caches.
pub const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// The longest the drain thread sleeps once the queue stays empty (its
/// sleep doubles from [`DRAIN_EVERY`] each empty drain): an idle edge
/// wakes it about 3 times a second, and a burst after idleness has
/// [`QUEUE`] samples of room, 100,000 samples a second, before the first
/// drain (a `/stats` read drains at once anyway).
pub const DRAIN_IDLE: Duration = Duration::from_millis(320);

/// Requests sampled (counter; `edge`).
pub const SAMPLED_TOTAL: &str = "cdnlab_edge_shadow_requests_total";
/// Bytes of the sampled requests' objects (counter; `edge`).
pub const SAMPLED_BYTES_TOTAL: &str = "cdnlab_edge_shadow_bytes_total";
/// Samples dropped at a full queue (counter; `edge`).
pub const DROPPED_TOTAL: &str = "cdnlab_edge_shadow_dropped_total";
/// Hits by cache (counter; `edge`, `policy`, `size`; `policy="real"`: the real cache).
pub const HITS_TOTAL: &str = "cdnlab_edge_shadow_hits_total";
/// Bytes of the hits (counter; `edge`, `policy`, `size`).
pub const HIT_BYTES_TOTAL: &str = "cdnlab_edge_shadow_hit_bytes_total";
/// Bytes of the misses: what the origin sends (counter; `edge`, `policy`, `size`).
pub const ORIGIN_BYTES_TOTAL: &str = "cdnlab_edge_shadow_origin_bytes_total";
/// The misses' bytes at list prices, origin egress + fill (counter; `edge`, `policy`, `size`).
pub const ORIGIN_DOLLARS_TOTAL: &str = "cdnlab_edge_shadow_origin_dollars_total";
/// The share of keys the shadow caches follow (gauge; `edge`; 1: exact).
pub const SAMPLE_RATE: &str = "cdnlab_edge_shadow_sample_rate";
/// Objects in a shadow cache (gauge; `edge`, `policy`, `size`).
pub const ENTRIES: &str = "cdnlab_edge_shadow_entries";
/// Heap bytes of a shadow cache's metadata (gauge; `edge`, `policy`, `size`).
pub const HEAP_BYTES: &str = "cdnlab_edge_shadow_heap_bytes";

/// One sampled request.
#[derive(Debug, Clone, Copy)]
struct Sample {
    key: u64,
    size: u32,
    real_hit: bool,
}

/// Requests, bytes and hits of one cache over the samples.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    requests: u64,
    bytes: u64,
    hits: u64,
    hit_bytes: u64,
}

impl Tally {
    #[inline]
    fn add(&mut self, size: u32, hit: bool) {
        self.requests += 1;
        self.bytes += size as u64;
        if hit {
            self.hits += 1;
            self.hit_bytes += size as u64;
        }
    }

    /// The tally scaled by `scale` (1 / the sample rate; 1: as counted).
    fn scaled(&self, scale: f64) -> Tally {
        let s = |n: u64| if scale == 1.0 { n } else { (n as f64 * scale).round() as u64 };
        Tally { requests: s(self.requests), bytes: s(self.bytes), hits: s(self.hits), hit_bytes: s(self.hit_bytes) }
    }

    /// The row of the tally scaled by `scale` (its ratios are the samples').
    fn row(&self, cache: String, policy: &str, capacity: u64, scale: f64, prices: &Prices) -> ShadowRow {
        let t = self.scaled(scale);
        let origin_bytes = t.bytes - t.hit_bytes;
        ShadowRow {
            cache,
            policy: policy.to_string(),
            capacity,
            requests: t.requests,
            hits: t.hits,
            bytes: t.bytes,
            hit_bytes: t.hit_bytes,
            hit_ratio: ratio(self.hits, self.requests),
            byte_hit_ratio: ratio(self.hit_bytes, self.bytes),
            origin_bytes,
            origin_usd: prices.origin_cost(origin_bytes),
            entries: None,
            used_bytes: None,
            heap_bytes: None,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The caches and their tallies, behind one lock.
struct Caches {
    queue: Receiver<Sample>,
    real: Tally,
    shadows: Vec<(ShadowCache, Cache<Hashed>, Tally)>,
}

impl Caches {
    /// Applies every queued sample; whether there was any.
    fn drain(&mut self) -> bool {
        let before = self.real.requests;
        while let Ok(s) = self.queue.try_recv() {
            self.real.add(s.size, s.real_hit);
            for (_, cache, tally) in &mut self.shadows {
                let hit = cache.access(s.key, s.size);
                tally.add(s.size, hit);
            }
        }
        self.real.requests != before
    }
}

/// The real cache, as the real row names it.
#[derive(Debug, Clone)]
pub struct RealCache {
    /// Its memory-tier policy (`s3fifo`).
    pub policy: String,
    /// Memory and disk tiers together, bytes.
    pub capacity: u64,
}

/// One edge's shadow caches (see the module docs).
pub struct Shadows {
    /// The largest key hash sampled (`u64::MAX`: every key).
    threshold: u64,
    /// The share of the hash space at or below `threshold`.
    rate: f64,
    queue: SyncSender<Sample>,
    dropped: AtomicU64,
    caches: Arc<Mutex<Caches>>,
    real: RealCache,
}

impl Shadows {
    /// Shadow caches of `specs` beside `real`, drained by a thread of
    /// their own (named `shadow-{edge}`) that ends when they are dropped.
    /// `None` without specs: the edge then does no shadow work at all.
    /// `rate`: the share of keys they follow (1: all; see the module docs).
    pub fn start(edge: &str, specs: &[ShadowCache], rate: f64, real: RealCache) -> std::io::Result<Option<Shadows>> {
        let Some(s) = Shadows::sampled(specs, rate, real) else { return Ok(None) };
        let weak = Arc::downgrade(&s.caches);
        std::thread::Builder::new().name(format!("shadow-{edge}")).spawn(move || drain_loop(weak))?;
        Ok(Some(s))
    }

    /// Shadow caches that only a `/stats` read drains (tests and
    /// measurements drive them directly).
    pub fn new(specs: &[ShadowCache], real: RealCache) -> Option<Shadows> {
        Shadows::sampled(specs, 1.0, real)
    }

    /// Shadow caches, as [`Shadows::new`], that follow the keys whose hash
    /// is in the lowest `rate` of the hash space (clamped to (0, 1]), each
    /// at `rate` of its capacity.
    pub fn sampled(specs: &[ShadowCache], rate: f64, real: RealCache) -> Option<Shadows> {
        if specs.is_empty() {
            return None;
        }
        let (threshold, rate) = threshold(rate);
        let (queue, rx) = sync_channel(QUEUE);
        let shadows = specs
            .iter()
            .map(|s| (*s, Cache::new(s.policy, scaled_capacity(s.capacity.0, rate), 0), Tally::default()))
            .collect();
        let caches = Arc::new(Mutex::new(Caches { queue: rx, real: Tally::default(), shadows }));
        Some(Shadows { threshold, rate, queue, dropped: AtomicU64::new(0), caches, real })
    }

    /// Queues one request for `key` (a hash) of `size` bytes, which the
    /// real cache did (`real_hit`) or did not have; a size-0 request is
    /// not a sample (as in `cdn replay`). Counts the sample as dropped if
    /// the queue is full.
    #[inline]
    pub fn record(&self, key: u64, size: u64, real_hit: bool) {
        if key > self.threshold || size == 0 {
            return;
        }
        let s = Sample { key, size: size.min(u32::MAX as u64) as u32, real_hit };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(s) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every queued sample applied, then the rows: the real cache's and
    /// each shadow's, their origin bytes priced at `prices`, their counts
    /// scaled by 1 / the sample rate.
    pub fn stats(&self, prices: &Prices) -> ShadowStats {
        let mut c = self.caches.lock();
        c.drain();
        let r = &self.real;
        let real_name = format!("real ({}, {})", r.policy, ByteSize(r.capacity));
        let scale = 1.0 / self.rate;
        let all = c.real.scaled(scale);
        ShadowStats {
            sample_rate: self.rate,
            samples: c.real.requests,
            requests: all.requests,
            bytes: all.bytes,
            dropped: self.dropped.load(Ordering::Relaxed),
            real: c.real.row(real_name, "real", r.capacity, scale, prices),
            caches: c
                .shadows
                .iter()
                .map(|(spec, cache, t)| ShadowRow {
                    entries: Some(cache.len() as u64),
                    used_bytes: Some(cache.used()),
                    heap_bytes: Some(cache.heap_bytes() as u64),
                    ..t.row(spec.to_string(), spec.policy.as_str(), spec.capacity.0, scale, prices)
                })
                .collect(),
        }
    }
}

/// The largest hash a `rate` samples, and the rate that is (`rate`
/// clamped to [2^-64, 1]; 1: `u64::MAX`, every key).
fn threshold(rate: f64) -> (u64, f64) {
    if rate.is_nan() || rate >= 1.0 {
        return (u64::MAX, 1.0);
    }
    // 2^64 * rate < 2^64: exact in f64's range, truncated to an integer
    let t = (rate.max(0.0) * 18_446_744_073_709_551_616.0) as u64;
    (t.max(1), t.max(1) as f64 / 18_446_744_073_709_551_616.0)
}

/// A shadow's capacity at sample rate `rate` (at least one byte).
fn scaled_capacity(capacity: u64, rate: f64) -> u64 {
    if rate >= 1.0 { capacity } else { ((capacity as f64 * rate).round() as u64).max(1) }
}

fn drain_loop(caches: Weak<Mutex<Caches>>) {
    let mut sleep = DRAIN_EVERY;
    loop {
        std::thread::sleep(sleep);
        let Some(c) = caches.upgrade() else { return };
        let busy = c.lock().drain();
        sleep = if busy { DRAIN_EVERY } else { (sleep * 2).min(DRAIN_IDLE) };
    }
}

/// The shadow key of a request: the hash of its cache key, for a GET or
/// HEAD whose target is a valid key; whether it is a HEAD.
#[derive(Debug, Clone, Copy)]
pub struct Looked {
    key: u64,
    head: bool,
}

/// The hash a shadow cache keys `target` (a canonical cache key) by, and
/// samples by: every request pays it, so it takes eight bytes a step
/// (FNV-1a's byte a step, `world::rng::hash64`, cost 2.5 instructions a
/// byte), then SplitMix64's finaliser, so its high bits (which the sample
/// threshold compares) depend on every byte.
#[inline]
pub fn key_hash(target: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    #[inline(always)]
    fn step(h: u64, w: &[u8]) -> u64 {
        let w: [u8; 8] = w.try_into().unwrap_or_default();
        (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31)
    }
    let b = target.as_bytes();
    let n = b.len();
    let mut h = K ^ n as u64;
    if n >= 8 {
        for w in b.chunks_exact(8) {
            h = step(h, w);
        }
        if !n.is_multiple_of(8) {
            // the last eight bytes, overlapping the last whole word (the
            // length, mixed in first, tells apart what the overlap hides)
            h = step(h, &b[n - 8..]);
        }
    } else {
        let mut w = 0u64;
        for (i, &c) in b.iter().enumerate() {
            w |= (c as u64) << (8 * i);
        }
        h = (h ^ w).wrapping_mul(K).rotate_left(31);
    }
    world::rng::mix(h)
}

impl Shadows {
    /// Samples a fast hit of `target` (a canonical key: the fast path
    /// takes only those) of `size` body bytes.
    #[inline]
    pub fn fast_hit(&self, target: &str, size: usize) {
        self.record(key_hash(target), size as u64, true);
    }

    /// What a request the fast path did not answer will be sampled as, if
    /// it is a GET or HEAD with a valid key (read before the request path
    /// takes the request).
    #[inline]
    pub fn key_of<B>(&self, req: &Request<B>) -> Option<Looked> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let key = if is_normal(pq) { key_hash(pq) } else { key_hash(CacheKey::from_uri(req.uri()).ok()?.as_str()) };
        Some(Looked { key, head })
    }

    /// Samples the answer to a request keyed by `looked`: a 200 whose
    /// outcome says whether the real cache had it, of `body` bytes (a
    /// GET's body; a HEAD's `Content-Length`).
    pub fn observe(&self, looked: Option<Looked>, outcome: Outcome, r: &Response<Body>, body: Option<u64>) {
        let Some(l) = looked else { return };
        let real_hit = match outcome {
            Outcome::Hit | Outcome::Stale | Outcome::Revalidated => true,
            Outcome::Miss => false,
            Outcome::Pass | Outcome::Error => return,
        };
        if r.status() != http::StatusCode::OK {
            return;
        }
        let size = if l.head {
            r.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
        } else {
            body
        };
        if let Some(size) = size {
            self.record(l.key, size, real_hit);
        }
    }
}

/// A metric family of one value per cache: name, help, the value.
type Family<T> = (&'static str, &'static str, fn(&ShadowRow) -> T);

/// Adds the shadow families of one edge's `/stats` to `p`.
pub fn prometheus(p: &mut Encoder, edge: &str, s: &ShadowStats) {
    let e = [("edge", edge)];
    p.single(
        SAMPLED_TOTAL,
        Kind::Counter,
        "Requests the shadow caches were fed (cache lookups answered 200).",
        &e,
        s.requests,
    );
    p.single(
        SAMPLED_BYTES_TOTAL,
        Kind::Counter,
        "Bytes of the objects of the requests the shadow caches were fed.",
        &e,
        s.bytes,
    );
    p.single(
        SAMPLE_RATE,
        Kind::Gauge,
        "The share of keys the shadow caches follow (1: every key, exact; below: counts are scaled estimates).",
        &e,
        s.sample_rate,
    );
    p.single(
        DROPPED_TOTAL,
        Kind::Counter,
        "Requests not fed to the shadow caches: their queue was full.",
        &e,
        s.dropped,
    );
    let all: Vec<&ShadowRow> = std::iter::once(&s.real).chain(&s.caches).collect();
    let sizes: Vec<String> = all.iter().map(|r| ByteSize(r.capacity).to_string()).collect();
    let rows: Vec<(&ShadowRow, [(&str, &str); 3])> = all
        .iter()
        .zip(&sizes)
        .map(|(r, size)| (*r, [("edge", edge), ("policy", r.policy.as_str()), ("size", size.as_str())]))
        .collect();
    let counters: [Family<u64>; 3] = [
        (HITS_TOTAL, "Requests that would have been hits, by cache (policy=\"real\": the real cache).", |r| r.hits),
        (HIT_BYTES_TOTAL, "Bytes of the hits, by cache.", |r| r.hit_bytes),
        (ORIGIN_BYTES_TOTAL, "Bytes of the misses (what the origin sends), by cache.", |r| r.origin_bytes),
    ];
    for (name, help, value) in counters {
        p.family(name, Kind::Counter, help);
        for row in &rows {
            p.sample(&row.1, value(row.0));
        }
    }
    p.family(ORIGIN_DOLLARS_TOTAL, Kind::Counter, "The misses' bytes at list prices (origin egress + fill), by cache.");
    for row in &rows {
        p.sample(&row.1, row.0.origin_usd);
    }
    let gauges: [Family<Option<u64>>; 2] = [
        (ENTRIES, "Objects in a shadow cache.", |r| r.entries),
        (HEAP_BYTES, "Heap bytes of a shadow cache's metadata.", |r| r.heap_bytes),
    ];
    for (name, help, value) in gauges {
        p.family(name, Kind::Gauge, help);
        for row in rows.iter().skip(1) {
            p.sample(&row.1, value(row.0).unwrap_or(0));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use cachesim::Trace;
    use cachesim::policy::Kind;
    use cachesim::replay::run_online;

    use super::*;

    fn real() -> RealCache {
        RealCache { policy: "s3fifo".into(), capacity: 1 << 20 }
    }

    /// A skewed sequence of (key, size) with keys that are hashes (as the
    /// edge's are) and sizes from 1 byte to 64 KiB.
    fn sequence(n: usize) -> Vec<(u64, u32)> {
        let mut x = 7u64;
        (0..n)
            .map(|_| {
                x = world::rng::mix(x);
                let id = (x % 3000) * (x % 7) / 6;
                let key = key_hash(&format!("/obj/{id}"));
                (key, 1 + (world::rng::mix(id) % 65_536) as u32)
            })
            .collect()
    }

    #[test]
    fn a_shadow_hits_exactly_where_a_cachesim_replay_of_the_same_requests_hits() {
        let seq = sequence(20_000);
        let trace = Trace::from_pairs(seq.iter().copied());
        let specs: Vec<ShadowCache> = Kind::ALL
            .iter()
            .flat_map(|&policy| [1u64 << 20, 8 << 20].map(|cap| ShadowCache { policy, capacity: ByteSize(cap) }))
            .collect();
        let prices = Prices::default();
        // in batches smaller than the queue, drained by a /stats read each
        let sh = Shadows::new(&specs, real()).unwrap();
        for chunk in seq.chunks(QUEUE / 2) {
            for &(key, size) in chunk {
                sh.record(key, size as u64, false);
            }
            sh.stats(&prices);
        }
        let s = sh.stats(&prices);
        assert_eq!((s.requests, s.dropped), (seq.len() as u64, 0));
        assert_eq!(s.caches.len(), specs.len());
        for (spec, row) in specs.iter().zip(&s.caches) {
            let c = run_online(spec.policy, spec.capacity.0, &trace, &AtomicU64::new(0));
            assert_eq!(row.cache, spec.to_string());
            assert_eq!(row.requests, c.requests, "{spec}");
            if spec.policy == Kind::WTinyLfu {
                // Its frequency sketch hashes the key: dense ids offline,
                // URL hashes here, so sketch collisions (only) differ.
                let off = (row.hits as f64 - (c.requests - c.misses) as f64).abs() / row.hits as f64;
                assert!(off < 0.03, "{spec}: {} hits against {} offline", row.hits, c.requests - c.misses);
                continue;
            }
            assert_eq!(row.hits, c.requests - c.misses, "{spec}: hits");
            assert_eq!(row.origin_bytes, c.miss_bytes, "{spec}: origin bytes");
            assert_eq!(row.hit_bytes + row.origin_bytes, c.bytes, "{spec}");
            assert_eq!(row.origin_usd, prices.origin_cost(c.miss_bytes), "{spec}");
            assert!(row.hits > 0 && row.hits < row.requests, "{spec}: a sequence that tells policies apart");
        }
        // the sequence needs the space: the 8 MiB caches hit more than the 1 MiB ones
        assert!(s.caches[1].hits > s.caches[0].hits);
    }

    #[test]
    fn a_full_queue_drops_samples_and_counts_them_and_every_row_covers_the_same_requests() {
        let sh = Shadows::new(&[ShadowCache::parse("lru:1MiB").unwrap()], real()).unwrap();
        for i in 0..QUEUE as u64 + 10 {
            sh.record(i, 100, i % 2 == 0);
        }
        sh.record(1, 0, true); // size 0: not a sample, not a drop
        let s = sh.stats(&Prices::default());
        assert_eq!((s.requests, s.dropped), (QUEUE as u64, 10));
        assert_eq!(s.real.requests, s.caches[0].requests);
        assert_eq!(s.real.hits, QUEUE as u64 / 2);
        assert_eq!(s.caches[0].hits, 0);
        assert_eq!(s.real.origin_bytes, QUEUE as u64 / 2 * 100);
    }

    fn specs(list: &[&str]) -> Vec<ShadowCache> {
        list.iter().map(|s| ShadowCache::parse(s).unwrap()).collect()
    }

    #[test]
    fn a_sampled_shadow_hits_as_a_cachesim_replay_of_the_sampled_keys_at_the_scaled_capacity() {
        let rate = 0.25;
        let seq = sequence(40_000);
        let (t, _) = threshold(rate);
        let kept: Vec<(u64, u32)> = seq.iter().copied().filter(|&(k, _)| k <= t).collect();
        let trace = Trace::from_pairs(kept.iter().copied());
        let specs = specs(&["lru:1MiB", "sieve:2MiB", "s3fifo:4MiB", "fifo:8MiB"]);
        let prices = Prices::default();
        let sh = Shadows::sampled(&specs, rate, real()).unwrap();
        for chunk in seq.chunks(QUEUE / 2) {
            for &(key, size) in chunk {
                sh.record(key, size as u64, false);
            }
            sh.stats(&prices);
        }
        let s = sh.stats(&prices);
        assert_eq!((s.samples, s.dropped, s.sample_rate), (kept.len() as u64, 0, rate));
        for (spec, row) in specs.iter().zip(&s.caches) {
            let c = run_online(spec.policy, spec.capacity.0 / 4, &trace, &AtomicU64::new(0));
            assert_eq!(row.capacity, spec.capacity.0, "{spec}: the configured size is reported");
            assert_eq!(row.hits, (c.requests - c.misses) * 4, "{spec}: hits");
            assert_eq!(row.origin_bytes, c.miss_bytes * 4, "{spec}: origin bytes");
            assert_eq!(row.hit_ratio, (c.requests - c.misses) as f64 / c.requests as f64, "{spec}");
            assert!(row.used_bytes.unwrap() <= spec.capacity.0 / 4, "{spec}: holds a quarter of its size");
            assert!(row.hits > 0 && row.hits < row.requests, "{spec}: a sequence that tells sizes apart");
        }
    }

    #[test]
    fn sampled_counts_are_scaled_by_the_inverse_rate_and_the_rate_is_a_share_of_keys() {
        let rate = 0.1;
        let prices = Prices::default();
        let sh = Shadows::sampled(&specs(&["lru:64MiB"]), rate, real()).unwrap();
        // 20,000 distinct keys, each asked twice (a hit the second time)
        // of 1,000 bytes; the real cache had the odd ones
        let keys: Vec<u64> = (0..20_000).map(|i| key_hash(&format!("/k/{i}"))).collect();
        for round in 0..2 {
            for (i, &k) in keys.iter().enumerate() {
                sh.record(k, 1000, i % 2 == 1 && round == 1);
            }
            sh.stats(&prices);
        }
        let s = sh.stats(&prices);
        let n = s.samples;
        // about a tenth of the keys, each twice (binomial: sd ~ 42 samples)
        assert!((3700..=4300).contains(&n), "{n} samples of 40,000 requests at rate 0.1");
        assert_eq!(s.sample_rate, rate);
        let up = |x: u64| (x as f64 / rate).round() as u64;
        assert_eq!((s.requests, s.bytes), (up(n), up(n * 1000)));
        assert_eq!(s.real.requests, up(n));
        let lru = &s.caches[0];
        // 2,000 keys of 1,000 bytes fit in a tenth of 64 MiB: the second round hits
        assert_eq!((lru.requests, lru.hits, lru.hit_bytes), (up(n), up(n / 2), up(n / 2 * 1000)));
        assert_eq!(lru.origin_bytes, up(n / 2 * 1000));
        assert_eq!(lru.origin_usd, prices.origin_cost(lru.origin_bytes));
        assert_eq!(lru.hit_ratio, 0.5);
        assert_eq!(lru.entries, Some(n / 2), "entries are the sampled cache's own");
        // the real row: hits of the odd keys in the second round
        assert!((s.real.hit_ratio - 0.25).abs() < 0.03, "{}", s.real.hit_ratio);
        let mut p = Encoder::new();
        prometheus(&mut p, "seoul", &s);
        let text = p.finish();
        assert!(text.contains("cdnlab_edge_shadow_sample_rate{edge=\"seoul\"} 0.1"), "{text}");
    }

    #[test]
    fn exact_shadows_take_every_key_and_rates_map_to_shares_of_the_hash_space() {
        assert_eq!(threshold(1.0), (u64::MAX, 1.0));
        let (t, r) = threshold(0.5);
        assert_eq!((t, r), (1 << 63, 0.5));
        let (_, r) = threshold(0.001);
        assert!((r - 0.001).abs() < 1e-15);
        assert_eq!(scaled_capacity(1 << 20, 1.0), 1 << 20);
        assert_eq!(scaled_capacity(1 << 20, 0.25), 1 << 18);
        let sh = Shadows::new(&specs(&["lru:1MiB"]), real()).unwrap();
        sh.record(u64::MAX, 10, true);
        sh.record(0, 10, true);
        let s = sh.stats(&Prices::default());
        assert_eq!((s.samples, s.requests, s.sample_rate), (2, 2, 1.0));
    }

    #[test]
    fn key_hashes_differ_by_every_byte_and_length_and_spread_over_the_space() {
        let keys = ["/", "/a", "/b", "/ab", "/ba", "/abcdefg", "/abcdefh", "/abcdefgh", "/bbcdefgh", "/abcdefgh?"];
        let mut seen: Vec<u64> = keys.iter().map(|k| key_hash(k)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), keys.len());
        // the top bit splits 10,000 keys about evenly (what sampling compares)
        let high = (0..10_000).filter(|i| key_hash(&format!("/obj/{i}?v=1")) >> 63 == 1).count();
        assert!((4800..=5200).contains(&high), "{high}");
        assert_eq!(key_hash("/obj/1"), key_hash("/obj/1"));
    }

    #[test]
    fn no_specs_no_shadows() {
        assert!(Shadows::new(&[], real()).is_none());
    }
}
