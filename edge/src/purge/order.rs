//! Purge order across tiers: the highest *world* purge sequence this edge
//! has applied. A purge's world sequence is the control bus's log sequence
//! when the edge follows a bus, else the `seq` the sender put in the
//! request (`cdn purge` stamps one, ordered by its start: docs/topology.md).
//! Per-edge counters (the journal's `seq`) differ between edges; this one
//! is the same number at every node, so two tiers can compare it.
//!
//! The rule (design note, "Purge order across tiers"): a fill from a lower
//! tier carries what it has applied (`CDN-Purge-Seq`); an upper tier that
//! has applied less waits for it ([`PurgeOrder::caught_up`]), and if it
//! does not come in time answers without its cache. So an edge never
//! refills a purged object from a shield that has not processed the purge.
//!
//! Kept in `{data_dir}/purge-seq` (written, then renamed, before the purge
//! is acknowledged), so a restarted shield does not claim less than it has
//! applied (it would answer every fill without its cache until the next
//! purge) and a restarted edge does not claim less either (its shield
//! could serve it what its purges removed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

pub use crate::headers::PURGE_SEQ;

/// The highest world purge sequence applied here.
pub struct PurgeOrder {
    applied: watch::Sender<u64>,
    file: Option<PathBuf>,
    /// The sequence in `file`: writes take turns under this lock, and
    /// never put a lower sequence after a higher one (two purges applied
    /// at once would otherwise share the temporary file, and the lower
    /// one's rename could land last).
    kept: parking_lot::Mutex<u64>,
    /// The highest sequence waited for in vain: a later fill that needs
    /// it (or less) is answered without the cache at once, not after
    /// another wait (the purge may never come: sent to the edges only).
    missed: std::sync::atomic::AtomicU64,
}

impl PurgeOrder {
    /// Reads what was applied before from `dir` (none: memory only, 0).
    pub fn open(dir: Option<&Path>) -> PurgeOrder {
        let file = dir.map(|d| d.join("purge-seq"));
        let before = file
            .as_deref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        PurgeOrder {
            applied: watch::channel(before).0,
            file,
            kept: parking_lot::Mutex::new(before),
            missed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The highest world sequence applied.
    #[inline]
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Records that the purge with world sequence `seq` is applied (kept
    /// on disk first, when the edge has a data directory).
    pub fn applied_now(&self, seq: u64) {
        if seq <= self.applied() {
            return;
        }
        if let Some(f) = &self.file {
            let mut kept = self.kept.lock();
            if seq > *kept {
                match write_atomically(f, seq) {
                    Ok(()) => *kept = seq,
                    Err(e) => tracing::warn!(file = %f.display(), error = %e, "purge sequence not persisted"),
                }
            }
        }
        self.applied.send_if_modified(|a| {
            let moved = seq > *a;
            *a = (*a).max(seq);
            moved
        });
    }

    /// Whether `seq` is applied here, waiting up to `wait` for it (not
    /// again for a sequence already waited for in vain).
    pub async fn caught_up(&self, seq: u64, wait: Duration) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.applied() >= seq {
            return true;
        }
        if seq <= self.missed.load(Relaxed) {
            return false;
        }
        let mut rx = self.applied.subscribe();
        let came = tokio::time::timeout(wait, rx.wait_for(|a| *a >= seq)).await.is_ok_and(|r| r.is_ok());
        if !came {
            self.missed.fetch_max(seq, Relaxed);
        }
        came
    }
}

fn write_atomically(f: &Path, seq: u64) -> std::io::Result<()> {
    let tmp = f.with_extension("tmp");
    std::fs::write(&tmp, format!("{seq}\n"))?;
    std::fs::rename(&tmp, f)
}

/// The value of a `CDN-Purge-Seq` field, if it is one (digits only).
pub fn parse(v: &http::HeaderValue) -> Option<u64> {
    let s = v.to_str().ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_applied_sequence_only_grows_survives_a_restart_and_wakes_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let o = PurgeOrder::open(Some(dir.path()));
        assert_eq!(o.applied(), 0);
        o.applied_now(7);
        o.applied_now(3);
        assert_eq!(o.applied(), 7);
        assert!(o.caught_up(7, Duration::ZERO).await);
        assert!(!o.caught_up(8, Duration::from_millis(20)).await);
        // waited for in vain once: not waited for again
        let again = tokio::time::timeout(Duration::from_secs(5), o.caught_up(8, Duration::from_secs(30))).await;
        assert_eq!(again.ok(), Some(false), "a second wait for a purge that did not come");
        let o = std::sync::Arc::new(o);
        let w = tokio::spawn({
            let o = o.clone();
            async move { o.caught_up(9, Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        o.applied_now(9);
        assert!(w.await.unwrap());
        assert_eq!(PurgeOrder::open(Some(dir.path())).applied(), 9, "read back after a restart");
    }

    /// Purges applied at once (admin requests on several workers) each
    /// persist their sequence: the file must end with the highest.
    #[test]
    fn purges_applied_at_once_persist_the_highest_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let o = PurgeOrder::open(Some(dir.path()));
        let (threads, each) = (8u64, 300u64);
        std::thread::scope(|s| {
            for t in 0..threads {
                let o = &o;
                s.spawn(move || (0..each).for_each(|i| o.applied_now(i * threads + t + 1)));
            }
        });
        assert_eq!(o.applied(), threads * each);
        assert_eq!(PurgeOrder::open(Some(dir.path())).applied(), threads * each, "the file went back");
    }

    #[test]
    fn only_digits_are_a_purge_sequence() {
        let v = |s: &'static str| http::HeaderValue::from_static(s);
        assert_eq!(parse(&v("42")), Some(42));
        for bad in ["", "-1", "4 2", "0x10", "99999999999999999999999"] {
            assert_eq!(parse(&v(bad)), None, "{bad}");
        }
    }
}
