//! The purge journal in `{data_dir}/purge/`: an append-only log of what was
//! stored (key, tags, stamp) and of every purge, in the order they happened,
//! plus a snapshot of the index that lets old log segments go.
//!
//! ```text
//! purge/snapshot        header (sequence, generations, stamps, segments covered), one Add per live key, end
//! purge/log-0000000007  Add | Purge records since that snapshot, in order
//! purge/log-0000000008  (the segment being written)
//! ```
//!
//! Every record is framed `[len u32][crc32 u32][payload]`, little endian; a
//! record that does not check out ends its segment (a torn tail after a
//! crash), it is never a panic. A purge record is fsynced before the purge
//! is acknowledged; Add records are written (not fsynced) before the value
//! goes into the store, so after a process crash the log knows every key
//! the disk tier may hold. A snapshot is written to a temporary file,
//! fsynced and renamed, and only then are the segments it covers deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::spec::Target;

const MAGIC: u32 = 0xCD1A_B0F6;
const FORMAT: u32 = 1;
const MAX_RECORD: usize = 1 << 20;
const SNAPSHOT: &str = "snapshot";
const SEGMENT_PREFIX: &str = "log-";

const T_ADD: u8 = 1;
const T_PURGE: u8 = 2;
const T_HEADER: u8 = 3;
const T_END: u8 = 4;

/// The state a snapshot starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Purges registered so far.
    pub seq: u64,
    /// Values stamped at or below this are purged (hard purge-all).
    pub hard_gen: u64,
    /// Values stamped at or below this are stale (soft purge-all).
    pub soft_gen: u64,
    /// Edge-clock time of the last soft purge-all (Unix ms).
    pub soft_at_ms: u64,
    /// Highest stamp handed out.
    pub last_stamp: u64,
    /// Log segments folded into this snapshot (≤ this number).
    pub covers: u64,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A value was stored under `key`.
    Add {
        /// Store key.
        key: String,
        /// Its stamp.
        stamp: u64,
        /// A response (not a `VarySpec`).
        response: bool,
        /// Surrogate keys.
        tags: Vec<String>,
    },
    /// A purge was registered.
    Purge {
        /// Its sequence number.
        seq: u64,
        /// Stamps at or below this were stored before it.
        generation: u64,
        /// Edge-clock time (Unix ms).
        at_ms: u64,
        /// What it covers.
        target: Target,
        /// Soft or hard.
        soft: bool,
    },
    /// Snapshot header.
    Header(Header),
    /// Snapshot end, with the number of Add records before it.
    End(u64),
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file could not be read or written.
    #[error("purge journal {path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        err: io::Error,
    },
    /// The snapshot exists but is damaged (it is written atomically, so this
    /// is not a crash; refuse rather than forget purges).
    #[error("purge journal {0}: damaged snapshot ({1}); move it away to start with an empty index")]
    Damaged(String, String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |err| JournalError::Io { path: path.display().to_string(), err }
}

// ---- encoding ----

fn put_u8(b: &mut Vec<u8>, v: u8) {
    b.push(v);
}
fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s.as_bytes());
}

impl Record {
    /// Appends the framed record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut p = Vec::with_capacity(64);
        match self {
            Record::Add { key, stamp, response, tags } => {
                put_u8(&mut p, T_ADD);
                put_u64(&mut p, *stamp);
                put_u8(&mut p, u8::from(*response));
                put_str(&mut p, key);
                put_u16(&mut p, tags.len().min(u16::MAX as usize) as u16);
                for t in tags.iter().take(u16::MAX as usize) {
                    put_str(&mut p, t);
                }
            }
            Record::Purge { seq, generation, at_ms, target, soft } => {
                put_u8(&mut p, T_PURGE);
                put_u64(&mut p, *seq);
                put_u64(&mut p, *generation);
                put_u64(&mut p, *at_ms);
                put_u8(
                    &mut p,
                    match target {
                        Target::Url(_) => 1,
                        Target::Prefix(_) => 2,
                        Target::Tag(_) => 3,
                        Target::All => 4,
                    },
                );
                put_u8(&mut p, u8::from(*soft));
                put_str(&mut p, target.pattern());
            }
            Record::Header(h) => {
                put_u8(&mut p, T_HEADER);
                put_u32(&mut p, MAGIC);
                put_u32(&mut p, FORMAT);
                for v in [h.seq, h.hard_gen, h.soft_gen, h.soft_at_ms, h.last_stamp, h.covers] {
                    put_u64(&mut p, v);
                }
            }
            Record::End(n) => {
                put_u8(&mut p, T_END);
                put_u64(&mut p, *n);
            }
        }
        put_u32(out, p.len() as u32);
        put_u32(out, crc32(&p));
        out.extend_from_slice(&p);
    }

    /// Decodes one payload (already length- and checksum-checked).
    fn decode(p: &[u8]) -> Result<Record, &'static str> {
        let mut r = Reader(p);
        let rec = match r.u8()? {
            T_ADD => {
                let stamp = r.u64()?;
                let response = r.u8()? != 0;
                let key = r.string()?;
                let n = r.u16()?;
                let mut tags = Vec::with_capacity(usize::from(n).min(64));
                for _ in 0..n {
                    tags.push(r.string()?);
                }
                Record::Add { key, stamp, response, tags }
            }
            T_PURGE => {
                let seq = r.u64()?;
                let generation = r.u64()?;
                let at_ms = r.u64()?;
                let kind = r.u8()?;
                let soft = r.u8()? != 0;
                let pattern = r.string()?;
                let target = match kind {
                    1 => Target::Url(pattern),
                    2 => Target::Prefix(pattern),
                    3 => Target::Tag(pattern),
                    4 => Target::All,
                    _ => return Err("unknown purge kind"),
                };
                Record::Purge { seq, generation, at_ms, target, soft }
            }
            T_HEADER => {
                if r.u32()? != MAGIC {
                    return Err("bad magic");
                }
                if r.u32()? != FORMAT {
                    return Err("unknown format version");
                }
                Record::Header(Header {
                    seq: r.u64()?,
                    hard_gen: r.u64()?,
                    soft_gen: r.u64()?,
                    soft_at_ms: r.u64()?,
                    last_stamp: r.u64()?,
                    covers: r.u64()?,
                })
            }
            T_END => Record::End(r.u64()?),
            _ => return Err("unknown record type"),
        };
        if !r.0.is_empty() {
            return Err("trailing bytes");
        }
        Ok(rec)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated record");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "bad UTF-8")
    }
}

/// Reads framed records until the end or the first one that does not check
/// out; says whether the data ended cleanly.
pub fn decode_all(mut data: &[u8]) -> (Vec<Record>, Option<&'static str>) {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 8 {
            return (out, Some("torn record header"));
        }
        let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let crc = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if len > MAX_RECORD || data.len() < 8 + len {
            return (out, Some("torn record"));
        }
        let p = &data[8..8 + len];
        if crc32(p) != crc {
            return (out, Some("checksum mismatch"));
        }
        match Record::decode(p) {
            Ok(r) => out.push(r),
            Err(e) => return (out, Some(e)),
        }
        data = &data[8 + len..];
    }
    (out, None)
}

/// CRC-32 (IEEE 802.3), for torn-write detection.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

// ---- files ----

/// What the journal held at startup, in the order to replay it.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The snapshot's header, if there was a snapshot.
    pub header: Option<Header>,
    /// The snapshot's Add records, then every log record after it.
    pub records: Vec<Record>,
    /// Records read from log segments (0: a clean start from the snapshot).
    pub log_records: usize,
    /// Torn tails found (segment file and why).
    pub torn: Vec<(String, &'static str)>,
}

/// The open journal: the segment being appended to.
pub struct Journal {
    dir: PathBuf,
    segment: u64,
    file: Arc<File>,
    /// Records appended since the last snapshot.
    pub since_snapshot: u64,
}

impl Journal {
    /// Opens `dir` (creating it), reads the snapshot and the segments after
    /// it, and starts a new segment.
    pub fn open(dir: &Path) -> Result<(Journal, Recovered), JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut rec = Recovered::default();
        let snap = dir.join(SNAPSHOT);
        let mut covers = 0;
        match fs::read(&snap) {
            Ok(data) => {
                let (records, bad) = decode_all(&data);
                let damaged = |why: &str| JournalError::Damaged(snap.display().to_string(), why.to_string());
                if let Some(why) = bad {
                    return Err(damaged(why));
                }
                let mut it = records.into_iter();
                let Some(Record::Header(h)) = it.next() else { return Err(damaged("no header")) };
                let mut adds = Vec::new();
                let mut end = None;
                for r in it {
                    match r {
                        Record::Add { .. } if end.is_none() => adds.push(r),
                        Record::End(n) if end.is_none() => end = Some(n),
                        _ => return Err(damaged("unexpected record")),
                    }
                }
                if end != Some(adds.len() as u64) {
                    return Err(damaged("incomplete"));
                }
                covers = h.covers;
                rec.header = Some(h);
                rec.records = adds;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&snap)(e)),
        }
        let segments = segments(dir)?;
        let mut last = covers;
        for (n, path) in segments {
            last = last.max(n);
            if n <= covers {
                // Folded into the snapshot; a crash came before the delete.
                let _ = fs::remove_file(&path);
                continue;
            }
            let data = fs::read(&path).map_err(io_err(&path))?;
            let (records, bad) = decode_all(&data);
            if let Some(why) = bad {
                rec.torn.push((path.display().to_string(), why));
            }
            rec.log_records += records.len();
            rec.records.extend(records);
        }
        let segment = last + 1;
        let file = open_segment(dir, segment)?;
        sync_dir(dir)?;
        Ok((Journal { dir: dir.to_path_buf(), segment, file: Arc::new(file), since_snapshot: 0 }, rec))
    }

    /// Appends one record (written, not fsynced).
    pub fn append(&mut self, r: &Record) -> io::Result<()> {
        let mut buf = Vec::with_capacity(96);
        r.encode(&mut buf);
        (&*self.file).write_all(&buf)?;
        self.since_snapshot += 1;
        Ok(())
    }

    /// The segment file, to fsync off the lock.
    pub fn file(&self) -> Arc<File> {
        self.file.clone()
    }

    /// Starts a new segment; returns the number and file of the one closed
    /// (for the caller to fsync off its lock).
    pub fn rotate(&mut self) -> Result<(u64, Arc<File>), JournalError> {
        let next = self.segment + 1;
        let file = open_segment(&self.dir, next)?;
        let old = std::mem::replace(&mut self.segment, next);
        let old_file = std::mem::replace(&mut self.file, Arc::new(file));
        self.since_snapshot = 0;
        Ok((old, old_file))
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Writes a snapshot atomically (temporary file, fsync, rename, fsync the
/// directory), then deletes the segments it covers. Blocking.
pub fn write_snapshot(dir: &Path, bytes: &[u8], covers: u64) -> Result<(), JournalError> {
    let tmp = dir.join("snapshot.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    let snap = dir.join(SNAPSHOT);
    fs::rename(&tmp, &snap).map_err(io_err(&snap))?;
    sync_dir(dir)?;
    for (n, path) in segments(dir)? {
        if n <= covers {
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Encodes a snapshot: header, one Add per key, end.
pub fn encode_snapshot(h: &Header, adds: impl Iterator<Item = Record>) -> Vec<u8> {
    let mut out = Vec::new();
    Record::Header(*h).encode(&mut out);
    let mut n = 0u64;
    for r in adds {
        r.encode(&mut out);
        n += 1;
    }
    Record::End(n).encode(&mut out);
    out
}

/// fsyncs every file in `dir` but the journal's own (the disk tier's data
/// and tombstone log: foyer writes them without fsync), so a snapshot never
/// claims more than the disk holds. Blocking.
pub fn sync_files_in(dir: &Path, except: &Path) -> Result<(), JournalError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for e in entries.flatten() {
        let path = e.path();
        if path == except || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        File::open(&path).and_then(|f| f.sync_all()).map_err(io_err(&path))?;
    }
    Ok(())
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{n:010}"))
}

fn open_segment(dir: &Path, n: u64) -> Result<File, JournalError> {
    let p = segment_path(dir, n);
    OpenOptions::new().create(true).append(true).open(&p).map_err(io_err(&p))
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
        let name = e.file_name();
        if let Some(n) = name.to_str().and_then(|s| s.strip_prefix(SEGMENT_PREFIX)).and_then(|s| s.parse().ok()) {
            v.push((n, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(key: &str, stamp: u64) -> Record {
        Record::Add { key: key.into(), stamp, response: true, tags: vec!["t1".into(), "group-7".into()] }
    }

    fn purge(seq: u64) -> Record {
        Record::Purge { seq, generation: 99, at_ms: 98, target: Target::Prefix("/img/".into()), soft: true }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip_and_torn_tails_stop_cleanly() {
        let recs = vec![
            add("/a\0accept-encoding=gzip", 5),
            purge(1),
            Record::Purge { seq: 2, generation: 7, at_ms: 6, target: Target::All, soft: false },
            Record::Header(Header { seq: 1, hard_gen: 2, soft_gen: 3, soft_at_ms: 4, last_stamp: 5, covers: 6 }),
            Record::End(1),
        ];
        let mut buf = Vec::new();
        for r in &recs {
            r.encode(&mut buf);
        }
        let (back, bad) = decode_all(&buf);
        assert_eq!((back, bad), (recs.clone(), None));
        for cut in 0..buf.len() {
            let (some, _) = decode_all(&buf[..cut]);
            assert!(some.len() < recs.len() && recs.starts_with(&some), "cut at {cut}");
        }
        let mut flipped = buf.clone();
        flipped[12] ^= 1;
        let (none, bad) = decode_all(&flipped);
        assert!(none.is_empty() && bad == Some("checksum mismatch"));
    }

    #[test]
    fn reopening_replays_the_log_after_the_snapshot_and_drops_covered_segments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("purge");
        let (mut j, rec) = Journal::open(&d).unwrap();
        assert!(rec.header.is_none() && rec.records.is_empty());
        j.append(&add("/a", 1)).unwrap();
        j.append(&purge(1)).unwrap();
        let (old, _) = j.rotate().unwrap();
        j.append(&add("/b", 2)).unwrap();
        let h = Header { seq: 1, last_stamp: 2, covers: old, ..Default::default() };
        write_snapshot(&d, &encode_snapshot(&h, [add("/a", 1)].into_iter()), old).unwrap();
        // a torn tail on the live segment
        let live = segment_path(&d, old + 1);
        let mut f = OpenOptions::new().append(true).open(&live).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(j);
        let (_j, rec) = Journal::open(&d).unwrap();
        assert_eq!(rec.header, Some(h));
        assert_eq!(rec.records, vec![add("/a", 1), add("/b", 2)]);
        assert_eq!(rec.log_records, 1);
        assert_eq!(rec.torn.len(), 1);
        assert!(!segment_path(&d, old).exists(), "covered segment deleted");
    }

    #[test]
    fn a_damaged_snapshot_is_refused_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let h = Header::default();
        let mut bytes = encode_snapshot(&h, [add("/a", 1)].into_iter());
        let n = bytes.len();
        bytes[n - 3] ^= 0xFF;
        fs::write(d.join(SNAPSHOT), &bytes).unwrap();
        assert!(matches!(Journal::open(d), Err(JournalError::Damaged(..))));
    }
}
