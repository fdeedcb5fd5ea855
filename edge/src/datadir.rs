//! Which origin an edge's data directory belongs to.
//!
//! A cache is only right for the origin that filled it: `/obj/2` of the
//! demo origin is not `/obj/2` of your server. So the data directory
//! records its origin (`origin.json`: the origin's address and the `Host`
//! the edge sends it) the first time an edge with a disk tier opens it,
//! and an edge for any other origin refuses to start on it, naming both
//! origins and the way out: `--fresh` empties the cache (disk tier and
//! purge journal; the admin token stays), or another `--data-dir`.
//! Refusing rather than silently emptying keeps a cache someone may want
//! back (switching back to the first origin finds it whole); a directory
//! holding cache files but no record (filled before origins were
//! recorded) is refused the same way, since whose objects they are cannot
//! be known. A *damaged* record (it carries a checksum, so a flipped bit
//! is told from another origin's record) is a fault, not a mistake: the
//! cache is emptied, as a damaged entry is dropped, and the edge starts.
//!
//! Every step runs with the directory's `LOCK` held ([`crate::store::lock_dir`]),
//! the same lock the store then keeps, so no other edge can fill or empty
//! the directory in between.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store;

/// The record's file name in the data directory.
pub const RECORD: &str = "origin.json";

/// An origin as far as a cache is concerned: where it is and the `Host`
/// it is sent (one server may answer several sites by `Host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `http://ADDR` of the origin.
    pub origin: String,
    /// The `Host` the edge sends it.
    pub host: String,
}

impl Owner {
    /// The owner of an edge's cache: its origin's address and `Host`.
    pub fn new(origin: std::net::SocketAddr, host: &str) -> Owner {
        Owner { origin: format!("http://{origin}"), host: host.to_string() }
    }

    fn checksum(&self) -> u32 {
        crate::purge::log::crc32(format!("{}\n{}", self.origin, self.host).as_bytes())
    }
}

/// The record as stored: the owner and a checksum, so a damaged record
/// (a flipped bit that still parses) is told from another origin's.
#[derive(Serialize, Deserialize)]
struct Record {
    origin: String,
    host: String,
    crc32: u32,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (Host {})", self.origin, self.host)
    }
}

/// Why an edge may not use a data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Filled from another origin.
    #[error(
        "data directory {dir} holds the cache of origin {theirs}, not of this edge's origin {ours}; its objects \
         are never served for another origin: start with --fresh to empty it (the admin token is kept), or give \
         this edge another --data-dir"
    )]
    OtherOrigin {
        /// The directory.
        dir: PathBuf,
        /// The origin that filled it.
        theirs: Owner,
        /// This edge's origin.
        ours: Owner,
    },
    /// Cache files, but no record of their origin.
    #[error(
        "data directory {dir} holds a cache but no record of the origin that filled it (written by an older \
         cdnlab, or {RECORD} removed), so it cannot be served for origin {ours}: start with --fresh to empty it \
         (the admin token is kept), or give this edge another --data-dir"
    )]
    Unrecorded {
        /// The directory.
        dir: PathBuf,
        /// This edge's origin.
        ours: Owner,
    },
    /// The record could not be read, written, or the cache emptied.
    #[error("data directory {dir}: {why}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        why: String,
    },
}

/// What [`claim`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The directory was this origin's already.
    Kept,
    /// Nothing was cached there; it is this origin's from now on.
    New,
    /// Its record was damaged (whose cache it is cannot be known), so its
    /// cache was emptied, as a damaged entry is dropped; it is this
    /// origin's from now on.
    Damaged,
    /// Its cache was emptied (`--fresh`); it is this origin's from now on.
    Emptied,
}

/// Makes `dir` the cache of `ours`, or says why not; `fresh` empties it
/// first. Call with the directory's `LOCK` held.
pub fn claim(dir: &Path, ours: &Owner, fresh: bool) -> Result<Claimed, DataDirError> {
    let io = |why: String| DataDirError::Io { dir: dir.to_path_buf(), why };
    let claimed = if fresh {
        if has_cache(dir) || dir.join(RECORD).exists() {
            empty(dir).map_err(io)?;
            Claimed::Emptied
        } else {
            Claimed::New
        }
    } else {
        match judge(dir, ours)? {
            Recorded::Owner(_) => return Ok(Claimed::Kept),
            Recorded::Damaged => {
                empty(dir).map_err(io)?;
                Claimed::Damaged
            }
            Recorded::None => Claimed::New,
        }
    };
    write(dir, ours).map_err(io)?;
    Ok(claimed)
}

/// Whether [`claim`] (without `fresh`) would refuse `dir` to `ours`, and
/// why, changing nothing and taking no lock: what `cdn up` asks of every
/// edge's directory before it starts any process, so a refusal names the
/// edge at once instead of surfacing as an edge that exited before it was
/// ready. The edge still claims the directory under its lock when it
/// starts (nothing can be decided for good without it).
pub fn check(dir: &Path, ours: &Owner) -> Result<(), DataDirError> {
    judge(dir, ours).map(|_| ())
}

/// What the record says, or the refusal: another origin's record, or a
/// cache with no record.
fn judge(dir: &Path, ours: &Owner) -> Result<Recorded, DataDirError> {
    let recorded = read(dir).map_err(|why| DataDirError::Io { dir: dir.to_path_buf(), why })?;
    match recorded {
        Recorded::Owner(theirs) if theirs != *ours => {
            Err(DataDirError::OtherOrigin { dir: dir.to_path_buf(), theirs, ours: ours.clone() })
        }
        Recorded::None if has_cache(dir) => {
            Err(DataDirError::Unrecorded { dir: dir.to_path_buf(), ours: ours.clone() })
        }
        r => Ok(r),
    }
}

/// Whether `dir` holds cache state: disk tier files or a purge journal.
fn has_cache(dir: &Path) -> bool {
    store::has_disk_data(dir) || dir.join(PURGE_DIR).exists()
}

/// The purge journal's directory ([`crate::purge`]).
const PURGE_DIR: &str = "purge";

/// What the record says.
#[derive(Debug, PartialEq)]
enum Recorded {
    /// No record.
    None,
    /// This origin's.
    Owner(Owner),
    /// Unreadable as a record, or its checksum does not match.
    Damaged,
}

/// The recorded owner.
fn read(dir: &Path) -> Result<Recorded, String> {
    let p = dir.join(RECORD);
    match std::fs::read(&p) {
        Ok(b) => Ok(match serde_json::from_slice::<Record>(&b) {
            Ok(r) => {
                let owner = Owner { origin: r.origin, host: r.host };
                if owner.checksum() == r.crc32 { Recorded::Owner(owner) } else { Recorded::Damaged }
            }
            Err(_) => Recorded::Damaged,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Recorded::None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Writes the record (a new file renamed over the old one, synced).
fn write(dir: &Path, owner: &Owner) -> Result<(), String> {
    let p = dir.join(RECORD);
    let tmp = dir.join(format!("{RECORD}.tmp"));
    let record = Record { origin: owner.origin.clone(), host: owner.host.clone(), crc32: owner.checksum() };
    let text = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    res.map_err(|e| format!("{}: {e}", p.display()))
}

/// Removes the cache (disk tier files, purge journal) and the record;
/// keeps everything else (`LOCK`, the admin token).
fn empty(dir: &Path) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("cannot empty: {}: {e}", p.display());
    for e in std::fs::read_dir(dir).map_err(|e| err(dir, e))?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if store::is_disk_file(&name) || name == RECORD {
            std::fs::remove_file(e.path()).map_err(|x| err(&e.path(), x))?;
        }
    }
    let purge = dir.join(PURGE_DIR);
    match std::fs::remove_dir_all(&purge) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(&purge, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(port: u16, host: &str) -> Owner {
        Owner::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)), host)
    }

    fn fill(dir: &Path) {
        std::fs::write(dir.join("foyer-storage-direct-fs-00000001"), b"block").unwrap();
        std::fs::create_dir_all(dir.join(PURGE_DIR)).unwrap();
        std::fs::write(dir.join(PURGE_DIR).join("log-0000000001"), b"x").unwrap();
        std::fs::write(dir.join(runtime::auth::TOKEN_FILE), b"secret").unwrap();
    }

    #[test]
    fn an_empty_directory_becomes_its_first_origins_and_stays_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = owner(3000, "127.0.0.1:3000");
        assert_eq!(claim(dir.path(), &a, false).unwrap(), Claimed::New);
        fill(dir.path());
        assert_eq!(claim(dir.path(), &a, false).unwrap(), Claimed::Kept);
        assert_eq!(read(dir.path()).unwrap(), Recorded::Owner(a));
    }

    #[test]
    fn another_origin_or_another_host_is_refused_naming_both_and_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let a = owner(8080, "127.0.0.1:8080");
        claim(dir.path(), &a, false).unwrap();
        fill(dir.path());
        for b in [owner(3000, "127.0.0.1:3000"), owner(8080, "www.example")] {
            let e = claim(dir.path(), &b, false).unwrap_err().to_string();
            assert!(e.contains(&a.to_string()) && e.contains(&b.to_string()), "{e}");
            assert!(e.contains("--fresh") && e.contains("--data-dir"), "{e}");
        }
        assert!(dir.path().join("foyer-storage-direct-fs-00000001").exists(), "a refusal removes nothing");
        assert_eq!(read(dir.path()).unwrap(), Recorded::Owner(a), "and keeps the record");
    }

    /// `check` refuses exactly what `claim` refuses, and changes nothing.
    #[test]
    fn check_refuses_what_claim_refuses_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (owner(8080, "127.0.0.1:8080"), owner(3000, "127.0.0.1:3000"));
        assert!(check(dir.path(), &a).is_ok(), "an empty directory");
        fill(dir.path());
        assert!(matches!(check(dir.path(), &a), Err(DataDirError::Unrecorded { .. })));
        std::fs::remove_file(dir.path().join("foyer-storage-direct-fs-00000001")).unwrap();
        std::fs::remove_dir_all(dir.path().join(PURGE_DIR)).unwrap();
        claim(dir.path(), &a, false).unwrap();
        fill(dir.path());
        assert!(check(dir.path(), &a).is_ok());
        let e = check(dir.path(), &b).unwrap_err();
        assert!(matches!(&e, DataDirError::OtherOrigin { theirs, ours, .. } if *theirs == a && *ours == b), "{e}");
        assert_eq!(read(dir.path()).unwrap(), Recorded::Owner(a), "the record is untouched");
        assert!(has_cache(dir.path()), "and so is the cache");
    }

    #[test]
    fn fresh_empties_the_cache_keeps_the_token_and_records_the_new_origin() {
        let dir = tempfile::tempdir().unwrap();
        claim(dir.path(), &owner(8080, "127.0.0.1:8080"), false).unwrap();
        fill(dir.path());
        let b = owner(3000, "127.0.0.1:3000");
        assert_eq!(claim(dir.path(), &b, true).unwrap(), Claimed::Emptied);
        assert!(!has_cache(dir.path()), "disk tier files and purge journal gone");
        assert_eq!(std::fs::read(dir.path().join(runtime::auth::TOKEN_FILE)).unwrap(), b"secret");
        assert_eq!(read(dir.path()).unwrap(), Recorded::Owner(b.clone()));
        assert_eq!(claim(dir.path(), &b, false).unwrap(), Claimed::Kept);
    }

    #[test]
    fn a_cache_without_a_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path());
        let a = owner(3000, "127.0.0.1:3000");
        let e = claim(dir.path(), &a, false).unwrap_err();
        assert!(matches!(e, DataDirError::Unrecorded { .. }), "{e}");
        assert!(e.to_string().contains("--fresh"), "{e}");
        assert!(has_cache(dir.path()), "a refusal removes nothing");
        assert_eq!(claim(dir.path(), &a, true).unwrap(), Claimed::Emptied, "--fresh is the way out");
    }

    /// A damaged record (a flipped bit, whether it still parses or not)
    /// is a fault, not another origin: the cache is dropped, as a damaged
    /// entry is, and the edge starts.
    #[test]
    fn a_damaged_record_empties_the_cache_instead_of_refusing() {
        let a = owner(8080, "127.0.0.1:8080");
        let text = {
            let dir = tempfile::tempdir().unwrap();
            claim(dir.path(), &a, false).unwrap();
            std::fs::read(dir.path().join(RECORD)).unwrap()
        };
        for at in 0..text.len() {
            let dir = tempfile::tempdir().unwrap();
            let mut flipped = text.clone();
            flipped[at] ^= 0x02;
            std::fs::write(dir.path().join(RECORD), &flipped).unwrap();
            fill(dir.path());
            let got = claim(dir.path(), &a, false);
            // Whitespace flips that JSON ignores leave the record whole.
            match read(dir.path()).unwrap() {
                Recorded::Owner(o) if o == a => {}
                r => panic!("byte {at}: {r:?} after {got:?}"),
            }
            match got.unwrap() {
                Claimed::Kept => assert!(has_cache(dir.path()), "byte {at}"),
                Claimed::Damaged => assert!(!has_cache(dir.path()), "byte {at}: cache emptied"),
                c => panic!("byte {at}: {c:?}"),
            }
        }
    }
}
