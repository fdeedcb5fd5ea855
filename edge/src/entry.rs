//! What the cache stores: a response ready to send (status, headers with
//! hop-by-hop fields already removed, body as `Bytes`), its freshness timing,
//! and its surrogate keys; or, under a URL whose responses vary, the list of
//! request fields that select a variant.
//!
//! The disk format is this module's own, versioned by a magic number, and
//! decoding checks every length, so a damaged or foreign entry is an error,
//! never a panic or garbage.

use std::io::{Read, Write};

use bytes::Bytes;
use foyer::{Code, Error as FoyerError, ErrorKind};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::bodyfile::{BodyRef, REF_BYTES};
use crate::freshness::{Flags, Timing};
use crate::head::Head;
use crate::key::CacheKey;

const MAGIC: u32 = 0xCD1A_B003;
/// The format before [`StoredEntry::body_at`] (read, not written).
const MAGIC_V2: u32 = 0xCD1A_B002;
const KIND_RESPONSE: u8 = 1;
const KIND_VARIANTS: u8 = 2;
const MAX_HEADERS: u32 = 512;
const MAX_NAME: usize = 1024;
const MAX_VALUE: usize = 64 * 1024;
const MAX_TAGS: u32 = 4096;

/// A stored response.
///
/// Compact on purpose (docs/memory.md, "A million small objects"): the
/// head is one block ([`Head`]) the raw hit path writes as it is, not a
/// `HeaderMap`; the paths that need fields read them from it
/// ([`StoredEntry::headers`], [`StoredEntry::header`]).
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Status code.
    pub status: StatusCode,
    /// Status line and headers to send on a hit (`Age` and `Cache-Status`
    /// excepted), hop-by-hop fields already removed.
    pub head: Head,
    /// The body.
    pub body: Bytes,
    /// Freshness timing.
    pub timing: Timing,
    /// Reuse restrictions.
    pub flags: Flags,
    /// Surrogate keys (`Surrogate-Key`, `Cache-Tag`). A boxed slice, not a
    /// `Vec`: no capacity word in every record (most entries have none).
    pub tags: Box<[String]>,
    /// When it was stored (edge clock, Unix ms).
    pub stored_ms: u64,
    /// Set when the body is not here but stored as fixed-size slices under
    /// their own keys (objects larger than the edge's largest object).
    /// Boxed: rare, and 16 bytes inline in every record otherwise.
    pub slices: Option<Box<SliceInfo>>,
    /// Set when the body is not here but in the disk tier's body file
    /// ([`crate::bodyfile`]): `body` is then empty. Only the disk tier's
    /// copy of an entry, and the memory tier's copy of such a head once
    /// promoted, are like this; the store reads the body back for every
    /// reader but the raw hit path, which sends it with `sendfile`.
    /// Boxed like `slices`.
    pub body_at: Option<Box<BodyRef>>,
}

impl StoredEntry {
    /// The body's length, here or in the body file.
    pub fn body_len(&self) -> u64 {
        self.body_at.as_deref().map_or(self.body.len() as u64, |a| a.len)
    }

    /// The stored headers as a map (built on demand: the values are slices
    /// of the head, the map itself is allocated per call).
    pub fn headers(&self) -> HeaderMap {
        self.head.to_map()
    }

    /// The first value of one stored field (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<HeaderValue> {
        self.head.get(name)
    }
}

/// How a large object is cut into slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceInfo {
    /// Length of the whole representation.
    pub total: u64,
    /// Length of every slice but the last.
    pub size: u64,
}

impl SliceInfo {
    /// Number of slices.
    pub fn count(&self) -> u64 {
        self.total.div_ceil(self.size.max(1))
    }
    /// Byte range (inclusive) of slice `i`.
    pub fn bounds(&self, i: u64) -> (u64, u64) {
        let start = i * self.size;
        (start, (start + self.size).min(self.total).saturating_sub(1))
    }
}

/// The request fields that select among a URL's variants (its `Vary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarySpec {
    /// Lowercase field names.
    pub names: Vec<HeaderName>,
    /// When it was stored (edge clock, Unix ms).
    pub stored_ms: u64,
}

/// A cache value.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // responses are nearly every value; a box would add a hop to every hit
pub enum CacheValue {
    /// A response.
    Response(StoredEntry),
    /// The URL's responses vary; look up the variant key.
    Variants(VarySpec),
}

/// Heap bytes glibc's malloc spends on an allocation of `n` bytes on
/// 64-bit: `n` + 8 rounded up to 16, at least 32; from the mmap threshold
/// the binaries fix (128 KiB, `runtime::malloc`) up, whole pages.
pub fn chunk(n: usize) -> usize {
    match n {
        0 => 0,
        n if n >= 128 << 10 => (n + 16).next_multiple_of(4096),
        n => (n + 8).next_multiple_of(16).max(32),
    }
}

/// A `Bytes` of `len` bytes as a stored entry holds it: its buffer, and
/// the shared header `bytes` allocates the first time it is cloned (every
/// hit clones the body; building a map from the head slices it).
fn bytes_cost(len: usize) -> usize {
    if len == 0 { 0 } else { chunk(len) + chunk(24) }
}

/// What foyer's memory tier spends on each record besides the key's and
/// value's own heap: the record (key, value, hash, weight, properties,
/// eviction links, reference count and flags: `Arc`-allocated) and its
/// slot in the shard's hash table. Measured with a counting allocator by
/// `edge/tests/weight.rs` (which checks the whole weight within 10%).
const FOYER_RECORD: usize = 96;

/// Bytes of memory one entry of the memory tier holds: the memory tier's
/// capacity bounds resident memory only if every entry weighs what it
/// really costs (docs/memory.md). The record with the key and value inline,
/// the key's string, the head and body buffers, the tags.
pub fn weight(key: &CacheKey, value: &CacheValue) -> usize {
    let record = chunk(std::mem::size_of::<CacheKey>() + std::mem::size_of::<CacheValue>() + FOYER_RECORD);
    // The key is an `Arc<str>` (two counts, then the bytes), shared with
    // the purge index.
    record + chunk(16 + key.as_str().len()) + value.heap()
}

impl CacheValue {
    /// Heap bytes the value holds outside itself (its buffers and tags).
    pub fn heap(&self) -> usize {
        match self {
            CacheValue::Response(e) => {
                let slices = if e.slices.is_some() { chunk(std::mem::size_of::<SliceInfo>()) } else { 0 }
                    + if e.body_at.is_some() { chunk(std::mem::size_of::<BodyRef>()) } else { 0 };
                let tags = slices
                    + chunk(e.tags.len() * std::mem::size_of::<String>())
                    + e.tags.iter().map(|t| chunk(t.capacity())).sum::<usize>();
                // Head and body in one buffer (`Head::with_body`) or two.
                let buffers = match e.head.precedes(&e.body) {
                    true => bytes_cost(e.head.len() + e.body.len()),
                    false => bytes_cost(e.body.len()) + bytes_cost(e.head.len()),
                };
                buffers + tags
            }
            CacheValue::Variants(v) => {
                // Names outside the standard set own a `Bytes` of their own.
                chunk(v.names.capacity() * std::mem::size_of::<HeaderName>())
                    + v.names.iter().map(|n| bytes_cost(n.as_str().len())).sum::<usize>()
            }
        }
    }
}

fn parse_err(what: &str) -> FoyerError {
    FoyerError::new(ErrorKind::Parse, format!("stored entry: {what}"))
}

fn w(writer: &mut impl Write, b: &[u8]) -> foyer::Result<()> {
    writer.write_all(b).map_err(FoyerError::io_error)
}

fn read_arr<const N: usize>(r: &mut impl Read) -> foyer::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(FoyerError::io_error)?;
    Ok(b)
}
fn read_u8(r: &mut impl Read) -> foyer::Result<u8> {
    Ok(read_arr::<1>(r)?[0])
}
fn read_u16(r: &mut impl Read) -> foyer::Result<u16> {
    Ok(u16::from_le_bytes(read_arr(r)?))
}
fn read_u32(r: &mut impl Read) -> foyer::Result<u32> {
    Ok(u32::from_le_bytes(read_arr(r)?))
}
fn read_u64(r: &mut impl Read) -> foyer::Result<u64> {
    Ok(u64::from_le_bytes(read_arr(r)?))
}
/// Most bytes reserved for a field before its data is read: a damaged
/// length must not allocate what the entry does not hold.
const PREALLOC: usize = 1 << 20;

fn read_vec(r: &mut impl Read, len: usize, max: usize) -> foyer::Result<Vec<u8>> {
    if len > max {
        return Err(parse_err("field too long"));
    }
    let mut v = Vec::with_capacity(len.min(PREALLOC));
    r.take(len as u64).read_to_end(&mut v).map_err(FoyerError::io_error)?;
    if v.len() != len {
        return Err(parse_err("truncated field"));
    }
    // Past PREALLOC the vector grew by doubling: a body kept in memory
    // must not keep that slack (`Bytes::from` keeps the capacity).
    v.shrink_to_fit();
    Ok(v)
}

/// Reads `len` bytes onto the end of `scratch`; their span in it.
fn read_span(
    r: &mut impl Read,
    scratch: &mut Vec<u8>,
    len: usize,
    max: usize,
) -> foyer::Result<std::ops::Range<usize>> {
    if len > max {
        return Err(parse_err("field too long"));
    }
    let start = scratch.len();
    r.take(len as u64).read_to_end(scratch).map_err(FoyerError::io_error)?;
    if scratch.len() - start != len {
        return Err(parse_err("truncated field"));
    }
    Ok(start..start + len)
}

impl Code for CacheValue {
    fn encode(&self, out: &mut impl Write) -> foyer::Result<()> {
        w(out, &MAGIC.to_le_bytes())?;
        match self {
            CacheValue::Response(e) => {
                w(out, &[KIND_RESPONSE])?;
                w(out, &e.status.as_u16().to_le_bytes())?;
                for v in [e.timing.birth_ms, e.timing.lifetime_ms, e.timing.swr_ms, e.timing.sie_ms, e.stored_ms] {
                    w(out, &v.to_le_bytes())?;
                }
                w(out, &[e.flags.0])?;
                let (total, size) = e.slices.as_deref().map_or((u64::MAX, 0), |s| (s.total, s.size));
                w(out, &total.to_le_bytes())?;
                w(out, &size.to_le_bytes())?;
                w(out, &(e.head.fields().count() as u32).to_le_bytes())?;
                for (n, v) in e.head.fields() {
                    w(out, &(n.len() as u16).to_le_bytes())?;
                    w(out, n)?;
                    w(out, &(v.len() as u32).to_le_bytes())?;
                    w(out, v)?;
                }
                w(out, &(e.tags.len() as u32).to_le_bytes())?;
                for t in &e.tags {
                    w(out, &(t.len() as u16).to_le_bytes())?;
                    w(out, t.as_bytes())?;
                }
                w(out, &(e.body.len() as u64).to_le_bytes())?;
                w(out, &e.body)?;
                match &e.body_at {
                    Some(at) => {
                        w(out, &[1])?;
                        w(out, &at.encode())
                    }
                    None => w(out, &[0]),
                }
            }
            CacheValue::Variants(v) => {
                w(out, &[KIND_VARIANTS])?;
                w(out, &v.stored_ms.to_le_bytes())?;
                w(out, &(v.names.len() as u16).to_le_bytes())?;
                for n in &v.names {
                    w(out, &(n.as_str().len() as u16).to_le_bytes())?;
                    w(out, n.as_str().as_bytes())?;
                }
                Ok(())
            }
        }
    }

    fn decode(r: &mut impl Read) -> foyer::Result<Self> {
        let v3 = match read_u32(r)? {
            MAGIC => true,
            MAGIC_V2 => false,
            _ => return Err(parse_err("bad magic (not a cdnlab entry, or an older format)")),
        };
        match read_u8(r)? {
            KIND_RESPONSE => {
                let status = StatusCode::from_u16(read_u16(r)?).map_err(|_| parse_err("bad status"))?;
                let timing = Timing {
                    birth_ms: read_u64(r)?,
                    lifetime_ms: read_u64(r)?,
                    swr_ms: read_u64(r)?,
                    sie_ms: read_u64(r)?,
                };
                let stored_ms = read_u64(r)?;
                let flags = Flags(read_u8(r)?);
                let (total, size) = (read_u64(r)?, read_u64(r)?);
                let slices = (total != u64::MAX).then(|| Box::new(SliceInfo { total, size }));
                if slices.as_ref().is_some_and(|s| s.size == 0) {
                    return Err(parse_err("zero slice size"));
                }
                let n = read_u32(r)?;
                if n > MAX_HEADERS {
                    return Err(parse_err("too many headers"));
                }
                // The fields into one scratch buffer, then the head block
                // (checked) in one exact-size allocation.
                let mut scratch = Vec::new();
                let mut spans = Vec::with_capacity((n as usize).min(64));
                for _ in 0..n {
                    let nl = read_u16(r)? as usize;
                    let name = read_span(r, &mut scratch, nl, MAX_NAME)?;
                    let vl = read_u32(r)? as usize;
                    let value = read_span(r, &mut scratch, vl, MAX_VALUE)?;
                    spans.push((name, value));
                }
                let fields = spans.iter().map(|(n, v)| (&scratch[n.clone()], &scratch[v.clone()]));
                let head = Head::from_fields(status, fields).ok_or_else(|| parse_err("bad header field"))?;
                let nt = read_u32(r)?;
                if nt > MAX_TAGS {
                    return Err(parse_err("too many tags"));
                }
                let mut tags = Vec::with_capacity(nt as usize);
                for _ in 0..nt {
                    let l = read_u16(r)? as usize;
                    let t = String::from_utf8(read_vec(r, l, MAX_NAME)?).map_err(|_| parse_err("bad tag"))?;
                    tags.push(t);
                }
                let bl = read_u64(r)?;
                let body = read_vec(r, usize::try_from(bl).map_err(|_| parse_err("body too long"))?, 1 << 34)?;
                let body_at = match v3 && read_u8(r)? == 1 {
                    true => Some(Box::new(BodyRef::decode(&read_arr::<REF_BYTES>(r)?))),
                    false => None,
                };
                if body_at.is_some() && !body.is_empty() {
                    return Err(parse_err("a body both here and in the body file"));
                }
                Ok(CacheValue::Response(StoredEntry {
                    status,
                    head,
                    body: Bytes::from(body),
                    timing,
                    flags,
                    tags: tags.into_boxed_slice(),
                    stored_ms,
                    slices,
                    body_at,
                }))
            }
            KIND_VARIANTS => {
                let stored_ms = read_u64(r)?;
                let n = read_u16(r)?;
                let mut names = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let l = read_u16(r)? as usize;
                    let b = read_vec(r, l, MAX_NAME)?;
                    names.push(HeaderName::from_bytes(&b).map_err(|_| parse_err("bad vary name"))?);
                }
                Ok(CacheValue::Variants(VarySpec { names, stored_ms }))
            }
            _ => Err(parse_err("unknown kind")),
        }
    }

    fn estimated_size(&self) -> usize {
        // Exact for the fixed parts; headers and tags as encoded.
        match self {
            CacheValue::Response(e) => {
                let headers: usize = e.head.fields().map(|(n, v)| 6 + n.len() + v.len()).sum();
                let tags: usize = e.tags.iter().map(|t| 2 + t.len()).sum();
                4 + 1
                    + 2
                    + 40
                    + 1
                    + 16
                    + 4
                    + headers
                    + 4
                    + tags
                    + 8
                    + e.body.len()
                    + 1
                    + e.body_at.as_ref().map_or(0, |_| REF_BYTES)
            }
            CacheValue::Variants(v) => 4 + 1 + 8 + 2 + v.names.iter().map(|n| 2 + n.as_str().len()).sum::<usize>(),
        }
    }
}

impl Code for CacheKey {
    fn encode(&self, out: &mut impl Write) -> foyer::Result<()> {
        let s = self.as_str().as_bytes();
        w(out, &(s.len() as u32).to_le_bytes())?;
        w(out, s)
    }

    fn decode(r: &mut impl Read) -> foyer::Result<Self> {
        let l = read_u32(r)? as usize;
        let b = read_vec(r, l, crate::key::MAX_KEY_LEN * 2)?;
        String::from_utf8(b).map(CacheKey::from_stored).map_err(|_| parse_err("bad key"))
    }

    fn estimated_size(&self) -> usize {
        4 + self.as_str().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CacheValue {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        CacheValue::Response(StoredEntry {
            status: StatusCode::OK,
            head: Head::new(StatusCode::OK, &headers),
            body: Bytes::from_static(b"hello world"),
            timing: Timing { birth_ms: 1, lifetime_ms: 2, swr_ms: 3, sie_ms: 4 },
            flags: Flags(Flags::IMMUTABLE),
            tags: ["obj-1".into(), "group-1".into()].into(),
            stored_ms: 5,
            slices: Some(Box::new(SliceInfo { total: 10 << 20, size: 1 << 20 })),
            body_at: None,
        })
    }

    /// A head whose body is in the body file keeps where it is across the
    /// disk format; an entry of the format before (no such field) still reads.
    #[test]
    fn a_body_reference_round_trips_and_the_older_format_still_reads() {
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        e.body = Bytes::new();
        let at = BodyRef { seg: 3, gen_: 9, off: 4096, len: 65536, sum: 77 };
        e.body_at = Some(Box::new(at));
        let v = CacheValue::Response(e);
        let mut buf = Vec::new();
        v.encode(&mut buf).unwrap();
        assert_eq!(buf.len(), v.estimated_size());
        let CacheValue::Response(d) = CacheValue::decode(&mut buf.as_slice()).unwrap() else { panic!("kind") };
        assert_eq!(d.body_at.as_deref(), Some(&at));
        assert_eq!(d.body_len(), 65536);
        let mut old = Vec::new();
        sample().encode(&mut old).unwrap();
        old.pop(); // no reference byte in the older format
        old[..4].copy_from_slice(&MAGIC_V2.to_le_bytes());
        let CacheValue::Response(d) = CacheValue::decode(&mut old.as_slice()).unwrap() else { panic!("kind") };
        assert_eq!((d.body, d.body_at), (Bytes::from_static(b"hello world"), None));
    }

    #[test]
    fn entries_round_trip_through_the_disk_format() {
        let v = sample();
        let mut buf = Vec::new();
        v.encode(&mut buf).unwrap();
        assert_eq!(buf.len(), v.estimated_size());
        let CacheValue::Response(d) = CacheValue::decode(&mut buf.as_slice()).unwrap() else { panic!("kind") };
        let CacheValue::Response(o) = v else { unreachable!() };
        assert_eq!(d.body, o.body);
        assert_eq!(d.head, o.head);
        assert_eq!(d.headers().get_all("x-multi").iter().count(), 2);
        assert_eq!(d.timing, o.timing);
        assert_eq!(d.tags, o.tags);
        assert_eq!((d.status, d.flags, d.stored_ms, d.slices), (o.status, o.flags, o.stored_ms, o.slices));
    }

    #[test]
    fn slice_bounds_cover_the_object_exactly() {
        let s = SliceInfo { total: 2_500_000, size: 1 << 20 };
        assert_eq!(s.count(), 3);
        assert_eq!(s.bounds(0), (0, 1_048_575));
        assert_eq!(s.bounds(2), (2_097_152, 2_499_999));
    }

    #[test]
    fn variant_specs_round_trip() {
        let v =
            CacheValue::Variants(VarySpec { names: vec![HeaderName::from_static("accept-encoding")], stored_ms: 9 });
        let mut buf = Vec::new();
        v.encode(&mut buf).unwrap();
        assert_eq!(buf.len(), v.estimated_size());
        let CacheValue::Variants(d) = CacheValue::decode(&mut buf.as_slice()).unwrap() else { panic!("kind") };
        assert_eq!(d.names[0], "accept-encoding");
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let mut buf = Vec::new();
        sample().encode(&mut buf).unwrap();
        for cut in 0..buf.len() {
            assert!(CacheValue::decode(&mut &buf[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
        let mut bad = buf.clone();
        bad[0] ^= 0xFF;
        assert!(CacheValue::decode(&mut bad.as_slice()).is_err());
        // a huge header count is refused before allocating
        let mut huge = buf;
        let at = 4 + 1 + 2 + 40 + 1 + 16;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(CacheValue::decode(&mut huge.as_slice()).is_err());
    }

    /// Found by `fuzz/fuzz_targets/disk_formats.rs` (an out-of-memory at a
    /// 4 GiB allocation): a damaged body length made the decoder allocate
    /// the claimed size before reading, up to 16 GiB for an entry of a few
    /// bytes (an abort where the allocation fails). Reads now ask for at
    /// most what is there, in steps of at most [`PREALLOC`].
    #[test]
    fn a_damaged_length_does_not_allocate_what_the_entry_does_not_hold() {
        /// A reader that remembers the largest read it was asked for.
        struct Largest<'a>(&'a [u8], usize);
        impl Read for Largest<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1 = self.1.max(buf.len());
                self.0.read(buf)
            }
        }
        let mut buf = Vec::new();
        sample().encode(&mut buf).unwrap();
        let at = buf.len() - 11 - 8; // the body length, before "hello world"
        buf[at..at + 8].copy_from_slice(&(1u64 << 32).to_le_bytes());
        let mut r = Largest(&buf, 0);
        assert!(CacheValue::decode(&mut r).is_err());
        assert!(r.1 <= PREALLOC, "asked for a {} byte read", r.1);
        // A large body that is there still decodes.
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        e.body = Bytes::from(vec![7u8; 3 * PREALLOC + 5]);
        let mut big = Vec::new();
        CacheValue::Response(e.clone()).encode(&mut big).unwrap();
        let CacheValue::Response(d) = CacheValue::decode(&mut big.as_slice()).unwrap() else { panic!("kind") };
        assert_eq!(d.body, e.body);
    }

    /// A body read back from disk is kept in memory: it must hold exactly
    /// its bytes, not the doubled vector it was read into.
    #[test]
    fn a_body_read_from_disk_holds_exactly_its_bytes() {
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        let len = 3 * PREALLOC + 5;
        e.body = Bytes::from(vec![7u8; len]);
        let mut buf = Vec::new();
        CacheValue::Response(e).encode(&mut buf).unwrap();
        let CacheValue::Response(d) = CacheValue::decode(&mut buf.as_slice()).unwrap() else { panic!("kind") };
        let owned = d.body.try_into_mut().expect("unique");
        assert_eq!(owned.capacity(), len);
    }

    /// A damaged field name or value read from disk is an error, not a
    /// head that would write a broken response.
    #[test]
    fn a_damaged_field_is_an_error() {
        let mut buf = Vec::new();
        sample().encode(&mut buf).unwrap();
        let at = buf.windows(12).position(|w| w == b"content-type").unwrap();
        let mut upper = buf.clone();
        upper[at] = b'C';
        assert!(CacheValue::decode(&mut upper.as_slice()).is_err());
        let value = buf.windows(10).position(|w| w == b"text/plain").unwrap();
        buf[value + 4] = b'\n';
        assert!(CacheValue::decode(&mut buf.as_slice()).is_err());
    }

    /// The weight counts what the entry holds: a bigger body or head
    /// weighs more by (about) its size.
    #[test]
    fn the_weight_grows_with_what_the_entry_holds() {
        let key = CacheKey::from_target("/obj/1").unwrap();
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        let small = weight(&key, &CacheValue::Response(e.clone()));
        e.body = Bytes::from(vec![1u8; 10_000]);
        let big = weight(&key, &CacheValue::Response(e));
        assert!((big - small).abs_diff(10_000) < 64, "{small} → {big}");
        assert_eq!(chunk(1), 32);
        assert_eq!(chunk(24), 32);
        assert_eq!(chunk(25), 48);
        assert_eq!(chunk(512), 528);
    }

    /// Every record of the memory tier holds a value inline: tags as a
    /// boxed slice and the rare slice info and body place boxed keep it at
    /// 144 bytes (it was 160 with a `Vec` and an inline `Option<SliceInfo>`;
    /// 136 before the body place's pointer).
    #[test]
    fn a_value_is_small_inline() {
        assert!(std::mem::size_of::<CacheValue>() <= 144, "{} bytes", std::mem::size_of::<CacheValue>());
    }

    /// Head and body in one buffer weigh one buffer and one shared header,
    /// not two of each.
    #[test]
    fn head_and_body_in_one_buffer_weigh_one_buffer() {
        let key = CacheKey::from_target("/obj/1").unwrap();
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        e.slices = None;
        let body = Bytes::from(vec![1u8; 512]);
        let apart = StoredEntry { body: body.clone(), ..e.clone() };
        let (head, one) = Head::with_body(e.status, &e.headers(), &[body]);
        let together = StoredEntry { head, body: one, ..e };
        let (a, t) = (weight(&key, &CacheValue::Response(apart)), weight(&key, &CacheValue::Response(together)));
        assert_eq!(a - t, chunk(24) + 16, "apart {a}, together {t}");
    }
}
