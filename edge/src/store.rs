//! The two-tier store: a foyer `HybridCache` with a byte-weighted memory
//! tier (eviction policy from the world) over a block-based disk tier in the
//! edge's data directory.
//!
//! Settings that matter (foyer 0.22): entries are written to disk when
//! inserted, so a restart finds them; the tombstone log is on, so removed
//! entries stay removed after a restart; the device capacity is explicit;
//! an admission filter refuses entries larger than a disk block; objects
//! much larger than a memory shard go straight to disk so they cannot flush
//! the memory tier; the data directory is locked against a second edge.
//!
//! The disk tier's files are *reserved* when it opens ([`reserve`]): foyer
//! creates them sparse, so a filesystem that fills up later would fail its
//! writes, and foyer 0.22 panics in its flusher when a tombstone write
//! fails (the disk tier then stops writing until a restart). Reserved, the
//! cache's own writes cannot run out of space; a full filesystem only
//! fails the purge journal, which the edge handles (see [`crate::purge`]).
//! A tier that cannot be reserved (less free space than its size) does not
//! run: the edge serves from memory, degraded, and says why. On a
//! filesystem that cannot reserve space at all (no `fallocate`) the tier
//! runs sparse, as foyer made it, and the edge says so.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foyer::EstimatedSize;
use foyer::{
    BlockEngineConfig, Cache, CacheBuilder, DeviceBuilder, EvictionConfig, FifoConfig, FsDeviceBuilder, HybridCache,
    HybridCacheBuilder, HybridCacheEntry, HybridCachePolicy, HybridCacheProperties, LfuConfig, Load, Location,
    LruConfig, RecoverMode, S3FifoConfig, SieveConfig, StorageFilter,
};
use world::{Eviction, Promotion};

use crate::bodyfile::{BodyFile, BodyRef, MIN_BODY};
use crate::entry::{CacheValue, StoredEntry};
use crate::key::CacheKey;

/// A handle on a stored value (reference counted; cloning the body inside is cheap).
pub type Entry = HybridCacheEntry<CacheKey, CacheValue>;

/// Where a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The memory tier.
    Memory,
    /// The disk tier (now also in memory).
    Disk,
}

impl Tier {
    /// `Cache-Status` detail word.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
        }
    }
}

/// Store sizing and placement.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Name for foyer's metrics and logs.
    pub name: String,
    /// Memory tier capacity in bytes.
    pub memory: u64,
    /// Disk tier capacity in bytes (0: memory only).
    pub disk: u64,
    /// Largest object stored.
    pub max_object: u64,
    /// The disk tier's write buffer (foyer's flush buffer pool and submit
    /// queue limit; room for the largest entry at least:
    /// [`world::bounds::write_buffer`]).
    pub write_buffer: u64,
    /// Memory eviction policy.
    pub eviction: Eviction,
    /// When a disk hit is copied into the memory tier ([`Promotion`]).
    pub promotion: Promotion,
    /// Bodies larger than this go to the disk tier as slices of this size,
    /// read back one at a time (0: always whole; see [`Store::disk_slices`]).
    pub disk_slice: u64,
    /// Data directory.
    pub dir: PathBuf,
    /// Whether bodies of [`MIN_BODY`] bytes and more go to a body file of
    /// the edge's own (if the disk tier is large enough to share:
    /// [`body_file_share`]), so that hits can be sent with `sendfile`.
    pub body_file: bool,
}

/// Why the store could not open.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another edge holds the data directory (a mistake to refuse, not a
    /// fault to run around).
    #[error("data directory {0}: in use by another edge (LOCK is held)")]
    Locked(String),
    /// The data directory is unusable or locked.
    #[error("data directory {dir}: {why}")]
    DataDir {
        /// The directory.
        dir: String,
        /// What went wrong.
        why: String,
    },
    /// The sizes do not fit together.
    #[error("cache sizes: {0}")]
    Sizes(String),
    /// foyer failed.
    #[error("disk cache: {0}")]
    Foyer(#[from] foyer::Error),
    /// The disk tier's files could not be reserved.
    #[error("disk tier {dir}: cannot reserve its space: {why}")]
    Reserve {
        /// The directory.
        dir: String,
        /// What went wrong.
        why: String,
    },
}

/// The cache store.
pub struct Store {
    cache: HybridCache<CacheKey, CacheValue>,
    /// Values heavier than this skip the memory tier.
    disk_only_above: usize,
    /// Bodies larger than this are sliced on disk (0: never).
    disk_slice: u64,
    has_disk: bool,
    /// Held (shared) by every disk read; see [`Store::wait_reads`].
    reads: tokio::sync::RwLock<()>,
    /// Which disk hits are copied into memory ([`Promoter`]).
    promoter: Promoter,
    /// What the disk tier was asked and did ([`TierCounts`]).
    counts: TierCounts,
    /// The disk tier's body file ([`crate::bodyfile`]), when the disk
    /// tier is large enough to share with one.
    bodies: Option<Arc<BodyFile>>,
    /// Hands out handles on values no tier keeps (a disk entry with its
    /// body read back from the body file): every insert is a phantom.
    detached: Cache<CacheKey, CacheValue, foyer::DefaultHasher, HybridCacheProperties>,
    /// Why the disk tier runs unreserved (its filesystem cannot reserve).
    pub unreserved: Option<String>,
    _lock: Option<File>,
}

/// How the disk budget is shared between foyer and the body file: the
/// body file's segment size and capacity for a disk tier of `disk` bytes
/// whose foyer blocks are `block` bytes (`None`: too small to share, the
/// whole budget is foyer's). The body file gets up to three quarters (the
/// bodies of 16 KiB and more: most of the bytes) in at least four
/// segments; foyer the rest (the heads, and smaller entries whole), at
/// least eight blocks: foyer reclaims whole blocks, and with four it
/// evicted entries after a couple of restarts (each opens a new block).
pub fn body_file_share(disk: u64, block: u64, max_object: u64) -> Option<(u64, u64)> {
    // A segment holds the largest body (a whole object up to `max_object`).
    let seg = (max_object + 4096).checked_next_power_of_two()?.max(8 << 20);
    let bodies = (disk / 4 * 3).min(disk.checked_sub(8 * block)?) / seg * seg;
    (bodies >= 4 * seg).then_some((seg, bodies))
}

impl Store {
    /// Opens (and recovers) the store.
    pub async fn open(c: &StoreConfig) -> Result<Store, StoreError> {
        Store::open_locked(c, None).await
    }

    /// Opens the store with its data directory's `LOCK` already held
    /// ([`lock_dir`]; the edge checks whose cache it is first,
    /// [`crate::datadir`]), or taken here when `None`.
    pub async fn open_locked(c: &StoreConfig, lock: Option<File>) -> Result<Store, StoreError> {
        let memory = usize::try_from(c.memory).map_err(|_| StoreError::Sizes("memory too large".into()))?;
        // Keep every shard far larger than the largest object.
        let shards = (c.memory / (c.max_object.max(1) * 16)).clamp(1, 16) as usize;
        let per_shard = memory / shards;
        let eviction: EvictionConfig = match c.eviction {
            Eviction::Lru => LruConfig::default().into(),
            Eviction::Lfu => LfuConfig::default().into(),
            Eviction::S3fifo => S3FifoConfig::default().into(),
            Eviction::Sieve => SieveConfig.into(),
            Eviction::Fifo => FifoConfig {}.into(),
        };
        let builder = HybridCacheBuilder::new()
            .with_name(c.name.clone())
            .with_policy(HybridCachePolicy::WriteOnInsertion)
            .with_flush_on_close(true)
            .memory(memory)
            .with_shards(shards)
            .with_eviction_config(eviction)
            .with_weighter(crate::entry::weight)
            .storage();
        let block = world::bounds::disk_block(c.max_object);
        let body_share = if c.disk > 0 && c.body_file { body_file_share(c.disk, block, c.max_object) } else { None };
        let (cache, lock) = if c.disk == 0 {
            (builder.build().await?, None)
        } else {
            let lock = match lock {
                Some(l) => l,
                None => lock_dir(&c.dir)?,
            };
            // A block holds whole entries: make it fit the largest object.
            if c.disk < block * 4 {
                return Err(StoreError::Sizes(format!(
                    "disk {} bytes is too small for max_object {} (needs at least {} bytes: 4 blocks of {block})",
                    c.disk,
                    c.max_object,
                    block * 4
                )));
            }
            let foyer_disk = c.disk - body_share.map_or(0, |(_, b)| b);
            let device = FsDeviceBuilder::new(&c.dir).with_capacity(foyer_disk as usize).build()?;
            let engine = engine_config(device, block, c.write_buffer);
            (builder.with_engine_config(engine).with_recover_mode(RecoverMode::Quiet).build().await?, Some(lock))
        };
        let mut unreserved = None;
        if c.disk > 0 {
            let dir = c.dir.clone();
            let reserved = tokio::task::spawn_blocking(move || reserve(&dir))
                .await
                .unwrap_or_else(|e| Err(Unreserved::Failed(e.to_string())));
            match reserved {
                Ok(()) => {}
                Err(Unreserved::Unsupported(why)) => unreserved = Some(why),
                Err(Unreserved::Failed(why)) => {
                    let _ = cache.close().await;
                    return Err(StoreError::Reserve { dir: c.dir.display().to_string(), why });
                }
            }
        }
        let bodies = match body_share {
            Some((seg, cap)) => {
                let dir = c.dir.clone();
                let opened = tokio::task::spawn_blocking(move || BodyFile::open(&dir, cap, seg))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                match opened {
                    Ok(f) => Some(Arc::new(f)),
                    Err(e) => {
                        let _ = cache.close().await;
                        let dir = c.dir.display().to_string();
                        return Err(StoreError::DataDir { dir, why: format!("body file: {e}") });
                    }
                }
            }
            None => None,
        };
        let slot_bytes = if bodies.is_some() { 512 } else { 2048 };
        Ok(Store {
            bodies,
            detached: CacheBuilder::new(1 << 20).with_shards(1).build(),
            cache,
            disk_only_above: per_shard / 8,
            disk_slice: if c.disk > 0 { c.disk_slice } else { 0 },
            has_disk: c.disk > 0,
            reads: tokio::sync::RwLock::new(()),
            // With a body file, promoted entries of bodies of 16 KiB or
            // more are heads of a few hundred bytes: a slot per 512 bytes
            // of tier, so that the keys whose heads fit have slots.
            promoter: Promoter::new(if c.disk > 0 { c.promotion } else { Promotion::Never }, memory, slot_bytes),
            counts: TierCounts::default(),
            unreserved,
            _lock: lock,
        })
    }

    /// Memory-tier lookup, synchronous (the hit path).
    #[inline]
    pub fn get_memory(&self, key: &str) -> Option<Entry> {
        self.cache.memory().get(key)
    }

    /// Memory, then disk; a disk hit is copied into memory as the
    /// promotion rule says.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<(Entry, Tier)>, foyer::Error> {
        self.read(key, false).await
    }

    /// [`Store::get`], a disk hit always copied into memory (whatever the
    /// rule; not counted as a promotion).
    pub async fn get_promoted(&self, key: &CacheKey) -> Result<Option<(Entry, Tier)>, foyer::Error> {
        self.read(key, true).await
    }

    async fn read(&self, key: &CacheKey, always: bool) -> Result<Option<(Entry, Tier)>, foyer::Error> {
        if let Some(e) = self.cache.memory().get(key.as_str()) {
            return match body_at(&e) {
                // A promoted head: its body is read back from the body file.
                Some(at) => Ok(self.with_body(key, e.value(), at).await.map(|e| (e, Tier::Disk))),
                None => Ok(Some((e, Tier::Memory))),
            };
        }
        if !self.has_disk {
            return Ok(None);
        }
        let _reading = self.reads.read().await;
        // Not `HybridCache::get`: it copies every disk hit into the memory
        // tier, which evicts another entry per disk hit when the working
        // set is larger than the tier (docs/disk.md). The rule decides.
        let (value, piece) = match self.cache.storage().load(key).await? {
            Load::Entry { value, .. } => (value, None),
            Load::Piece { piece, .. } => (piece.value().clone(), Some(piece)),
            Load::Throttled | Load::Miss => return Ok(None),
        };
        self.counts.disk_reads.fetch_add(1, Ordering::Relaxed);
        let memory = self.cache.memory();
        if let Some(e) = memory.get(key.as_str()) {
            // Stored in memory while the device was read (a fill): newer.
            return Ok(Some((e, Tier::Memory)));
        }
        // A head whose body is in the body file: the body is read back
        // before anything is promoted (a body that is gone, or damaged
        // after a crash, is a miss, and its head never reaches memory).
        let whole = match value_body_at(&value) {
            Some(at) => match self.with_body(key, &value, at).await {
                Some(e) => Some(e),
                None => return Ok(None),
            },
            None => None,
        };
        let weight = crate::entry::weight(key, &value);
        let promote =
            always || weight <= self.disk_only_above && self.promoter.promote(memory.hash(key.as_str()), weight);
        if promote && !always {
            self.counts.promotions.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(whole) = whole {
            if promote {
                // The head only: a hit on it sends the body from the file.
                memory.insert(key.clone(), value);
            }
            return Ok(Some((whole, Tier::Disk)));
        }
        let entry = if promote {
            match piece {
                Some(p) => memory.insert_piece(p),
                None => memory.insert(key.clone(), value),
            }
        } else {
            // A phantom: a handle on the value that the memory tier does
            // not keep (foyer drops it with the last handle).
            let props = HybridCacheProperties::default().with_location(Location::OnDisk);
            memory.insert_with_properties(key.clone(), value, props)
        };
        Ok(Some((entry, Tier::Disk)))
    }

    /// `head` (a head whose body is at `at` in the body file) with its
    /// body read back, as a handle no tier keeps; `None` (and the key
    /// removed, unless replaced meanwhile) when the body is gone: its
    /// segment reused, or damaged bytes written by an earlier run.
    async fn with_body(&self, key: &CacheKey, head: &CacheValue, at: BodyRef) -> Option<Entry> {
        let CacheValue::Response(e) = head else { return None };
        let read = self.read_body(at).await;
        let Some(body) = read else {
            let stamp = e.stored_ms;
            let current = self.cache.memory().get(key.as_str());
            if current.is_none_or(|c| matches!(c.value(), CacheValue::Response(c) if c.stored_ms == stamp)) {
                self.cache.remove(key);
            }
            return None;
        };
        let whole = StoredEntry { body, body_at: None, ..e.clone() };
        let props = HybridCacheProperties::default().with_location(Location::OnDisk);
        Some(self.detached.insert_with_properties(key.clone(), CacheValue::Response(whole), props))
    }

    /// Reads a body back from the body file on the blocking pool
    /// ([`BodyFile::read`]: `None` if gone or damaged, or on an I/O error).
    async fn read_body(&self, at: BodyRef) -> Option<bytes::Bytes> {
        let bodies = self.bodies.clone()?;
        tokio::task::spawn_blocking(move || bodies.read(&at)).await.ok()?.ok()?
    }

    /// The body file, if the disk tier has one.
    pub fn bodies(&self) -> Option<&BodyFile> {
        self.bodies.as_deref()
    }

    /// The promotion rule.
    pub fn promotion(&self) -> Promotion {
        self.promoter.rule
    }

    /// Entries read from the disk tier, and of those promoted into memory,
    /// since the store opened.
    /// (A head and its body in the body file are two reads.)
    pub fn tier_counts(&self) -> (u64, u64) {
        let bodies = self.bodies.as_ref().map_or(0, |b| b.io().0);
        (self.counts.disk_reads.load(Ordering::Relaxed) + bodies, self.counts.promotions.load(Ordering::Relaxed))
    }

    /// Waits until every disk read that began before this call is done.
    /// foyer puts what a disk read found into memory when the read ends,
    /// even if the key was removed meanwhile: a purge waits for those reads
    /// and then removes what they put back.
    pub async fn wait_reads(&self) {
        if self.has_disk {
            drop(self.reads.write().await);
        }
    }

    /// Stores a value (replacing any under the same key), in memory and,
    /// asynchronously, on disk. Fills store through
    /// [`EdgeState::admit`](crate::state::EdgeState::admit), which indexes
    /// the key for purges and checks for purges that overtook the fill.
    ///
    /// A body of [`MIN_BODY`] bytes or more goes to the body file; the disk
    /// tier gets the head with the body's place, the memory tier the whole
    /// response (if it is light enough for memory, as without a body file).
    pub fn insert(&self, key: CacheKey, value: CacheValue) -> Entry {
        let weight = crate::entry::weight(&key, &value);
        if let Some(head) = self.to_body_file(&value) {
            let props = HybridCacheProperties::default().with_location(Location::OnDisk);
            // First: the head's insert drops any copy the memory tier holds.
            self.cache.insert_with_properties(key.clone(), head, props.clone());
            if weight > self.disk_only_above {
                return self.detached.insert_with_properties(key, value, props);
            }
            self.promoter.inserted(weight);
            let props = HybridCacheProperties::default().with_location(Location::InMem);
            return self.cache.insert_with_properties(key, value, props);
        }
        if weight > self.disk_only_above && self.has_disk {
            let props = HybridCacheProperties::default().with_location(Location::OnDisk);
            self.cache.insert_with_properties(key, value, props)
        } else {
            self.promoter.inserted(weight);
            self.cache.insert(key, value)
        }
    }

    /// How a response goes to the disk tier when its body is larger than
    /// the disk slice: its head (the entry without its body, with the
    /// slice layout, as [`crate::slice`] stores objects fetched in slices)
    /// under `key`, and the body in slices under `key`'s slice keys, each
    /// with the validators a slice is checked against. A disk hit then
    /// reads the head and streams the body one slice at a time
    /// ([`crate::slice::serve_sliced`]): no read of a whole large body
    /// into memory, and the first bytes leave before the last are read.
    /// `None` to store it whole: small enough, already sliced, not a 200,
    /// or without an `ETag` or `Last-Modified` (a slice read back must be
    /// checked against the object's validator).
    pub fn disk_slices(&self, key: &CacheKey, value: &CacheValue) -> Option<(CacheValue, Vec<(CacheKey, CacheValue)>)> {
        use http::header::{ETAG, LAST_MODIFIED};
        let CacheValue::Response(e) = value else { return None };
        let size = self.disk_slice;
        let (etag, modified) = (e.header("etag"), e.header("last-modified"));
        if size == 0
            || e.body.len() as u64 <= size
            || e.slices.is_some()
            || e.status != http::StatusCode::OK
            || (etag.is_none() && modified.is_none())
        {
            return None;
        }
        let info = crate::entry::SliceInfo { total: e.body.len() as u64, size };
        let mut validators = http::HeaderMap::new();
        if let Some(v) = etag {
            validators.insert(ETAG, v);
        }
        if let Some(v) = modified {
            validators.insert(LAST_MODIFIED, v);
        }
        let slice_head = crate::head::Head::new(http::StatusCode::PARTIAL_CONTENT, &validators);
        let slices = (0..info.count())
            .map(|i| {
                let (a, b) = info.bounds(i);
                let slice = StoredEntry {
                    status: http::StatusCode::PARTIAL_CONTENT,
                    head: slice_head.clone(),
                    body: e.body.slice(a as usize..=b as usize),
                    timing: e.timing,
                    flags: e.flags,
                    tags: e.tags.clone(),
                    stored_ms: e.stored_ms,
                    slices: None,
                    body_at: None,
                };
                (key.slice_key(i), CacheValue::Response(slice))
            })
            .collect();
        let head = StoredEntry {
            status: e.status,
            head: e.head.detached(),
            body: bytes::Bytes::new(),
            timing: e.timing,
            flags: e.flags,
            tags: e.tags.clone(),
            stored_ms: e.stored_ms,
            slices: Some(Box::new(info)),
            body_at: None,
        };
        Some((CacheValue::Response(head), slices))
    }

    /// Stores a response whose disk copy is sliced ([`Store::disk_slices`]):
    /// its head on disk, and the whole response in memory if it fits there.
    pub fn insert_head(&self, key: CacheKey, whole: CacheValue, head: CacheValue) {
        // First: the head's insert drops any copy the memory tier holds.
        self.insert_on_disk(key.clone(), head);
        if crate::entry::weight(&key, &whole) <= self.disk_only_above {
            self.insert_in_memory(key, whole);
        }
    }

    /// Stores a value on disk only (slices of objects too large for memory).
    pub fn insert_on_disk(&self, key: CacheKey, value: CacheValue) {
        if !self.has_disk {
            self.promoter.inserted(crate::entry::weight(&key, &value));
            self.cache.insert(key, value);
            return;
        }
        let value = self.to_body_file(&value).unwrap_or(value);
        let props = HybridCacheProperties::default().with_location(Location::OnDisk);
        self.cache.insert_with_properties(key, value, props);
    }

    /// The disk tier's form of a response whose body goes to the body file
    /// (written there now): the head, with the body's place. `None` to
    /// store it as it is: no body file, a body shorter than [`MIN_BODY`],
    /// a sliced head, or a failed write (logged).
    fn to_body_file(&self, value: &CacheValue) -> Option<CacheValue> {
        let bodies = self.bodies.as_ref()?;
        let CacheValue::Response(e) = value else { return None };
        if e.body.len() < MIN_BODY || e.body_at.is_some() || e.slices.is_some() {
            return None;
        }
        let at = bodies
            .put(&e.body)
            .map_err(|err| tracing::warn!(error = %err, "body file: write failed, body kept in its disk entry"))
            .ok()?;
        let head = StoredEntry { body: bytes::Bytes::new(), body_at: Some(Box::new(at)), ..e.clone() };
        Some(CacheValue::Response(head))
    }

    /// Stores a value in the memory tier only: one whose Add record could
    /// not be journalled (a full disk) must not reach the disk, where it
    /// could outlive a purge after a restart.
    pub fn insert_in_memory(&self, key: CacheKey, value: CacheValue) {
        self.promoter.inserted(crate::entry::weight(&key, &value));
        let props = HybridCacheProperties::default().with_location(Location::InMem);
        self.cache.insert_with_properties(key, value, props);
    }

    /// Removes a key from both tiers (a tombstone keeps it removed across restarts).
    pub fn remove(&self, key: &CacheKey) {
        self.cache.remove(key);
    }

    /// Bytes of values in the memory tier.
    pub fn memory_usage(&self) -> usize {
        self.cache.memory().usage()
    }

    /// Whether either tier may hold `key` (the disk tier's answer can be a
    /// false positive on a hash collision, never a false negative).
    pub fn contains(&self, key: &str) -> bool {
        self.cache.contains(key)
    }

    /// Waits until every disk write and removal queued so far is done. Until
    /// then foyer still answers a removed key from its write queue.
    pub async fn wait(&self) {
        if self.has_disk {
            self.cache.storage().wait().await;
        }
    }

    /// Memory tier capacity.
    pub fn memory_capacity(&self) -> usize {
        self.cache.memory().capacity()
    }

    /// Entries in the memory tier.
    pub fn memory_entries(&self) -> usize {
        self.cache.memory().entries()
    }

    /// Disk tier capacity in bytes (0 without one).
    pub fn disk_capacity(&self) -> u64 {
        let bodies = self.bodies.as_ref().map_or(0, |b| b.capacity());
        if self.has_disk { self.cache.storage().device().capacity() as u64 + bodies } else { 0 }
    }

    /// Whether the store has a disk tier.
    pub fn has_disk(&self) -> bool {
        self.has_disk
    }

    /// Disk bytes written and read so far.
    pub fn disk_io(&self) -> (u64, u64) {
        let s = self.cache.statistics();
        let (_, read, written) = self.bodies.as_ref().map_or((0, 0, 0), |b| b.io());
        (s.disk_write_bytes() as u64 + written, s.disk_read_bytes() as u64 + read)
    }

    /// Flushes memory to disk and waits for pending writes.
    pub async fn close(&self) -> Result<(), foyer::Error> {
        self.cache.close().await
    }
}

/// Where the body of a stored head is, if in the body file.
fn body_at(e: &Entry) -> Option<BodyRef> {
    value_body_at(e.value())
}

fn value_body_at(v: &CacheValue) -> Option<BodyRef> {
    match v {
        CacheValue::Response(e) => e.body_at.as_deref().copied(),
        CacheValue::Variants(_) => None,
    }
}

/// Counters of the disk tier's reads.
#[derive(Debug, Default)]
struct TierCounts {
    /// Entries read from the disk tier (lookups that found one there).
    disk_reads: AtomicU64,
    /// Of those, copied into the memory tier.
    promotions: AtomicU64,
}

/// Decides which disk hits are copied into the memory tier.
///
/// [`Promotion::Reuse`]: a disk hit is promoted when the same key was hit
/// on disk before and, between the two hits, the bytes that entered the
/// memory tier or could have (fills stored in memory, and every disk hit,
/// as if each were promoted) were no more than the memory tier's capacity
/// less the entry's own weight: a copy made at the first hit would then
/// still be there (the tier evicts roughly in insertion order), so this
/// reuse fits the tier. A working set larger than the tier, read
/// round-robin, is never promoted (each copy would be evicted before its
/// next use, and evict one that might have been used); a hot key is
/// promoted on its second disk hit.
///
/// The clock is those bytes, in KiB; the last disk hit of each key is kept
/// in a fixed table of slots indexed by the key's hash, tagged with the
/// hash's top bits: a collision forgets a key (it then waits for one more
/// disk hit), never promotes one that was not hit. No lock, no allocation
/// per lookup.
struct Promoter {
    rule: Promotion,
    /// The memory tier's capacity, bytes.
    capacity: u64,
    /// KiB stored in the memory tier since the store opened.
    clock: AtomicU64,
    /// `tag << CLOCK_BITS | clock` of each slot's last disk hit (0: none).
    seen: Box<[AtomicU64]>,
}

/// Bits of a [`Promoter`] slot that hold the clock (KiB: wraps after 16 PiB).
const CLOCK_BITS: u32 = 44;
const CLOCK_MASK: u64 = (1 << CLOCK_BITS) - 1;

impl Promoter {
    /// One slot per `slot_bytes` of memory tier (8 bytes each: 0.4% of the
    /// tier for 2 KiB, 1.6% for 512 bytes), 1,024 to 1,048,576 slots.
    fn new(rule: Promotion, capacity: usize, slot_bytes: usize) -> Promoter {
        let slots =
            if rule == Promotion::Reuse { (capacity / slot_bytes).clamp(1024, 1 << 20).next_power_of_two() } else { 0 };
        Promoter {
            rule,
            capacity: capacity as u64,
            clock: AtomicU64::new(0),
            seen: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts `weight` bytes stored in the memory tier.
    fn inserted(&self, weight: usize) {
        if self.rule == Promotion::Reuse {
            self.clock.fetch_add(weight.div_ceil(1024) as u64, Ordering::Relaxed);
        }
    }

    /// Whether a disk hit on the key of `hash`, weighing `weight`, is
    /// copied into memory (and remembers this hit).
    fn promote(&self, hash: u64, weight: usize) -> bool {
        match self.rule {
            Promotion::Always => return true,
            Promotion::Never => return false,
            Promotion::Reuse => {}
        }
        let now = self.clock.fetch_add(weight.div_ceil(1024) as u64, Ordering::Relaxed) & CLOCK_MASK;
        let tag = (hash >> CLOCK_BITS) | 1 << (64 - CLOCK_BITS - 1); // never 0
        let slot = &self.seen[hash as usize & (self.seen.len() - 1)];
        let before = slot.swap(tag << CLOCK_BITS | now, Ordering::Relaxed);
        if before >> CLOCK_BITS != tag {
            return false;
        }
        let since = now.wrapping_sub(before & CLOCK_MASK) & CLOCK_MASK;
        since.saturating_mul(1024).saturating_add(weight as u64) <= self.capacity
    }
}

/// The disk tier's engine: blocks of `block` bytes, the tombstone log on,
/// entries larger than a block refused, and the write buffer bounding what
/// foyer holds for the disk. With one flusher, foyer keeps two buffers of
/// `buffer_pool_size` (one being filled, one being written) and drops
/// entries once `submit_queue_size_threshold` bytes wait: resident memory
/// for the disk tier is at most three times `write_buffer` (docs/memory.md).
fn engine_config(
    device: std::sync::Arc<dyn foyer::Device>,
    block: u64,
    write_buffer: u64,
) -> BlockEngineConfig<CacheKey, CacheValue, HybridCacheProperties> {
    BlockEngineConfig::new(device)
        .with_block_size(block as usize)
        .with_tombstone_log(true)
        .with_flushers(1)
        .with_buffer_pool_size(write_buffer as usize)
        .with_submit_queue_size_threshold(write_buffer as usize)
        .with_admission_filter(StorageFilter::new().with_condition(EstimatedSize::new(..block as usize)))
}

/// Whether `dir` holds disk tier files from an earlier run.
pub fn has_disk_data(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| is_disk_file(&e.file_name().to_string_lossy()))))
}

/// Whether a file of the data directory is one of the disk tier's.
pub fn is_disk_file(name: &str) -> bool {
    name.starts_with(DEVICE_FILE_PREFIX) || name == crate::bodyfile::FILE_NAME
}

/// How foyer's file device names its files (numbered in creation order:
/// the tombstone log first, then the blocks).
const DEVICE_FILE_PREFIX: &str = "foyer-storage-direct-fs-";

/// Why the disk tier's files are not reserved.
#[derive(Debug)]
pub enum Unreserved {
    /// The filesystem cannot reserve space (no `fallocate`).
    Unsupported(String),
    /// It could, but did not (no space, an I/O error).
    Failed(String),
}

/// Allocates every disk tier file in `dir` (fallocate; data already there
/// is kept).
pub fn reserve(dir: &std::path::Path) -> Result<(), Unreserved> {
    use fs4::fs_std::FileExt;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Unreserved::Failed(e.to_string()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(DEVICE_FILE_PREFIX))
        .map(|e| e.path())
        .collect();
    files.sort();
    for p in &files {
        File::options()
            .write(true)
            .open(p)
            .and_then(|f| {
                let len = f.metadata()?.len();
                f.allocate(len)
            })
            .map_err(|e| {
                let why = format!("{}: {e}", p.display());
                if e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error() == Some(95) {
                    Unreserved::Unsupported(why) // EOPNOTSUPP
                } else {
                    Unreserved::Failed(why)
                }
            })?;
    }
    Ok(())
}

/// Creates `dir` if needed and takes its `LOCK` (held while the returned
/// file is open): one edge per data directory.
pub fn lock_dir(dir: &std::path::Path) -> Result<File, StoreError> {
    let err = |why: String| StoreError::DataDir { dir: dir.display().to_string(), why };
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create: {e}")))?;
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))
        .map_err(|e| err(format!("cannot open LOCK: {e}")))?;
    f.try_lock().map_err(|_| StoreError::Locked(dir.display().to_string()))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// foyer's files are sparse; reserved, every byte has its block, so a
    /// filesystem filling up later cannot fail the disk tier's writes.
    #[test]
    fn reserving_allocates_every_block_of_the_disk_tier_files_and_keeps_their_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{DEVICE_FILE_PREFIX}00000000"));
        let f = File::create(&p).unwrap();
        f.set_len(4 << 20).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"kept", 1 << 20).unwrap();
        drop(f);
        std::fs::write(dir.path().join("LOCK"), b"").unwrap();
        assert!(std::fs::metadata(&p).unwrap().blocks() * 512 < 4 << 20, "sparse before");
        reserve(dir.path()).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert!(m.blocks() * 512 >= 4 << 20, "{} bytes allocated", m.blocks() * 512);
        assert_eq!(m.len(), 4 << 20);
        let mut buf = [0u8; 4];
        std::os::unix::fs::FileExt::read_exact_at(&File::open(&p).unwrap(), &mut buf, 1 << 20).unwrap();
        assert_eq!(&buf, b"kept");
        assert_eq!(std::fs::metadata(dir.path().join("LOCK")).unwrap().len(), 0, "other files untouched");
    }

    fn value(len: usize, fill: u8) -> CacheValue {
        use crate::entry::StoredEntry;
        CacheValue::Response(StoredEntry {
            status: http::StatusCode::OK,
            head: crate::head::Head::new(http::StatusCode::OK, &http::HeaderMap::new()),
            body: bytes::Bytes::from(vec![fill; len]),
            timing: crate::freshness::Timing { birth_ms: 0, lifetime_ms: 1 << 40, swr_ms: 0, sie_ms: 0 },
            flags: Default::default(),
            tags: Box::default(),
            stored_ms: 0,
            slices: None,
            body_at: None,
        })
    }

    fn key(i: usize) -> CacheKey {
        CacheKey::from_target(&format!("/obj/{i}")).unwrap()
    }

    /// A 1 MiB memory tier over a disk tier holding `n` entries of 32 KiB,
    /// none of them in memory.
    async fn on_disk(dir: &std::path::Path, rule: Promotion, n: usize) -> Store {
        let c = StoreConfig {
            name: "promotion-test".into(),
            memory: 1 << 20,
            disk: 16 << 20,
            max_object: 64 << 10,
            write_buffer: 4 << 20,
            eviction: Eviction::default(),
            promotion: rule,
            disk_slice: 0,
            dir: dir.to_path_buf(),
            body_file: false,
        };
        let store = Store::open(&c).await.unwrap();
        for i in 0..n {
            store.insert_on_disk(key(i), value(32 << 10, i as u8));
        }
        store.wait().await;
        assert_eq!(store.memory_entries(), 0);
        store
    }

    async fn tier(store: &Store, i: usize) -> Tier {
        let (e, t) = store.get(&key(i)).await.unwrap().expect("stored");
        let CacheValue::Response(r) = e.value() else { panic!("kind") };
        assert_eq!(r.body.len(), 32 << 10);
        assert!(r.body.iter().all(|b| *b == i as u8), "the bytes of /obj/{i}");
        t
    }

    /// The case: a working set (64 × 32 KiB = 2 MiB) larger than
    /// the memory tier (1 MiB), read round-robin, is served from disk
    /// without copying anything into memory (foyer's own `get` copied
    /// every hit in and evicted the one before: 31 GB read and 62 entries
    /// in memory in the run); a key read twice in a row is
    /// promoted on its second disk hit and then hits memory.
    #[tokio::test]
    async fn reuse_promotes_a_disk_hit_only_when_its_reuse_fits_the_memory_tier() {
        let dir = tempfile::tempdir().unwrap();
        let store = on_disk(dir.path(), Promotion::Reuse, 64).await;
        for _round in 0..3 {
            for i in 0..64 {
                assert_eq!(tier(&store, i).await, Tier::Disk);
            }
        }
        assert_eq!(store.tier_counts(), (192, 0), "(disk reads, promotions): none promoted");
        assert_eq!(store.memory_entries(), 0, "nothing copied into memory");
        // A hot key: its second disk hit comes right after the first.
        assert_eq!(tier(&store, 7).await, Tier::Disk);
        assert_eq!(store.memory_entries(), 0, "not on its first hit since the round-robin");
        assert_eq!(tier(&store, 7).await, Tier::Disk);
        assert_eq!(store.tier_counts(), (194, 1), "promoted on the second");
        assert_eq!(tier(&store, 7).await, Tier::Memory);
        assert!(store.get_memory(key(7).as_str()).is_some());
    }

    /// A disk hit that is not promoted leaves the memory tier alone: an
    /// entry stored in memory stays there however many disk hits pass.
    #[tokio::test]
    async fn disk_hits_not_promoted_do_not_evict_the_memory_tier() {
        let dir = tempfile::tempdir().unwrap();
        let store = on_disk(dir.path(), Promotion::Reuse, 64).await;
        let kept = CacheKey::from_target("/kept").unwrap();
        store.insert(kept.clone(), value(100 << 10, 1));
        assert_eq!(store.memory_entries(), 1, "stored in memory (not looked up: a hit would protect it)");
        for i in (0..64).chain(0..64) {
            assert_eq!(tier(&store, i).await, Tier::Disk);
        }
        assert!(store.get_memory(kept.as_str()).is_some(), "evicted by disk hits");
    }

    /// `always` is foyer's own behaviour (every disk hit is copied in);
    /// `never` never copies.
    #[tokio::test]
    async fn always_promotes_every_disk_hit_and_never_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = on_disk(dir.path(), Promotion::Always, 4).await;
        assert_eq!(tier(&store, 1).await, Tier::Disk);
        assert_eq!(tier(&store, 1).await, Tier::Memory);
        assert_eq!(store.tier_counts(), (1, 1));
        store.close().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = on_disk(dir.path(), Promotion::Never, 4).await;
        for _ in 0..5 {
            assert_eq!(tier(&store, 1).await, Tier::Disk);
        }
        assert_eq!(store.tier_counts(), (5, 0));
        assert_eq!(store.memory_entries(), 0);
    }

    /// A store whose disk tier shares its budget with a body file (48 MiB:
    /// 32 MiB of bodies in segments of 8 MiB, 16 MiB for foyer).
    async fn with_body_file(dir: &std::path::Path) -> Store {
        let c = StoreConfig {
            name: "body-file-test".into(),
            memory: 1 << 20,
            disk: 48 << 20,
            max_object: 64 << 10,
            write_buffer: 4 << 20,
            eviction: Eviction::default(),
            promotion: Promotion::Reuse,
            disk_slice: 0,
            dir: dir.to_path_buf(),
            body_file: true,
        };
        Store::open(&c).await.unwrap()
    }

    /// Bodies of 16 KiB and more go to the body file, their heads to foyer:
    /// a disk hit reads the body back whole; a promoted head is the head
    /// only (the raw path sends its body with `sendfile`), read back whole
    /// for every other reader. After a restart the bodies are there,
    /// checked against their checksum: a damaged one is a miss, and its
    /// entry is removed.
    #[tokio::test]
    async fn bodies_in_the_body_file_read_back_whole_and_damaged_ones_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let store = with_body_file(dir.path()).await;
        assert!(store.bodies().is_some(), "the disk tier shares its budget with a body file");
        for i in 0..4 {
            store.insert_on_disk(key(i), value(32 << 10, i as u8));
        }
        store.wait().await;
        assert_eq!(store.bodies().unwrap().io().2, 4 * (32 << 10), "the bodies went to the body file");
        assert_eq!(tier(&store, 1).await, Tier::Disk);
        assert_eq!(store.memory_entries(), 0, "not promoted on its first disk hit");
        assert_eq!(tier(&store, 1).await, Tier::Disk, "promoted on its second: the head only");
        let head = store.get_memory(key(1).as_str()).expect("promoted");
        let CacheValue::Response(h) = head.value() else { panic!("kind") };
        assert!(h.body.is_empty() && h.body_at.is_some(), "the memory tier holds the head, not the body");
        assert!(store.memory_usage() < 4 << 10, "{} bytes in memory", store.memory_usage());
        assert_eq!(tier(&store, 1).await, Tier::Disk, "its body is read back for the full path");
        // The place of /obj/3's body, from its promoted head.
        tier(&store, 3).await;
        tier(&store, 3).await;
        let at = *store.get_memory(key(3).as_str()).and_then(|e| body_at(&e)).as_ref().expect("promoted");
        store.close().await.unwrap();
        drop(store);

        let store = with_body_file(dir.path()).await;
        assert_eq!(store.memory_entries(), 0);
        for i in [0, 1, 2] {
            assert_eq!(tier(&store, i).await, Tier::Disk, "/obj/{i} after the restart");
        }
        store.close().await.unwrap();
        drop(store);
        let f = File::options().write(true).open(dir.path().join(crate::bodyfile::FILE_NAME)).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"damage", at.off + 1000).unwrap();
        let store = with_body_file(dir.path()).await;
        assert!(store.get(&key(3)).await.unwrap().is_none(), "a damaged body is never served");
        store.wait().await;
        assert!(store.get(&key(3)).await.unwrap().is_none(), "and its entry is gone");
        assert_eq!(tier(&store, 2).await, Tier::Disk, "the others are intact");
    }

    /// The write buffer bounds foyer's disk-side memory: it must reach
    /// foyer as both the flush buffer pool and the submit queue limit
    /// (foyer's own default, 16 MiB each, would hold whatever the edge says).
    #[test]
    fn the_write_buffer_setting_reaches_foyers_flusher_and_queue() {
        let dir = tempfile::tempdir().unwrap();
        let device = FsDeviceBuilder::new(dir.path()).with_capacity(64 << 20).build().unwrap();
        let shown = format!("{:?}", engine_config(device.clone(), 2 << 20, 6 << 20));
        for field in ["buffer_pool_size: 6291456", "submit_queue_size_threshold: 6291456", "flushers: 1"] {
            assert!(shown.contains(field), "{field} not in {shown}");
        }
    }
}
