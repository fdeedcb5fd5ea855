//! The synthetic catalog at `/obj/{id}`: sizes and bodies decided by the id
//! and version alone, so every client can check what it received.
//!
//! - size: lognormal `median × exp(sigma × N)`, `N` from
//!   `Rng::from_parts(b"size", id)`, clamped to `[min, max]`;
//! - body: `Rng::from_parts("/obj/{id}", version).fill(..)`;
//! - ETag: `"o{id}-v{version}-{8 hex}"`, the hex a hash of the size, id
//!   and version, so a 304 never needs the body;
//! - `Content-Digest`: SHA-256 of the body (RFC 9530).
//!
//! Generated bodies are kept in a [`BodyCache`] bounded by bytes.
//!
//! Trace objects at `/t/{key}/{size}` (for replaying a request trace
//! live): any key, any size from 1 byte to [`TRACE_MAX_SIZE`], the body
//! seeded by the path and version, ETag `"t{key}-v{version}-{8 hex}"`.
//! The size is in the path, so the cache key names the exact bytes.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderValue;
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};
use world::config::SizeModel;
use world::rng::{Rng, hash64, mix};

/// Bodies bigger than this are generated on the blocking pool.
pub const BLOCKING_THRESHOLD: u64 = 256 * 1024;

/// The paths of the catalog and of trace objects, and their limits: the
/// origin's public URLs, which the `cdn` CLI builds too ([`api::origin`]).
pub use api::origin::{TRACE_MAX_SIZE, parse_id, parse_trace_path, trace_path};

/// The strong ETag of trace object `key` of `size` bytes at `version`.
pub fn trace_etag(key: u64, size: u64, version: u64) -> String {
    let h = mix(hash64(&size.to_le_bytes()) ^ mix(key) ^ mix(version.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    format!("\"t{key}-v{version}-{:08x}\"", h >> 32)
}

/// The [`BodyCache`] id of a trace object: a hash of its path with the top
/// bit set, never a catalog id (those are object numbers, far below 2^63).
pub fn trace_cache_id(key: u64, size: u64) -> u64 {
    hash64(trace_path(key, size).as_bytes()) | 1 << 63
}

/// The body size of object `id`.
pub fn object_size(model: &SizeModel, id: u64) -> u64 {
    model.size_of(id)
}

/// The body of object `id` at `version`, `size` bytes long.
pub fn object_body(id: u64, version: u64, size: u64) -> Bytes {
    let mut buf = vec![0u8; size as usize];
    Rng::from_parts(format!("/obj/{id}").as_bytes(), version).fill(&mut buf);
    Bytes::from(buf)
}

/// The strong ETag of object `id` at `version` with `size` bytes.
pub fn object_etag(id: u64, version: u64, size: u64) -> String {
    let h = mix(hash64(&size.to_le_bytes()) ^ mix(id) ^ mix(version.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    format!("\"o{id}-v{version}-{:08x}\"", h >> 32)
}

/// `Content-Digest`/`Repr-Digest` value of a body: `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    digest_value(&Sha256::digest(body))
}

/// `sha-256=:<base64>:` of a finished SHA-256.
pub fn digest_value(sha256: &[u8]) -> String {
    format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(sha256))
}

/// A generated body with its digest header.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The body.
    pub body: Bytes,
    /// `sha-256=:…:`.
    pub digest: HeaderValue,
}

/// Generates a body and its digest (CPU-bound: milliseconds for MiBs).
pub fn generate(id: u64, version: u64, size: u64) -> Generated {
    with_digest(object_body(id, version, size))
}

/// The body of a trace object and its digest.
pub fn generate_trace(key: u64, size: u64, version: u64) -> Generated {
    let mut buf = vec![0u8; size as usize];
    Rng::from_parts(trace_path(key, size).as_bytes(), version).fill(&mut buf);
    with_digest(Bytes::from(buf))
}

fn with_digest(body: Bytes) -> Generated {
    let digest = HeaderValue::from_str(&content_digest(&body)).unwrap_or_else(|_| HeaderValue::from_static(""));
    Generated { body, digest }
}

/// Generated bodies keyed by (id, version), bounded by their total bytes;
/// the oldest entries go first. Bodies bigger than the capacity are not
/// kept.
#[derive(Debug)]
pub struct BodyCache {
    inner: Mutex<Inner>,
    capacity: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<(u64, u64), Generated>,
    order: VecDeque<(u64, u64)>,
    bytes: u64,
    hits: u64,
    misses: u64,
}

/// Counters of a [`BodyCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Bytes held.
    pub bytes: u64,
    /// Bodies held.
    pub entries: u64,
    /// Lookups that found the body.
    pub hits: u64,
    /// Lookups that had to generate it.
    pub misses: u64,
}

impl BodyCache {
    /// A cache holding up to `capacity` bytes of bodies.
    pub fn new(capacity: u64) -> Self {
        Self { inner: Mutex::new(Inner::default()), capacity }
    }

    /// The cached body, if any.
    pub fn get(&self, id: u64, version: u64) -> Option<Generated> {
        let mut g = self.inner.lock();
        let found = g.map.get(&(id, version)).cloned();
        if found.is_some() {
            g.hits += 1;
        } else {
            g.misses += 1;
        }
        found
    }

    /// Keeps a body, evicting the oldest ones to make room.
    pub fn insert(&self, id: u64, version: u64, made: Generated) {
        let n = made.body.len() as u64;
        if n > self.capacity {
            return;
        }
        let mut g = self.inner.lock();
        if g.map.contains_key(&(id, version)) {
            return;
        }
        while g.bytes + n > self.capacity {
            let Some(old) = g.order.pop_front() else { break };
            if let Some(e) = g.map.remove(&old) {
                g.bytes -= e.body.len() as u64;
            }
        }
        g.bytes += n;
        g.order.push_back((id, version));
        g.map.insert((id, version), made);
    }

    /// The body of (id, version), from the cache or generated (on the
    /// blocking pool when big) and then kept.
    pub async fn get_or_generate(&self, id: u64, version: u64, size: u64) -> Generated {
        self.get_or_make(id, version, size, move || generate(id, version, size)).await
    }

    /// The body cached as (id, version), or `make()`'s (on the blocking
    /// pool when `size` is big), then kept.
    pub async fn get_or_make(
        &self,
        id: u64,
        version: u64,
        size: u64,
        make: impl Fn() -> Generated + Send + Clone + 'static,
    ) -> Generated {
        if let Some(g) = self.get(id, version) {
            return g;
        }
        let made = if size > BLOCKING_THRESHOLD {
            let m = make.clone();
            match tokio::task::spawn_blocking(m).await {
                Ok(g) => g,
                Err(_) => make(),
            }
        } else {
            make()
        };
        self.insert(id, version, made.clone());
        made
    }

    /// Current counters.
    pub fn counts(&self) -> CacheCounts {
        let g = self.inner.lock();
        CacheCounts { bytes: g.bytes, entries: g.map.len() as u64, hits: g.hits, misses: g.misses }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use world::ByteSize;

    fn model() -> SizeModel {
        SizeModel {
            median: ByteSize::kib(24),
            sigma: 1.2,
            min: ByteSize(64),
            max: ByteSize::mib(8),
            ..Default::default()
        }
    }

    #[test]
    fn sizes_are_deterministic_and_within_bounds() {
        let m = model();
        for id in 0..5_000 {
            let s = object_size(&m, id);
            assert_eq!(s, object_size(&m, id));
            assert!((64..=8 << 20).contains(&s), "id {id}: {s}");
        }
        let tight = SizeModel {
            median: ByteSize(1000),
            sigma: 5.0,
            min: ByteSize(900),
            max: ByteSize(1100),
            ..Default::default()
        };
        assert!((0..1000).all(|id| (900..=1100).contains(&object_size(&tight, id))));
    }

    #[test]
    fn the_median_size_is_roughly_the_configured_median() {
        let m = model();
        let mut sizes: Vec<u64> = (0..20_000).map(|id| object_size(&m, id)).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2] as f64;
        let want = 24.0 * 1024.0;
        assert!((median / want - 1.0).abs() < 0.1, "median {median} vs {want}");
    }

    #[test]
    fn a_zero_sigma_gives_the_median_and_a_bad_model_does_not_panic() {
        let m = SizeModel { sigma: 0.0, ..model() };
        assert_eq!(object_size(&m, 3), 24 * 1024);
        let upside_down = SizeModel { min: ByteSize(100), max: ByteSize(10), ..model() };
        let _ = object_size(&upside_down, 3);
    }

    #[test]
    fn bodies_depend_on_id_and_version_only() {
        assert_eq!(object_body(7, 1, 1000), object_body(7, 1, 1000));
        assert_ne!(object_body(7, 1, 1000), object_body(7, 2, 1000));
        assert_ne!(object_body(7, 1, 1000), object_body(8, 1, 1000));
        assert_eq!(object_body(7, 1, 13).len(), 13);
    }

    #[test]
    fn etags_change_with_the_version() {
        let a = object_etag(7, 1, 1000);
        assert!(a.starts_with("\"o7-v1-") && a.ends_with('"') && a.len() == "\"o7-v1-\"".len() + 8, "{a}");
        assert_ne!(a, object_etag(7, 2, 1000));
        assert_eq!(a, object_etag(7, 1, 1000));
    }

    #[test]
    fn the_digest_is_rfc_9530_sha_256() {
        // SHA-256 of the empty string.
        assert_eq!(content_digest(b""), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    }

    #[test]
    fn parse_id_takes_canonical_decimals_only() {
        assert_eq!(parse_id("7"), Some(7));
        assert_eq!(parse_id("0"), Some(0));
        for bad in ["", "07", "+7", "7a", "-1", "7/", "99999999999999999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn trace_paths_are_canonical_and_bounded() {
        assert_eq!(parse_trace_path("18446744073709551615/5"), Some((u64::MAX, 5)));
        assert_eq!(trace_path(7, 100), "/t/7/100");
        for bad in ["7", "7/", "/5", "07/5", "7/05", "7/0", "7/5/", "7/33554433", "x/5"] {
            assert_eq!(parse_trace_path(bad), None, "{bad}");
        }
        assert!(parse_trace_path(&format!("1/{TRACE_MAX_SIZE}")).is_some());
        let g = generate_trace(7, 100, 1);
        assert_eq!(g.body.len(), 100);
        assert_eq!(g.digest.to_str().unwrap(), content_digest(&g.body));
        assert_eq!(g.body, generate_trace(7, 100, 1).body);
        assert_ne!(g.body, generate_trace(7, 100, 2).body);
        assert_ne!(g.body[..], generate_trace(8, 100, 1).body[..]);
        assert!(trace_etag(7, 100, 2).starts_with("\"t7-v2-"));
        assert!(trace_cache_id(7, 100) >= 1 << 63);
    }

    #[test]
    fn the_body_cache_is_bounded_by_bytes() {
        let c = BodyCache::new(2500);
        for id in 0..5 {
            c.insert(id, 1, generate(id, 1, 1000));
        }
        let n = c.counts();
        assert_eq!((n.bytes, n.entries), (2000, 2));
        assert!(c.get(4, 1).is_some() && c.get(0, 1).is_none());
        c.insert(9, 1, generate(9, 1, 5000)); // bigger than the cache: not kept
        assert!(c.get(9, 1).is_none());
    }
}
