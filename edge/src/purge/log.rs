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
//! Every record is framed `[len u32][crc32 u32][payload]`, little endian. A
//! segment whose data ends inside its last record has a *torn tail* (a
//! crash while writing: that record was never acknowledged) and is read up
//! to it; a whole record that does not check out is *damage* (a flipped
//! bit), and then the purge state is not fully recovered ([`Recovered::lost`]):
//! never a panic, never a refusal to start. A purge record is fsynced
//! before the purge is acknowledged; Add records are written (not fsynced)
//! before the value goes into the store, so after a process crash the log
//! knows every key the disk tier may hold. A write that fails (a full disk)
//! is cut back off the segment, so later records never follow garbage. A
//! snapshot is written to a temporary file, fsynced and renamed, and only
//! then are the segments it covers deleted; a snapshot that cannot be
//! written leaves the old one and the log as they were.
//!
//! `purge/complete` exists while the journal holds every purge this edge
//! applied: it is created once the journal is known whole, and removed
//! (an unlink needs no free space) as soon as a purge could not be
//! persisted. Missing at start while there is earlier state, it means
//! purges were lost.

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
/// Present while the journal holds every purge applied (see the module docs).
pub const COMPLETE: &str = "complete";

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

/// How framed data ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// After the last whole record.
    Clean,
    /// Inside its last record: a write cut short by a crash (that record was
    /// never acknowledged).
    Torn(&'static str),
    /// At a whole record that does not check out: damage, not a crash.
    Damaged(&'static str),
}

/// Reads framed records until the end or the first one that does not check
/// out, and says how the data ended ([`Ending`]).
pub fn decode_framed(mut data: &[u8]) -> (Vec<Record>, Ending) {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 8 {
            return (out, Ending::Torn("torn record header"));
        }
        let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let crc = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if len > MAX_RECORD {
            return (out, Ending::Damaged("record length out of range"));
        }
        if data.len() < 8 + len {
            // A record cut short, unless the rest is a whole record whose
            // length field was flipped (its checksum says so).
            if crc32(&data[8..]) == crc {
                return (out, Ending::Damaged("record length damaged"));
            }
            return (out, Ending::Torn("torn record"));
        }
        let p = &data[8..8 + len];
        if crc32(p) != crc {
            return (out, Ending::Damaged("checksum mismatch"));
        }
        match Record::decode(p) {
            Ok(r) => out.push(r),
            Err(e) => return (out, Ending::Damaged(e)),
        }
        data = &data[8 + len..];
    }
    (out, Ending::Clean)
}

/// Reads framed records until the end or the first one that does not check
/// out; says why the data did not end cleanly.
pub fn decode_all(data: &[u8]) -> (Vec<Record>, Option<&'static str>) {
    let (out, end) = decode_framed(data);
    (
        out,
        match end {
            Ending::Clean => None,
            Ending::Torn(why) | Ending::Damaged(why) => Some(why),
        },
    )
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
    /// Why the purge state could not be fully recovered (damaged snapshot
    /// or log, missing snapshot, purges not persisted by the last run).
    pub lost: Option<String>,
    /// Highest stamp or generation seen in whatever could be read.
    pub max_stamp: u64,
}

/// The open journal: the segment being appended to.
pub struct Journal {
    dir: PathBuf,
    segment: u64,
    file: Arc<File>,
    /// Bytes of whole records in the segment.
    len: u64,
    /// A failed write could not be cut back: the next append starts a new
    /// segment.
    rotate_first: bool,
    /// Records appended since the last snapshot.
    pub since_snapshot: u64,
}

impl Journal {
    /// Opens `dir` (creating it), reads the snapshot and the segments after
    /// it, and starts a new segment. Damage is not an error: it is reported
    /// in [`Recovered::lost`] (a damaged snapshot is moved aside to
    /// `snapshot.damaged-<ms>`). `earlier` says whether the data directory
    /// holds earlier state (disk tier files): without a journal to match,
    /// that too is a loss. Errors are only I/O errors on the directory.
    pub fn open(dir: &Path, earlier: bool) -> Result<(Journal, Recovered), JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut rec = Recovered::default();
        let lost = |rec: &mut Recovered, why: String| {
            rec.lost.get_or_insert(why);
        };
        let snap = dir.join(SNAPSHOT);
        let mut covers = 0;
        let mut have_snapshot = false;
        match fs::read(&snap) {
            Ok(data) => match read_snapshot(&data) {
                Ok((h, adds)) => {
                    covers = h.covers;
                    rec.max_stamp = h.last_stamp.max(h.hard_gen).max(h.soft_gen);
                    rec.header = Some(h);
                    rec.records = adds;
                    have_snapshot = true;
                }
                Err((why, h)) => {
                    if let Some(h) = h {
                        rec.max_stamp = h.last_stamp.max(h.hard_gen).max(h.soft_gen);
                    }
                    let aside = dir.join(format!("{SNAPSHOT}.damaged-{}", unix_ms()));
                    let moved = match fs::rename(&snap, &aside) {
                        Ok(()) => format!("moved to {}", aside.display()),
                        Err(e) => format!("could not move it aside: {e}"),
                    };
                    lost(&mut rec, format!("damaged snapshot {} ({why}); {moved}", snap.display()));
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => lost(&mut rec, format!("cannot read {}: {e}", snap.display())),
        }
        let complete = dir.join(COMPLETE).exists();
        let segments = segments(dir)?;
        if !have_snapshot
            && rec.lost.is_none()
            && let Some((first, _)) = segments.iter().find(|(n, _)| *n > covers)
            && *first > 1
        {
            lost(&mut rec, format!("snapshot missing (the log starts at segment {first})"));
        }
        let mut last = covers;
        let mut damaged = false;
        for (n, path) in &segments {
            last = last.max(*n);
            if *n <= covers {
                // Folded into the snapshot; a crash came before the delete.
                let _ = fs::remove_file(path);
                continue;
            }
            if damaged {
                continue;
            }
            let data = match fs::read(path) {
                Ok(d) => d,
                Err(e) => {
                    lost(&mut rec, format!("cannot read {}: {e}", path.display()));
                    damaged = true;
                    continue;
                }
            };
            let (records, end) = decode_framed(&data);
            rec.log_records += records.len();
            for r in &records {
                rec.max_stamp = rec.max_stamp.max(match r {
                    Record::Add { stamp, .. } => *stamp,
                    Record::Purge { generation, .. } => generation.saturating_add(1),
                    _ => 0,
                });
            }
            rec.records.extend(records);
            match end {
                Ending::Clean => {}
                Ending::Torn(why) => rec.torn.push((path.display().to_string(), why)),
                Ending::Damaged(why) => {
                    lost(&mut rec, format!("damaged log {} ({why})", path.display()));
                    damaged = true;
                }
            }
        }
        let had_state = have_snapshot || !segments.is_empty() || rec.lost.is_some();
        if !complete && (had_state || earlier) {
            lost(
                &mut rec,
                format!(
                    "{} is missing: the last run could not persist every purge (full disk?) or the journal was removed",
                    dir.join(COMPLETE).display()
                ),
            );
        }
        // Numbers this high come only from damaged files; a wrapped one
        // would replay later records before earlier ones.
        let segment = last.checked_add(1).unwrap_or_else(|| {
            lost(&mut rec, format!("damaged journal {}: segment number {last} has no next", dir.display()));
            last
        });
        let file = open_segment(dir, segment)?;
        sync_dir(dir)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            segment,
            file: Arc::new(file),
            len: 0,
            rotate_first: false,
            since_snapshot: 0,
        };
        Ok((journal, rec))
    }

    /// Marks the journal whole (creates `complete`, fsyncs the directory).
    pub fn mark_complete(&self) -> Result<(), JournalError> {
        let p = self.dir.join(COMPLETE);
        File::create(&p).map_err(io_err(&p))?;
        sync_dir(&self.dir)
    }

    /// Marks the journal incomplete: a purge could not be persisted. An
    /// unlink needs no free space.
    pub fn mark_incomplete(&self) -> Result<(), JournalError> {
        let p = self.dir.join(COMPLETE);
        match fs::remove_file(&p) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Appends one record (written, not fsynced). A write that fails (a
    /// full disk) is cut back off the segment; if even that fails, the next
    /// append starts a new segment, so no record ever follows a partial one.
    pub fn append(&mut self, r: &Record) -> io::Result<()> {
        if self.rotate_first {
            let next = self.segment + 1;
            let file = open_segment(&self.dir, next).map_err(|e| io::Error::other(e.to_string()))?;
            self.segment = next;
            self.file = Arc::new(file);
            self.len = 0;
            self.rotate_first = false;
        }
        let mut buf = Vec::with_capacity(96);
        r.encode(&mut buf);
        if let Err(e) = (&*self.file).write_all(&buf) {
            if self.file.set_len(self.len).is_err() {
                self.rotate_first = true;
            }
            return Err(e);
        }
        self.len += buf.len() as u64;
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
        let next = self
            .segment
            .checked_add(1)
            .ok_or_else(|| io_err(&self.dir)(io::Error::other("segment numbers exhausted")))?;
        let file = open_segment(&self.dir, next)?;
        let old = std::mem::replace(&mut self.segment, next);
        let old_file = std::mem::replace(&mut self.file, Arc::new(file));
        self.len = 0;
        self.rotate_first = false;
        self.since_snapshot = 0;
        Ok((old, old_file))
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the next write fail as on a full disk (it goes to `/dev/full`).
    #[cfg(test)]
    pub(crate) fn fill_disk_for_test(&mut self) {
        if let Ok(f) = OpenOptions::new().append(true).open("/dev/full") {
            self.file = Arc::new(f);
        }
    }
}

/// Writes a snapshot atomically (temporary file, fsync, rename, fsync the
/// directory), then deletes the segments it covers. Blocking.
pub fn write_snapshot(dir: &Path, bytes: &[u8], covers: u64) -> Result<(), JournalError> {
    let tmp = dir.join("snapshot.tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        // A full disk: give the space back; the old snapshot and the log
        // stay as they were.
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
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

/// Why a snapshot does not check out, and its header if that much did.
pub type SnapshotDamage = (&'static str, Option<Header>);

/// Decodes a snapshot into its header and Add records; on damage, why
/// (and the header, if that much was readable).
pub fn read_snapshot(data: &[u8]) -> Result<(Header, Vec<Record>), SnapshotDamage> {
    let (records, end) = decode_framed(data);
    let mut it = records.into_iter();
    let h = match it.next() {
        Some(Record::Header(h)) => h,
        _ => return Err((if let Ending::Clean = end { "no header" } else { "damaged header" }, None)),
    };
    if let Ending::Torn(why) | Ending::Damaged(why) = end {
        return Err((why, Some(h)));
    }
    let mut adds = Vec::new();
    let mut n_end = None;
    for r in it {
        match r {
            Record::Add { .. } if n_end.is_none() => adds.push(r),
            Record::End(n) if n_end.is_none() => n_end = Some(n),
            _ => return Err(("unexpected record", Some(h))),
        }
    }
    if n_end != Some(adds.len() as u64) {
        return Err(("incomplete", Some(h)));
    }
    Ok((h, adds))
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
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
    fn a_cut_off_last_record_is_torn_and_a_flipped_one_is_damage() {
        let mut buf = Vec::new();
        for r in [add("/a", 1), purge(1), add("/b", 2)] {
            r.encode(&mut buf);
        }
        let cut = &buf[..buf.len() - 3];
        assert!(matches!(decode_framed(cut), (r, Ending::Torn(_)) if r.len() == 2));
        let mut first_two = Vec::new();
        add("/a", 1).encode(&mut first_two);
        purge(1).encode(&mut first_two);
        let last = first_two.len();
        // a length grown past the end (would look torn), a shrunk one, the checksum, the payload
        for (at, bit, what) in [
            (last + 1, 0x40, "length grown"),
            (last, 0x02, "length shrunk"),
            (last + 6, 0x40, "checksum"),
            (buf.len() - 1, 0x40, "payload"),
        ] {
            let mut flipped = buf.clone();
            flipped[at] ^= bit;
            let (r, end) = decode_framed(&flipped);
            assert!(matches!(end, Ending::Damaged(_)) && r.len() == 2, "{what}: {end:?}");
        }
    }

    #[test]
    fn reopening_replays_the_log_after_the_snapshot_and_drops_covered_segments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("purge");
        let (mut j, rec) = Journal::open(&d, false).unwrap();
        assert!(rec.header.is_none() && rec.records.is_empty() && rec.lost.is_none(), "a fresh start lost nothing");
        j.mark_complete().unwrap();
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
        let (_j, rec) = Journal::open(&d, true).unwrap();
        assert_eq!(rec.header, Some(h));
        assert_eq!(rec.records, vec![add("/a", 1), add("/b", 2)]);
        assert_eq!(rec.log_records, 1);
        assert_eq!(rec.torn.len(), 1);
        assert_eq!(rec.lost, None, "a torn tail loses nothing that was acknowledged");
        assert!(!segment_path(&d, old).exists(), "covered segment deleted");
    }

    /// Issue 12, defect 7: a damaged snapshot used to stop the edge from
    /// starting (and moving it away, as the message advised, forgot every
    /// purge). Now it is moved aside and reported as lost state.
    #[test]
    fn a_damaged_snapshot_is_moved_aside_and_reported_lost() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let h = Header { last_stamp: 77, ..Header::default() };
        let mut bytes = encode_snapshot(&h, [add("/a", 1)].into_iter());
        let n = bytes.len();
        bytes[n - 3] ^= 0xFF;
        fs::write(d.join(SNAPSHOT), &bytes).unwrap();
        fs::write(d.join(COMPLETE), b"").unwrap();
        let (_j, rec) = Journal::open(d, true).unwrap();
        let why = rec.lost.expect("lost");
        assert!(why.contains("damaged snapshot") && why.contains("moved to"), "{why}");
        assert!(rec.header.is_none() && rec.records.is_empty());
        assert_eq!(rec.max_stamp, 77, "the readable header still bounds the stamps");
        assert!(!d.join(SNAPSHOT).exists());
        assert!(
            fs::read_dir(d)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("snapshot.damaged-"))
        );
    }

    #[test]
    fn missing_state_is_lost_state() {
        // the snapshot moved away: the log starts after segment 1
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (mut j, _) = Journal::open(d, false).unwrap();
        j.mark_complete().unwrap();
        j.append(&add("/a", 1)).unwrap();
        let (old, _) = j.rotate().unwrap();
        write_snapshot(d, &encode_snapshot(&Header { covers: old, ..Default::default() }, std::iter::empty()), old)
            .unwrap();
        drop(j);
        fs::rename(d.join(SNAPSHOT), d.join("elsewhere")).unwrap();
        let (_j, rec) = Journal::open(d, true).unwrap();
        assert!(rec.lost.as_deref().is_some_and(|w| w.contains("snapshot missing")), "{:?}", rec.lost);
        // `complete` gone (a purge not persisted), or the journal removed while the disk tier has data
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), false).unwrap();
        j.mark_complete().unwrap();
        j.mark_incomplete().unwrap();
        drop(j);
        let (_j, rec) = Journal::open(dir.path(), false).unwrap();
        assert!(rec.lost.as_deref().is_some_and(|w| w.contains("complete is missing")), "{:?}", rec.lost);
        let empty = tempfile::tempdir().unwrap();
        assert!(Journal::open(empty.path(), true).unwrap().1.lost.is_some(), "disk data without a journal");
    }

    #[test]
    fn a_damaged_log_record_is_lost_state() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (mut j, _) = Journal::open(d, false).unwrap();
        j.mark_complete().unwrap();
        for r in [add("/a", 1), purge(1), add("/b", 2)] {
            j.append(&r).unwrap();
        }
        drop(j);
        let seg = segment_path(d, 1);
        let mut data = fs::read(&seg).unwrap();
        let mid = data.len() / 2;
        data[mid] ^= 0x01;
        fs::write(&seg, &data).unwrap();
        let (_j, rec) = Journal::open(d, true).unwrap();
        assert!(rec.lost.as_deref().is_some_and(|w| w.contains("damaged log")), "{:?}", rec.lost);
    }

    /// Found by `fuzz/fuzz_targets/disk_formats.rs`: a segment named with
    /// the largest number (or a snapshot covering it) made the next segment
    /// number overflow: a panic in debug builds, and in release a wrap to
    /// segment 0, whose records a later start would replay first. Now the
    /// state counts as lost (the edge starts degraded) and nothing wraps.
    #[test]
    fn segment_numbers_at_the_end_of_u64_are_lost_state_not_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(segment_path(d, u64::MAX), b"").unwrap();
        let (j, rec) = Journal::open(d, false).unwrap();
        assert!(rec.lost.is_some() && j.segment == u64::MAX, "{:?} {}", rec.lost, j.segment);
        drop(j);
        for e in fs::read_dir(d).unwrap() {
            fs::remove_file(e.unwrap().path()).unwrap();
        }
        let h = Header { covers: u64::MAX, ..Default::default() };
        fs::write(d.join(SNAPSHOT), encode_snapshot(&h, std::iter::empty())).unwrap();
        let (j, rec) = Journal::open(d, false).unwrap();
        assert!(rec.lost.is_some() && j.segment == u64::MAX, "{:?} {}", rec.lost, j.segment);
        drop(j);
        for e in fs::read_dir(d).unwrap() {
            fs::remove_file(e.unwrap().path()).unwrap();
        }
        fs::write(segment_path(d, u64::MAX - 1), b"").unwrap();
        let (mut j, _) = Journal::open(d, false).unwrap();
        assert!(j.rotate().is_err(), "no segment after the last number");
    }
}
