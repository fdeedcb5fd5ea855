//! What an edge knows about its own condition, for `/healthz`, `/stats`
//! and `/metrics`: whether its disk tier can write, whether every purge it
//! applied is persisted, and what start-up had to recover.
//!
//! An edge keeps serving when its disk fails (from memory, and through to
//! the origin), so `/healthz` still answers 200: its first line says `ok`
//! or `degraded`, the next lines say why. A disk write failure is logged
//! at most once per [`LOG_EVERY`] (with the count since the last line); its
//! recovery once.
//!
//! Disk write failures are counted by kind: `journal` (the purge journal,
//! written on every fill), `snapshot` (its compaction), `cache` (foyer's
//! own writes of the disk tier, which foyer only logs: counted from its log
//! lines, see [`runtime::logging::foyer_write_errors`], so only in a process
//! that installed the logger, as the `edge` binary does).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// At most one ERROR line about failing disk writes per this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(30);
/// Free space on the data directory's filesystem below which the disk
/// counts as full.
pub const LOW_SPACE: u64 = 1 << 20;

/// Kinds of disk writes counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A purge journal record (Add or Purge) or its fsync.
    Journal,
    /// A journal snapshot (compaction).
    Snapshot,
}

pub use api::edge::{DiskHealth, DiskState, HealthReport as Report};

#[derive(Default)]
struct Inner {
    /// Disk tier off: why (`None` with `off` set: configured memory only).
    off: Option<String>,
    /// Since when writes fail (or space is short), the last error, and
    /// whether it is only the lack of space.
    failing: Option<(Instant, String, bool)>,
    free: Option<u64>,
    unpersisted: u64,
    journal_off: Option<String>,
    /// Out of step with the control bus: why (docs/bus.md).
    bus: Option<String>,
    notes: Vec<String>,
    last_line: Option<Instant>,
    since_line: u64,
}

/// One edge's health.
pub struct Health {
    inner: Mutex<Inner>,
    has_disk: AtomicBool,
    /// Whether writes are failing now (the fast check on every journal write).
    failing: AtomicBool,
    journal_errors: AtomicU64,
    snapshot_errors: AtomicU64,
    dropped: AtomicU64,
    /// foyer's write errors in this process before this edge started.
    cache_base: u64,
}

impl Health {
    /// A healthy edge; `disk`: whether it has a disk tier.
    pub fn new(disk: bool) -> Health {
        Health {
            inner: Mutex::new(Inner::default()),
            has_disk: AtomicBool::new(disk),
            failing: AtomicBool::new(false),
            journal_errors: AtomicU64::new(0),
            snapshot_errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            cache_base: runtime::logging::foyer_write_errors(),
        }
    }

    /// The disk tier could not open: the edge runs from memory.
    pub fn disk_off(&self, why: String) {
        self.has_disk.store(false, Ordering::Relaxed);
        self.inner.lock().off = Some(why);
    }

    /// The purge journal could not be opened: purges are not persisted.
    pub fn journal_off(&self, why: String) {
        self.inner.lock().journal_off = Some(why);
    }

    /// Something start-up recovered, for `/healthz` until the next start.
    pub fn note(&self, n: String) {
        self.inner.lock().notes.push(n);
    }

    /// A disk write failed. Logs at most one line per [`LOG_EVERY`].
    pub fn write_failed(&self, kind: Write, err: &str) {
        match kind {
            Write::Journal => &self.journal_errors,
            Write::Snapshot => &self.snapshot_errors,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.failing.store(true, Ordering::Relaxed);
        let now = Instant::now();
        let mut g = self.inner.lock();
        match g.failing.as_mut() {
            None => g.failing = Some((now, err.to_string(), false)),
            Some((_, e, space)) => {
                e.clear();
                e.push_str(err);
                *space = false;
            }
        }
        g.since_line += 1;
        if g.last_line.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
            let n = std::mem::take(&mut g.since_line);
            g.last_line = Some(now);
            drop(g);
            tracing::error!(
                error = err,
                failures = n,
                "disk writes failing: new entries stay in memory only; purges apply but may not persist \
                 (at most one such line every {}s)",
                LOG_EVERY.as_secs()
            );
        }
    }

    /// A disk write succeeded: the disk writes again (when it was failing).
    #[inline]
    pub fn write_ok(&self) {
        if !self.failing.load(Ordering::Relaxed) {
            return;
        }
        let mut g = self.inner.lock();
        if g.free.is_some_and(|f| f < LOW_SPACE) {
            return;
        }
        if let Some((since, _, _)) = g.failing.take() {
            self.failing.store(false, Ordering::Relaxed);
            let failed = self.journal_errors.load(Ordering::Relaxed) + self.snapshot_errors.load(Ordering::Relaxed);
            g.last_line = None;
            g.since_line = 0;
            drop(g);
            tracing::info!(failing_for_s = since.elapsed().as_secs(), failed, "disk writes succeed again");
        }
    }

    /// Free space on the data directory's filesystem (from a periodic look).
    pub fn free_space(&self, free: u64) {
        let mut g = self.inner.lock();
        g.free = Some(free);
        let short = format!("{free} bytes free on the data directory's filesystem");
        match g.failing.as_mut() {
            None if free < LOW_SPACE => {
                g.failing = Some((Instant::now(), short, true));
                self.failing.store(true, Ordering::Relaxed);
            }
            Some((_, e, true)) if free < LOW_SPACE => *e = short,
            Some((_, _, true)) => {
                g.failing = None;
                self.failing.store(false, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Whether disk writes are failing now.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// A value read from disk was not in the purge index and was dropped.
    pub fn dropped_unindexed(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Purges applied but not persisted, now.
    pub fn set_unpersisted(&self, n: u64) {
        self.inner.lock().unpersisted = n;
    }

    fn cache_errors(&self) -> u64 {
        runtime::logging::foyer_write_errors().saturating_sub(self.cache_base)
    }

    /// The disk part of `/stats`.
    pub fn disk(&self) -> DiskHealth {
        let g = self.inner.lock();
        let (state, reason) = if !self.has_disk.load(Ordering::Relaxed) {
            (DiskState::Off, g.off.clone())
        } else if let Some((since, e, _)) = &g.failing {
            (DiskState::Failing, Some(format!("writes failing for {}s: {e}", since.elapsed().as_secs())))
        } else {
            (DiskState::Ok, None)
        };
        DiskHealth {
            state,
            reason,
            journal_write_errors: self.journal_errors.load(Ordering::Relaxed),
            snapshot_write_errors: self.snapshot_errors.load(Ordering::Relaxed),
            cache_write_errors: self.cache_errors(),
            free_bytes: g.free,
            unpersisted_purges: g.unpersisted,
            dropped_entries: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Out of step with the control bus (`Some(why)`), or back in step.
    /// Degraded, not down: the edge still serves (what it stored since).
    pub fn bus_step(&self, why: Option<String>) {
        self.inner.lock().bus = why;
    }

    /// `/healthz`.
    pub fn report(&self) -> Report {
        let d = self.disk();
        let g = self.inner.lock();
        let mut problems = Vec::new();
        match d.state {
            DiskState::Failing => problems.push(format!(
                "disk: {}; new entries stay in memory only",
                d.reason.as_deref().unwrap_or("writes failing")
            )),
            DiskState::Off => {
                if let Some(why) = &g.off {
                    problems.push(format!("disk tier off: {why}; serving from memory only"));
                }
            }
            DiskState::Ok => {}
        }
        if let Some(why) = &g.journal_off {
            problems.push(format!("purge journal unavailable ({why}): purges apply in memory but are not persisted"));
        }
        if g.unpersisted > 0 {
            problems.push(format!(
                "{} purge(s) applied but not persisted; until the journal is written again, a restart treats every \
                 disk entry stored before now as purged",
                g.unpersisted
            ));
        }
        if let Some(why) = &g.bus {
            problems.push(format!(
                "out of step with the control bus ({why}): serving only what it stored since, until it has applied \
                 every purge in the log"
            ));
        }
        Report {
            status: if problems.is_empty() { "ok".into() } else { "degraded".into() },
            problems,
            notes: g.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_degrade_until_a_write_succeeds_with_space_free() {
        let h = Health::new(true);
        assert_eq!(h.report().text(), "ok\n");
        h.write_failed(Write::Journal, "No space left on device (os error 28)");
        h.write_failed(Write::Journal, "No space left on device (os error 28)");
        let r = h.report();
        assert_eq!(r.status, "degraded");
        assert!(r.problems[0].contains("No space left on device"), "{r:?}");
        assert_eq!((h.disk().state, h.disk().journal_write_errors), (DiskState::Failing, 2));
        h.free_space(10);
        h.write_ok();
        assert_eq!(h.disk().state, DiskState::Failing, "still no space");
        h.free_space(LOW_SPACE * 4);
        h.write_ok();
        assert_eq!((h.disk().state, h.report().status.as_str()), (DiskState::Ok, "ok"));
        h.set_unpersisted(1);
        assert!(h.report().problems[0].contains("1 purge(s) applied but not persisted"));
    }

    #[test]
    fn a_full_filesystem_shows_without_any_write() {
        let h = Health::new(true);
        h.free_space(4096);
        assert_eq!(h.disk().state, DiskState::Failing);
        assert!(h.report().text().contains("4096 bytes free"), "{}", h.report().text());
        h.free_space(LOW_SPACE);
        assert_eq!(h.disk().state, DiskState::Ok, "space is back and no write failed");
        let off = Health::new(false);
        assert_eq!((off.disk().state, off.report().status.as_str()), (DiskState::Off, "ok"));
    }
}
