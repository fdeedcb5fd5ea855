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

use crate::freshness::{Flags, Timing};
use crate::key::CacheKey;

const MAGIC: u32 = 0xCD1A_B002;
const KIND_RESPONSE: u8 = 1;
const KIND_VARIANTS: u8 = 2;
const MAX_HEADERS: u32 = 512;
const MAX_NAME: usize = 1024;
const MAX_VALUE: usize = 64 * 1024;
const MAX_TAGS: u32 = 4096;

/// A stored response.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Status code.
    pub status: StatusCode,
    /// Headers to send on a hit, `Age` and `Cache-Status` excepted.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// Freshness timing.
    pub timing: Timing,
    /// Reuse restrictions.
    pub flags: Flags,
    /// Surrogate keys (`Surrogate-Key`, `Cache-Tag`).
    pub tags: Vec<String>,
    /// When it was stored (edge clock, Unix ms).
    pub stored_ms: u64,
    /// Set when the body is not here but stored as fixed-size slices under
    /// their own keys (objects larger than the edge's largest object).
    pub slices: Option<SliceInfo>,
    /// `headers` plus `Age` and `Cache-Status` slots, so a hit clones one
    /// map and replaces two values in place, never growing it. Derived
    /// (by [`StoredEntry::prepare`]), not stored on disk.
    pub hit_headers: HeaderMap,
    /// The HTTP/1.1 status line and header lines, ready to write (the raw
    /// hit path appends `Age`, `Cache-Status` and the blank line). Derived.
    pub head_block: Bytes,
}

impl StoredEntry {
    /// Fills `hit_headers` and `head_block` (done when the entry enters the
    /// store or comes back from disk, so every stored entry has both), and
    /// makes the entry own its header values.
    ///
    /// Memory: hyper parses an origin's header values as slices of the
    /// connection's read buffer (8 KiB to 400 KiB), so a stored entry that
    /// kept them would keep that whole buffer alive, several times the
    /// entry's weight (docs/memory.md measured +100 MiB over a 128 MiB
    /// tier). Here every value becomes a slice of `head_block`, which holds
    /// them all anyway: one exact-size allocation per entry.
    pub fn prepare(&mut self) {
        let mut b = bytes::BytesMut::with_capacity(
            32 + self.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>(),
        );
        b.extend_from_slice(b"HTTP/1.1 ");
        b.extend_from_slice(self.status.as_str().as_bytes());
        b.extend_from_slice(b" ");
        b.extend_from_slice(self.status.canonical_reason().unwrap_or("").as_bytes());
        b.extend_from_slice(b"\r\n");
        let mut spans = Vec::with_capacity(self.headers.len());
        for (n, v) in &self.headers {
            b.extend_from_slice(n.as_str().as_bytes());
            b.extend_from_slice(b": ");
            spans.push(b.len()..b.len() + v.len());
            b.extend_from_slice(v.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        self.head_block = b.freeze();
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        let mut name: Option<HeaderName> = None;
        for ((n, v), span) in std::mem::take(&mut self.headers).into_iter().zip(spans) {
            // `into_iter` names only the first of a repeated field's values.
            if n.is_some() {
                name = n;
            }
            let Some(name) = &name else { continue };
            let sensitive = v.is_sensitive();
            let mut owned = HeaderValue::from_maybe_shared(self.head_block.slice(span)).unwrap_or(v);
            owned.set_sensitive(sensitive);
            headers.append(name.clone(), owned);
        }
        self.headers = headers;
        // Headroom matters: HeaderMap reserves a slot before every insert,
        // even one that replaces a value, and a full map would grow (and
        // reallocate) on every hit.
        let mut h = HeaderMap::with_capacity((self.headers.len() + 2) * 2);
        for (n, v) in &self.headers {
            h.append(n.clone(), v.clone());
        }
        h.insert(http::header::AGE, HeaderValue::from_static("0"));
        h.insert(crate::headers::CACHE_STATUS, HeaderValue::from_static("-"));
        self.hit_headers = h;
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

/// Heap bytes of one `HeaderMap` slot: its bucket (hash, name, value and
/// links, 112 bytes on 64-bit) and its share of the index, rounded up.
const MAP_SLOT: usize = 128;
/// What a stored response costs besides its parts: the entry itself inside
/// foyer's record (with the key and foyer's hash and eviction links), its
/// tags vector, and the allocator's chunk headers. Checked against a
/// counting allocator by `edge/tests/memory.rs`.
const ENTRY_OVERHEAD: usize = 640;

impl CacheValue {
    /// Bytes of memory this value holds once prepared ([`StoredEntry::prepare`]):
    /// the memory tier's capacity is a bound on resident memory only if
    /// every entry weighs what it holds (docs/memory.md).
    pub fn weight(&self) -> usize {
        match self {
            CacheValue::Response(e) => {
                let maps = (e.headers.capacity() + e.hit_headers.capacity()) * MAP_SLOT;
                // Field names outside the standard set own their bytes.
                let names: usize = e.headers.keys().map(|n| n.as_str().len()).sum();
                let tags: usize = e.tags.iter().map(|t| t.len() + 32).sum();
                e.body.len() + e.head_block.len() + maps + names + tags + ENTRY_OVERHEAD
            }
            CacheValue::Variants(v) => v.names.iter().map(|n| n.as_str().len() + 24).sum::<usize>() + 64,
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
                let (total, size) = e.slices.map_or((u64::MAX, 0), |s| (s.total, s.size));
                w(out, &total.to_le_bytes())?;
                w(out, &size.to_le_bytes())?;
                w(out, &(e.headers.len() as u32).to_le_bytes())?;
                for (n, v) in &e.headers {
                    w(out, &(n.as_str().len() as u16).to_le_bytes())?;
                    w(out, n.as_str().as_bytes())?;
                    w(out, &(v.len() as u32).to_le_bytes())?;
                    w(out, v.as_bytes())?;
                }
                w(out, &(e.tags.len() as u32).to_le_bytes())?;
                for t in &e.tags {
                    w(out, &(t.len() as u16).to_le_bytes())?;
                    w(out, t.as_bytes())?;
                }
                w(out, &(e.body.len() as u64).to_le_bytes())?;
                w(out, &e.body)
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
        if read_u32(r)? != MAGIC {
            return Err(parse_err("bad magic (not a cdnlab entry, or an older format)"));
        }
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
                let slices = (total != u64::MAX).then_some(SliceInfo { total, size });
                if slices.is_some_and(|s| s.size == 0) {
                    return Err(parse_err("zero slice size"));
                }
                let n = read_u32(r)?;
                if n > MAX_HEADERS {
                    return Err(parse_err("too many headers"));
                }
                let mut headers = HeaderMap::with_capacity(n as usize);
                for _ in 0..n {
                    let nl = read_u16(r)? as usize;
                    let name = read_vec(r, nl, MAX_NAME)?;
                    let vl = read_u32(r)? as usize;
                    let value = read_vec(r, vl, MAX_VALUE)?;
                    let name = HeaderName::from_bytes(&name).map_err(|_| parse_err("bad header name"))?;
                    let value = HeaderValue::from_bytes(&value).map_err(|_| parse_err("bad header value"))?;
                    headers.append(name, value);
                }
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
                let mut e = StoredEntry {
                    status,
                    headers,
                    body: Bytes::from(body),
                    timing,
                    flags,
                    tags,
                    stored_ms,
                    slices,
                    hit_headers: HeaderMap::new(),
                    head_block: Bytes::new(),
                };
                e.prepare();
                Ok(CacheValue::Response(e))
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
                let headers: usize = e.headers.iter().map(|(n, v)| 6 + n.as_str().len() + v.len()).sum();
                let tags: usize = e.tags.iter().map(|t| 2 + t.len()).sum();
                4 + 1 + 2 + 40 + 1 + 16 + 4 + headers + 4 + tags + 8 + e.body.len()
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
            headers,
            body: Bytes::from_static(b"hello world"),
            timing: Timing { birth_ms: 1, lifetime_ms: 2, swr_ms: 3, sie_ms: 4 },
            flags: Flags(Flags::IMMUTABLE),
            tags: vec!["obj-1".into(), "group-1".into()],
            stored_ms: 5,
            slices: Some(SliceInfo { total: 10 << 20, size: 1 << 20 }),
            hit_headers: HeaderMap::new(),
            head_block: Bytes::new(),
        })
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
        assert_eq!(d.headers, o.headers);
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

    /// Preparing rewrites the headers as slices of `head_block`: the same
    /// fields, values, order and repeats, and the hit headers with them.
    #[test]
    fn preparing_keeps_every_field_in_order_and_owns_the_values() {
        let read_buffer = Bytes::from(vec![b'x'; 4096]);
        let CacheValue::Response(mut e) = sample() else { unreachable!() };
        e.headers.append("x-multi", HeaderValue::from_maybe_shared(read_buffer.slice(..3)).unwrap());
        let mut secret = HeaderValue::from_static("s");
        secret.set_sensitive(true);
        e.headers.insert("x-secret", secret);
        let before: Vec<(String, Vec<u8>)> =
            e.headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect();
        e.prepare();
        let after: Vec<(String, Vec<u8>)> =
            e.headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect();
        assert_eq!(after, before);
        assert_eq!(e.headers.get_all("x-multi").iter().count(), 3);
        assert!(e.headers["x-secret"].is_sensitive());
        assert!(read_buffer.is_unique(), "a header value still points into the read buffer");
        assert_eq!(e.hit_headers.get_all("x-multi").iter().count(), 3);
        assert!(e.hit_headers.contains_key(http::header::AGE));
        let block = std::str::from_utf8(&e.head_block).unwrap();
        assert!(block.starts_with("HTTP/1.1 200 OK\r\n") && block.contains("x-multi: xxx\r\n"), "{block}");
    }
}
