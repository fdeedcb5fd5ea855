//! The disk tier's body file: the bodies of disk entries of at least
//! [`MIN_BODY`] bytes, kept in one file of the edge's own (`bodies` in the
//! data directory) so that a hit can be answered with `sendfile(2)` from
//! the page cache, as nginx answers from its cache files. foyer keeps the
//! entry's head with a [`BodyRef`] (where its body is); foyer keeps its
//! own entries' places private and checks a checksum over a whole entry
//! on every read, so a body inside a foyer entry cannot be sent this way
//! (docs/disk.md, "The body file").
//!
//! The file is a ring of fixed-size segments written in order, each body
//! appended to the current segment. Reusing a segment gives it a new
//! *generation*, written to its header and synced before any body goes
//! into it; a [`BodyRef`] names the generation it was written under, so a
//! reference into a reused segment is recognised and never served (the
//! entry is then a miss). A body written by an earlier run of the edge
//! (a generation at or below the one found at open) is checked against
//! its checksum when it is first read (a crash may have lost what the
//! page cache held); one written by this run is not (the page cache is
//! what was written).
//!
//! No index of its own: the foyer entry that holds a [`BodyRef`] is the
//! only way to a body, so removing the entry (a purge, an eviction, a
//! replacement) is what frees the body for reuse, and the purge journal's
//! cover of the entry covers its body.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// Bodies at least this long go to the body file (shorter ones stay in
/// their foyer entry: a `sendfile` call and a second write cost more than
/// copying a few KiB, and the bench's 4 KiB objects were already ahead of
/// nginx through foyer).
pub const MIN_BODY: usize = 16 << 10;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "bodies";

/// Bytes at the start of each segment: its header.
const HEADER: u64 = 4096;
const MAGIC: u64 = 0xCD1A_B0D1_0000_0001;

/// Where a body is: segment, generation, offset and length, and the
/// checksum (xxh3-64) of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRef {
    /// Segment number.
    pub seg: u32,
    /// The segment's generation when the body was written.
    pub gen_: u64,
    /// Offset in the file.
    pub off: u64,
    /// Length in bytes.
    pub len: u64,
    /// xxh3-64 of the bytes.
    pub sum: u64,
}

/// Bytes [`BodyRef::encode`] writes.
pub const REF_BYTES: usize = 4 + 8 * 4;

impl BodyRef {
    /// Its stored form.
    pub fn encode(&self) -> [u8; REF_BYTES] {
        let mut b = [0u8; REF_BYTES];
        b[..4].copy_from_slice(&self.seg.to_le_bytes());
        for (i, v) in [self.gen_, self.off, self.len, self.sum].into_iter().enumerate() {
            b[4 + i * 8..12 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// From its stored form.
    pub fn decode(b: &[u8; REF_BYTES]) -> BodyRef {
        let u = |i: usize| u64::from_le_bytes(b[4 + i * 8..12 + i * 8].try_into().unwrap_or_default());
        BodyRef { seg: u32::from_le_bytes([b[0], b[1], b[2], b[3]]), gen_: u(0), off: u(1), len: u(2), sum: u(3) }
    }
}

/// Where the writer is.
struct Cursor {
    /// The segment being filled (`None` before the first write).
    seg: Option<u32>,
    /// Its generation.
    gen_: u64,
    /// Next free offset in the file.
    off: u64,
    /// The generation the next reused segment gets.
    next_gen: u64,
}

/// The body file (see the module doc).
pub struct BodyFile {
    file: File,
    path: PathBuf,
    seg_size: u64,
    /// Each segment's generation (0: never written).
    gens: Box<[AtomicU64]>,
    /// Generations up to this one were written by an earlier run.
    boot_gen: u64,
    writer: Mutex<Cursor>,
    /// Bytes read back (reads and `sendfile`), bodies read back, bytes written.
    read_bytes: AtomicU64,
    reads: AtomicU64,
    written: AtomicU64,
    sends: AtomicU64,
}

impl BodyFile {
    /// Opens (or creates) the body file of `capacity` bytes in `dir`, in
    /// segments of `seg_size` bytes; the generations of an earlier run's
    /// segments are read from their headers. A file of another size is
    /// started afresh. The file's space is reserved when the filesystem
    /// can (a write that fails later is handled: the body stays in its
    /// foyer entry).
    pub fn open(dir: &Path, capacity: u64, seg_size: u64) -> std::io::Result<BodyFile> {
        let segs = capacity / seg_size;
        let path = dir.join(FILE_NAME);
        let file = File::options().read(true).write(true).create(true).truncate(false).open(&path)?;
        let len = segs * seg_size;
        let gens: Box<[AtomicU64]> = (0..segs).map(|_| AtomicU64::new(0)).collect();
        if file.metadata()?.len() != len {
            file.set_len(0)?;
            file.set_len(len)?;
        } else {
            let mut h = [0u8; 32];
            for (i, g) in gens.iter().enumerate() {
                file.read_exact_at(&mut h, i as u64 * seg_size)?;
                let (magic, gen_, seg, sum) = (word(&h, 0), word(&h, 1), word(&h, 2), word(&h, 3));
                if magic == MAGIC && seg == i as u64 && sum == twox_hash::XxHash3_64::oneshot(&h[..24]) {
                    g.store(gen_, Ordering::Relaxed);
                }
            }
        }
        {
            use fs4::fs_std::FileExt as _;
            if let Err(e) = file.allocate(len) {
                tracing::warn!(path = %path.display(), error = %e, "body file: space not reserved");
            }
        }
        let boot_gen = gens.iter().map(|g| g.load(Ordering::Relaxed)).max().unwrap_or(0);
        let last = gens.iter().position(|g| g.load(Ordering::Relaxed) == boot_gen && boot_gen > 0);
        let f = BodyFile {
            file,
            path,
            seg_size,
            gens,
            boot_gen,
            // The segment after the last one written is opened below
            // (the last one's rest is not reused: its generation would have
            // to change anyway, invalidating what it holds).
            writer: Mutex::new(Cursor { seg: last.map(|l| l as u32), gen_: 0, off: u64::MAX, next_gen: boot_gen + 1 }),
            read_bytes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            written: AtomicU64::new(0),
            sends: AtomicU64::new(0),
        };
        // The first segment is opened now, not by the first fill (its
        // header's sync would delay that fill's store).
        f.open_next(&mut f.writer.lock())?;
        Ok(f)
    }

    /// Writes a body; where it is. On the calling thread (a fill's: a
    /// write into the page cache; opening a segment also syncs its header).
    /// Fails for a body longer than a segment's room or an I/O error.
    pub fn put(&self, body: &[u8]) -> std::io::Result<BodyRef> {
        let len = body.len() as u64;
        if len > self.seg_size - HEADER {
            return Err(std::io::Error::other("body longer than a segment"));
        }
        let sum = twox_hash::XxHash3_64::oneshot(body);
        let at = {
            let mut w = self.writer.lock();
            let end = w.seg.map_or(0, |s| (s as u64 + 1) * self.seg_size);
            if w.off == u64::MAX || w.off + len > end {
                self.open_next(&mut w)?;
            }
            let at = BodyRef { seg: w.seg.unwrap_or(0), gen_: w.gen_, off: w.off, len, sum };
            w.off += len;
            at
        };
        self.file.write_all_at(body, at.off)?;
        self.written.fetch_add(len, Ordering::Relaxed);
        Ok(at)
    }

    /// Opens the segment after the writer's for writing: a new generation,
    /// in memory (readers refuse what it held from now on) and in its
    /// header, synced before anything is written into it.
    fn open_next(&self, w: &mut Cursor) -> std::io::Result<()> {
        let seg = w.seg.map_or(0, |s| (s + 1) % self.gens.len() as u32);
        let gen_ = w.next_gen;
        self.gens[seg as usize].store(gen_, Ordering::Release);
        let start = seg as u64 * self.seg_size;
        let mut h = [0u8; 32];
        for (i, v) in [MAGIC, gen_, seg as u64].into_iter().enumerate() {
            h[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        let hsum = twox_hash::XxHash3_64::oneshot(&h[..24]);
        h[24..].copy_from_slice(&hsum.to_le_bytes());
        self.file.write_all_at(&h, start)?;
        self.file.sync_data()?;
        *w = Cursor { seg: Some(seg), gen_, off: start + HEADER, next_gen: gen_ + 1 };
        Ok(())
    }

    /// Whether the body is still where `at` says (its segment not reused since).
    #[inline]
    pub fn valid(&self, at: &BodyRef) -> bool {
        self.gens.get(at.seg as usize).is_some_and(|g| g.load(Ordering::Acquire) == at.gen_)
    }

    /// Reads a body back (blocking: call it off the runtime's workers).
    /// `None` when its segment was reused, or, for a body an earlier run
    /// wrote, when its bytes do not match its checksum.
    pub fn read(&self, at: &BodyRef) -> std::io::Result<Option<Bytes>> {
        if !self.valid(at) {
            return Ok(None);
        }
        let mut buf = vec![0u8; at.len as usize];
        self.file.read_exact_at(&mut buf, at.off)?;
        self.count_read(at.len);
        if !self.valid(at) || (at.gen_ <= self.boot_gen && twox_hash::XxHash3_64::oneshot(&buf) != at.sum) {
            return Ok(None);
        }
        Ok(Some(Bytes::from(buf)))
    }

    /// Counts `n` bytes read back (by [`BodyFile::read`] or `sendfile`).
    pub fn count_read(&self, n: u64) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.read_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a body of `n` bytes sent with `sendfile` (also a read).
    pub fn count_send(&self, n: u64) {
        self.sends.fetch_add(1, Ordering::Relaxed);
        self.count_read(n);
    }

    /// Bodies sent with `sendfile` since open.
    pub fn sends(&self) -> u64 {
        self.sends.load(Ordering::Relaxed)
    }

    /// Whether a body was written by an earlier run (its bytes are checked
    /// on their first read: [`BodyFile::read`]).
    pub fn from_earlier_run(&self, at: &BodyRef) -> bool {
        at.gen_ <= self.boot_gen
    }

    /// The file (for `sendfile`).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.gens.len() as u64 * self.seg_size
    }

    /// (bodies read back, bytes read back, bytes written) since open.
    pub fn io(&self) -> (u64, u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.read_bytes.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

fn word(h: &[u8; 32], i: usize) -> u64 {
    u64::from_le_bytes(h[i * 8..i * 8 + 8].try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body reads back as written; once the writer has gone round the
    /// ring and reused its segment, its reference is refused (never the
    /// bytes that replaced it).
    #[test]
    fn a_body_in_a_reused_segment_is_never_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = BodyFile::open(dir.path(), 4 * (64 << 10), 64 << 10).unwrap();
        let first = f.put(&[1u8; 40 << 10]).unwrap();
        assert_eq!(f.read(&first).unwrap().unwrap(), vec![1u8; 40 << 10]);
        // Each 40 KiB body takes a segment of its own: 4 more wrap round.
        let mut last = first;
        for i in 2..6u8 {
            last = f.put(&[i; 40 << 10]).unwrap();
        }
        assert_eq!(last.seg, first.seg, "the ring came back to the first segment");
        assert!(!f.valid(&first));
        assert_eq!(f.read(&first).unwrap(), None);
        assert_eq!(f.read(&last).unwrap().unwrap(), vec![5u8; 40 << 10]);
    }

    /// After a restart, generations come back from the segment headers:
    /// bodies written before are still there, checked against their
    /// checksum (damaged bytes are refused), and the writer starts a new
    /// segment instead of writing over them.
    #[test]
    fn bodies_survive_a_restart_and_damaged_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = {
            let f = BodyFile::open(dir.path(), 4 * (256 << 10), 256 << 10).unwrap();
            (f.put(&[7u8; 20 << 10]).unwrap(), f.put(&[8u8; 20 << 10]).unwrap())
        };
        let f = BodyFile::open(dir.path(), 4 * (256 << 10), 256 << 10).unwrap();
        assert!(f.from_earlier_run(&a));
        assert_eq!(f.read(&a).unwrap().unwrap(), vec![7u8; 20 << 10]);
        f.file().write_all_at(b"x", b.off + 100).unwrap();
        assert_eq!(f.read(&b).unwrap(), None, "damaged body from an earlier run");
        let c = f.put(&[9u8; 20 << 10]).unwrap();
        assert_ne!(c.seg, a.seg);
        assert!(!f.from_earlier_run(&c));
        assert_eq!(f.read(&a).unwrap().unwrap(), vec![7u8; 20 << 10]);
        assert_eq!(BodyRef::decode(&c.encode()), c);
    }
}
