//! Online eviction policies, by bytes. Each keeps metadata only (key,
//! size, a few links and bits per object: no data), does O(1) work per
//! request (amortised for the CLOCK/SIEVE hands and S3-FIFO's
//! reinsertions), and allocates nothing in steady state: per-object arrays
//! grow to the largest slot ever used and are then reused. Every policy is
//! `Send`, so a live edge can keep one behind a lock as a shadow cache.
//!
//! Shared semantics (libCacheSim's `cache_get_base`, see `docs/traces.md`):
//! the cache starts empty; a request for a cached key is a hit and changes
//! nothing but the policy's own metadata (a different size on a hit is
//! ignored: the stored size stays); a miss admits the object after evicting
//! until it fits, unless it is larger than the whole cache, in which case
//! nothing is evicted and nothing is admitted.

mod clock;
mod fifo;
mod lfu;
pub mod list;
mod lru;
mod s3fifo;
mod sieve;
pub mod slots;
mod tinylfu;

pub use clock::Clock;
pub use fifo::Fifo;
pub use lfu::Lfu;
pub use lru::Lru;
pub use s3fifo::S3Fifo;
pub use sieve::Sieve;
pub use slots::{Dense, Hashed, Slots};
pub use tinylfu::WTinyLfu;
/// The online policies by name (declared in `world`, so world files can
/// name them for an edge's shadow caches).
pub use world::policy::Kind;

/// An online cache model.
pub trait Policy: Send {
    /// One request for `key` of `size` bytes (size > 0); true on a hit.
    fn access(&mut self, key: u64, size: u32) -> bool;
    /// Bytes of cached objects.
    fn used(&self) -> u64;
    /// Capacity in bytes.
    fn capacity(&self) -> u64;
    /// Cached objects.
    fn len(&self) -> usize;
    /// Whether nothing is cached.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Heap bytes of the model's metadata.
    fn heap_bytes(&self) -> usize;
}

/// Any online policy, chosen at run time (one `match` per request).
pub enum Cache<S: Slots> {
    /// LRU.
    Lru(Lru<S>),
    /// FIFO.
    Fifo(Fifo<S>),
    /// CLOCK.
    Clock(Clock<S>),
    /// SIEVE.
    Sieve(Sieve<S>),
    /// S3-FIFO.
    S3Fifo(S3Fifo<S>),
    /// LFU.
    Lfu(Lfu<S>),
    /// W-TinyLFU.
    WTinyLfu(WTinyLfu<S>),
}

impl<S: Slots> Cache<S> {
    /// An empty cache of `kind` with `cap` bytes; `keys` is the number of
    /// dense keys (for [`Dense`]) or a capacity hint (for [`Hashed`]).
    pub fn new(kind: Kind, cap: u64, keys: usize) -> Self {
        match kind {
            Kind::Lru => Cache::Lru(Lru::new(cap, keys)),
            Kind::Fifo => Cache::Fifo(Fifo::new(cap, keys)),
            Kind::Clock => Cache::Clock(Clock::new(cap, keys)),
            Kind::Sieve => Cache::Sieve(Sieve::new(cap, keys)),
            Kind::S3Fifo => Cache::S3Fifo(S3Fifo::new(cap, keys)),
            Kind::Lfu => Cache::Lfu(Lfu::new(cap, keys)),
            Kind::WTinyLfu => Cache::WTinyLfu(WTinyLfu::new(cap, keys)),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Cache::Lru(_) => Kind::Lru,
            Cache::Fifo(_) => Kind::Fifo,
            Cache::Clock(_) => Kind::Clock,
            Cache::Sieve(_) => Kind::Sieve,
            Cache::S3Fifo(_) => Kind::S3Fifo,
            Cache::Lfu(_) => Kind::Lfu,
            Cache::WTinyLfu(_) => Kind::WTinyLfu,
        }
    }

    fn inner(&self) -> &dyn Policy {
        match self {
            Cache::Lru(p) => p,
            Cache::Fifo(p) => p,
            Cache::Clock(p) => p,
            Cache::Sieve(p) => p,
            Cache::S3Fifo(p) => p,
            Cache::Lfu(p) => p,
            Cache::WTinyLfu(p) => p,
        }
    }
}

impl<S: Slots> Policy for Cache<S> {
    #[inline]
    fn access(&mut self, key: u64, size: u32) -> bool {
        match self {
            Cache::Lru(p) => p.access(key, size),
            Cache::Fifo(p) => p.access(key, size),
            Cache::Clock(p) => p.access(key, size),
            Cache::Sieve(p) => p.access(key, size),
            Cache::S3Fifo(p) => p.access(key, size),
            Cache::Lfu(p) => p.access(key, size),
            Cache::WTinyLfu(p) => p.access(key, size),
        }
    }
    fn used(&self) -> u64 {
        self.inner().used()
    }
    fn capacity(&self) -> u64 {
        self.inner().capacity()
    }
    fn len(&self) -> usize {
        self.inner().len()
    }
    fn heap_bytes(&self) -> usize {
        self.inner().heap_bytes()
    }
}

#[cfg(test)]
mod tests;
