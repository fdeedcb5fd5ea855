//! What the edge reads back from its disk: the purge journal and snapshot
//! (`edge/src/purge/log.rs`: framed records, then `Journal::open` on a
//! directory and the replay into the purge index in `Purger::open`), and
//! stored cache entries (`edge/src/entry.rs`, foyer's `Code::decode`).
//!
//! The first byte picks what the rest is:
//! - 0: a journal file as it is (checksums mostly wrong: torn tails);
//! - 1: record payloads, each framed with a correct length and checksum,
//!   so the record decoder itself is reached; decoded records must
//!   re-encode to the same records;
//! - 2: a journal directory (a snapshot and up to three segments, framed
//!   as in 1 when the second byte is even), opened and replayed as an
//!   edge does at start (`Purger::open`, which starts degraded on lost
//!   state rather than refusing);
//! - 3: a stored entry (behind a valid magic number when the second byte
//!   is even); a decoded entry must re-encode to the same bytes.
//!
//! Properties: never a panic, never an allocation the data does not pay
//! for (libFuzzer's -rss_limit_mb and -malloc_limit_mb catch that).
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use edge::entry::CacheValue;
use edge::purge::Purger;
use edge::purge::log::{crc32, decode_all};
use edge::store::StoreConfig;
use foyer::Code;
use libfuzzer_sys::fuzz_target;

const ENTRY_MAGIC: u32 = 0xCD1A_B002;

/// Frames `[len u16][payload]…` chunks as journal records with correct checksums.
fn framed(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        let p = &data[2..2 + n];
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&crc32(p).to_le_bytes());
        out.extend_from_slice(p);
        data = &data[2 + n..];
    }
    out
}

fn records(data: &[u8]) {
    let (recs, _) = decode_all(data);
    let mut again = Vec::new();
    for r in &recs {
        r.encode(&mut again);
    }
    let (back, bad) = decode_all(&again);
    assert_eq!(bad, None, "our own encoding does not decode");
    assert_eq!(back, recs, "records do not survive a round trip");
}

fn dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("cdnlab-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fn journal(frame: bool, data: &[u8]) {
    let root = dir();
    let jdir = root.join("purge");
    let _ = std::fs::remove_dir_all(&jdir);
    std::fs::create_dir_all(&jdir).expect("journal dir");
    // Files are separated by 0xFE 0xFE; the first is the snapshot (absent
    // when empty), the rest segments; a segment's first byte picks its number.
    let mut parts = split2(data).into_iter();
    let fix = |b: &[u8]| if frame { framed(b) } else { b.to_vec() };
    if let Some(s) = parts.next()
        && !s.is_empty()
    {
        std::fs::write(jdir.join("snapshot"), fix(s)).expect("write");
    }
    for seg in parts.take(3) {
        let Some((&n, body)) = seg.split_first() else { continue };
        let n: u64 = match n {
            0xF0..=0xFF => u64::MAX - u64::from(n & 0x0F),
            _ => u64::from(n),
        };
        std::fs::write(jdir.join(format!("log-{n:010}")), fix(body)).expect("write");
    }
    let c = StoreConfig {
        name: "fuzz".into(),
        memory: 1 << 20,
        disk: 1 << 20,
        max_object: 1 << 16,
        write_buffer: 1 << 20,
        eviction: Default::default(),
        promotion: Default::default(),
        disk_slice: 0,
        dir: root.to_path_buf(),
        body_file: false,
    };
    // A start after a clean stop and a first start; the journal's clock
    // near the present.
    let _ = Purger::open(&c, 1_800_000_000_000, false);
    let _ = Purger::open(&c, 1_800_000_000_000, true);
}

fn split2(d: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < d.len() {
        if d[i] == 0xFE && d[i + 1] == 0xFE {
            out.push(&d[start..i]);
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&d[start..]);
    out
}

fn entry(data: &[u8]) {
    let Ok(v) = CacheValue::decode(&mut &data[..]) else { return };
    let mut a = Vec::new();
    v.encode(&mut a).expect("encode");
    let w = CacheValue::decode(&mut &a[..]).expect("our own encoding decodes");
    let mut b = Vec::new();
    w.encode(&mut b).expect("encode");
    assert_eq!(a, b, "stored entries do not survive a round trip");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => records(rest),
        1 => records(&framed(rest)),
        2 => {
            let Some((&how, rest)) = rest.split_first() else { return };
            journal(how % 2 == 0, rest);
        }
        _ => {
            let Some((&how, rest)) = rest.split_first() else { return };
            if how % 2 == 0 {
                let mut v = ENTRY_MAGIC.to_le_bytes().to_vec();
                v.extend_from_slice(rest);
                entry(&v);
            } else {
                entry(rest);
            }
        }
    }
});
