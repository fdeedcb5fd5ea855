//! A trace held in memory for replay: objects renumbered 0..n in order of
//! first appearance (so models index arrays instead of hashing), sizes as
//! `u32`, 8 bytes per request. Built from a streaming [`Reader`], which is
//! where the replay semantics are applied: only reads are replayed, and
//! size-0 requests are skipped (libCacheSim's readers skip them too).

use std::collections::HashMap;

use crate::policy::slots::KeyHasher;
use crate::trace::{Op, Reader, Request, TraceError};

/// "Never requested again" in [`Trace::next_use`].
pub const NEVER: u32 = u32::MAX;

/// What loading found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    /// Records or lines read (requests of every kind).
    pub records: u64,
    /// Requests kept for replay.
    pub requests: u64,
    /// Skipped: size 0.
    pub skipped_zero_size: u64,
    /// Skipped: not a read (writes, deletes, HEADs, error responses).
    pub skipped_not_read: u64,
    /// Distinct objects requested.
    pub objects: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Bytes of the distinct objects (first size seen): the working set.
    pub unique_bytes: u64,
    /// Largest object.
    pub max_size: u32,
    /// Requests whose size differs from the object's previous request.
    pub size_changes: u64,
    /// Span of the request times, milliseconds.
    pub span_ms: u64,
}

/// Requests in memory, objects numbered densely.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Object number of each request.
    pub ids: Vec<u32>,
    /// Size of each request.
    pub sizes: Vec<u32>,
    /// The trace's key of each object number.
    pub keys: Vec<u64>,
    /// What loading found.
    pub stats: LoadStats,
}

impl Trace {
    /// Reads a whole trace; `progress` is called now and then with the
    /// bytes read so far.
    pub fn load(mut reader: Reader, mut progress: impl FnMut(u64)) -> Result<Trace, TraceError> {
        let mut b = Builder::default();
        while let Some(r) = reader.next() {
            b.push(r?).map_err(|m| TraceError::file(reader.label(), m))?;
            if b.trace.stats.records % (1 << 16) == 0 {
                progress(reader.bytes_read());
            }
        }
        progress(reader.bytes_read());
        Ok(b.finish())
    }

    /// A trace of `(key, size)` reads (tests, generated traces).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u64, u32)>) -> Trace {
        let mut b = Builder::default();
        for (i, (key, size)) in pairs.into_iter().enumerate() {
            let r = Request { time_ms: i as u64, key, size: size as u64, op: Op::Read, ttl: None, client: None };
            // sizes are u32 here and the count fits: push cannot fail
            let _ = b.push(r);
        }
        b.finish()
    }

    /// Requests.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Distinct objects.
    pub fn objects(&self) -> usize {
        self.keys.len()
    }

    /// For each request, the index of the next request for the same object
    /// ([`NEVER`] if none): one backward pass, O(n).
    pub fn next_use(&self) -> Vec<u32> {
        let mut next = vec![NEVER; self.ids.len()];
        let mut seen = vec![NEVER; self.keys.len()];
        for i in (0..self.ids.len()).rev() {
            let id = self.ids[i] as usize;
            next[i] = seen[id];
            seen[id] = i as u32;
        }
        next
    }
}

#[derive(Default)]
struct Builder {
    trace: Trace,
    index: HashMap<u64, u32, std::hash::BuildHasherDefault<KeyHasher>>,
    last_size: Vec<u32>,
    first_ms: Option<u64>,
    last_ms: u64,
}

impl Builder {
    fn push(&mut self, r: Request) -> Result<(), String> {
        let st = &mut self.trace.stats;
        st.records += 1;
        if r.op != Op::Read {
            st.skipped_not_read += 1;
            return Ok(());
        }
        if r.size == 0 {
            st.skipped_zero_size += 1;
            return Ok(());
        }
        let size = u32::try_from(r.size).map_err(|_| {
            format!("request {}: size {} is over 4 GiB, the largest object the models take", st.records, r.size)
        })?;
        if self.trace.ids.len() >= (NEVER - 1) as usize {
            return Err(format!("more than {} requests: split the trace", NEVER - 1));
        }
        self.first_ms.get_or_insert(r.time_ms);
        self.last_ms = self.last_ms.max(r.time_ms);
        let next_id = self.trace.keys.len() as u32;
        let id = *self.index.entry(r.key).or_insert(next_id);
        if id == next_id {
            self.trace.keys.push(r.key);
            self.last_size.push(size);
            st.objects += 1;
            st.unique_bytes += size as u64;
        } else if self.last_size[id as usize] != size {
            st.size_changes += 1;
            self.last_size[id as usize] = size;
        }
        st.requests += 1;
        st.bytes += size as u64;
        st.max_size = st.max_size.max(size);
        self.trace.ids.push(id);
        self.trace.sizes.push(size);
        Ok(())
    }

    fn finish(mut self) -> Trace {
        self.trace.stats.span_ms = self.last_ms - self.first_ms.unwrap_or(self.last_ms);
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Format;

    #[test]
    fn objects_are_numbered_by_first_appearance_and_next_use_is_exact() {
        let t = Trace::from_pairs([(70, 1), (80, 2), (70, 1), (90, 3), (80, 5)]);
        assert_eq!(t.ids, [0, 1, 0, 2, 1]);
        assert_eq!(t.keys, [70, 80, 90]);
        assert_eq!(t.next_use(), [2, 4, NEVER, NEVER, NEVER]);
        assert_eq!(t.stats.size_changes, 1);
        assert_eq!((t.stats.unique_bytes, t.stats.bytes, t.stats.max_size), (6, 12, 5));
    }

    #[test]
    fn loading_skips_size_zero_and_non_reads_and_counts_them() {
        let text = "1,a,10,get\n2,b,0,get\n3,a,10,set\n4,c,5,get\n";
        let fmt = Format::parse("csv", Some("time=1,key=2,size=3,op=4")).unwrap();
        let t = Trace::load(Reader::from_read(std::io::Cursor::new(text), "t.csv", &fmt), |_| {}).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.stats.records, 4);
        assert_eq!((t.stats.skipped_zero_size, t.stats.skipped_not_read), (1, 1));
        assert_eq!(t.stats.span_ms, 3000);
    }

    #[test]
    fn a_bad_record_stops_loading_with_its_location() {
        let fmt = Format::parse("csv", Some("key=1,size=2")).unwrap();
        let e = Trace::load(Reader::from_read(std::io::Cursor::new("a,1\nb,x\n"), "t.csv", &fmt), |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 2, field `size`: `x` is not a size in bytes");
    }
}
