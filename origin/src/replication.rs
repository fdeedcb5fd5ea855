//! The replicated origin's state: this site's role (primary or replica),
//! its epoch, its change log, the changes received and not yet due, and
//! its *position* (the header every answer carries, [`ORIGIN_SEQ`]).
//!
//! Every write (a bump, an upload to `/echo/`) goes through
//! [`Replication::write`]: only a primary that has checked its peers
//! takes it, and a writer may name the epoch it believes in
//! (`/bump?epoch=N`), refused when it is not this origin's (fencing). A
//! replica receives the primary's log ([`Replication::receive`], from
//! `crate::follow`) and applies each change `lag` after the primary took
//! it, on the world clock ([`Replication::apply_due`]). Promotion makes a
//! replica the primary of a new, higher epoch; a primary that learns of a
//! higher epoch becomes a replica of it and rebuilds its state from the
//! new primary's log (its own writes since are lost: asynchronous
//! replication, said in docs/topology.md).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::origin::{Change, Changes, ReplicationStatus, position};
use parking_lot::Mutex;

pub use api::origin::ORIGIN_SEQ;

use crate::versions::{Bump, BumpError, Bumped, Versions};

/// Most changes one `/changes` answer carries.
pub const PAGE: usize = 1000;
/// Most changes a log holds (bumps are bounded too: `versions`).
pub const MAX_LOG: usize = 1_000_000;

/// How this origin site takes part in replication.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationConfig {
    /// Whether the world replicates its origin at all (the position
    /// header is sent only then).
    pub replicated: bool,
    /// This site's region (its name).
    pub region: String,
    /// The admin address of the primary to follow; `None`: this site
    /// starts as the primary.
    pub follow: Option<SocketAddr>,
    /// The other sites' admin addresses (region, address).
    pub peers: Vec<(String, SocketAddr)>,
    /// How long after the primary took it a replica applies a change.
    pub lag: Duration,
    /// Promote after the primary has been silent this long × (rank + 1)
    /// (`None`: manual promotion only).
    pub promote_after: Option<Duration>,
    /// This replica's place among the replicas (0: first to promote).
    pub rank: u32,
    /// Time between polls of the primary's log (wall clock: the
    /// transport, not the model; the lag is on the world clock).
    pub poll: Duration,
    /// Time between checks of the peers' epochs, and their timeout.
    pub check_interval: Duration,
    /// A peer that does not answer within this is taken as down.
    pub check_timeout: Duration,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            replicated: false,
            region: "origin".into(),
            follow: None,
            peers: Vec::new(),
            lag: Duration::ZERO,
            promote_after: None,
            rank: 0,
            poll: Duration::from_millis(50),
            check_interval: Duration::from_secs(1),
            check_timeout: Duration::from_millis(500),
        }
    }
}

/// Why a write was refused (409 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// This site is a replica.
    #[error("read-only replica `{region}` (epoch {epoch}): writes go to the primary{}", hint(.following))]
    Replica {
        /// This site.
        region: String,
        /// Its epoch.
        epoch: u64,
        /// The primary it follows.
        following: Option<SocketAddr>,
    },
    /// A primary that has not yet checked that no peer holds a higher epoch.
    #[error("primary `{0}` is checking its peers' epochs before it takes writes; try again")]
    Checking(String),
    /// The writer named another epoch.
    #[error("fenced: the write names epoch {claimed}, this primary's is {epoch}")]
    Fenced {
        /// The writer's.
        claimed: u64,
        /// This origin's.
        epoch: u64,
    },
    /// The bump itself is refused.
    #[error(transparent)]
    Bump(#[from] BumpError),
    /// The log is full.
    #[error("the change log is full ({MAX_LOG} changes)")]
    Full,
}

fn hint(following: &Option<SocketAddr>) -> String {
    following.map(|f| format!(" (its admin: {f})")).unwrap_or_default()
}

/// Replication state of one origin site (one owner: the origin's state).
#[derive(Debug)]
pub struct Replication {
    cfg: ReplicationConfig,
    position: AtomicU64,
    writable: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    primary: bool,
    epoch: u64,
    following: Option<SocketAddr>,
    /// Changes applied here, in order.
    log: Vec<Change>,
    /// Received, not yet due.
    pending: VecDeque<Change>,
    /// The primary's last sequence as last seen.
    head_seen: u64,
    /// When (world clock, Unix ms) the primary last answered.
    last_contact_ms: u64,
    /// Ask the primary for its whole log next, and rebuild from it.
    resync: bool,
    resyncs: u64,
    writes_refused: u64,
}

impl Inner {
    fn last_seq(&self) -> u64 {
        self.pending.back().or(self.log.last()).map_or(0, |c| c.seq)
    }

    fn applied(&self) -> u64 {
        self.log.last().map_or(0, |c| c.seq)
    }

    /// The position this site may claim: a primary, everything of its
    /// epoch it has; a replica that has applied all its primary had at
    /// last contact, the primary's epoch; otherwise the epoch of its last
    /// change.
    fn position(&self) -> u64 {
        let applied = self.applied();
        let caught_up = self.primary || (self.pending.is_empty() && applied >= self.head_seen);
        let epoch = if caught_up { self.epoch } else { self.log.last().map_or(0, |c| c.epoch) };
        position(epoch, applied)
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl Replication {
    /// A site as configured: a primary of epoch 1 (writable at once when
    /// it has no peers to check), or a replica with nothing applied.
    pub fn new(cfg: ReplicationConfig, now_ms: u64) -> Replication {
        let primary = cfg.follow.is_none();
        let inner = Inner {
            primary,
            epoch: 1,
            following: cfg.follow,
            log: Vec::new(),
            pending: VecDeque::new(),
            head_seen: 0,
            last_contact_ms: now_ms,
            resync: false,
            resyncs: 0,
            writes_refused: 0,
        };
        let r = Replication {
            writable: AtomicBool::new(primary && cfg.peers.is_empty()),
            position: AtomicU64::new(inner.position()),
            inner: Mutex::new(inner),
            cfg,
        };
        r.publish(&r.inner.lock());
        r
    }

    /// Its configuration.
    pub fn config(&self) -> &ReplicationConfig {
        &self.cfg
    }

    /// The position sent in [`ORIGIN_SEQ`] (lock-free: the request path
    /// reads it before it reads a version, so the version is at least as
    /// new as the position says).
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    fn publish(&self, g: &Inner) {
        self.position.store(g.position(), Ordering::Release);
    }

    /// Whether this site is the primary now.
    pub fn is_primary(&self) -> bool {
        self.inner.lock().primary
    }

    /// Its epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.lock().epoch
    }

    /// The primary it follows (a replica).
    pub fn following(&self) -> Option<SocketAddr> {
        let g = self.inner.lock();
        (!g.primary).then_some(g.following).flatten()
    }

    /// The sequence to ask the primary's log after (0 when resyncing).
    pub fn ask_after(&self) -> u64 {
        let g = self.inner.lock();
        if g.resync { 0 } else { g.last_seq() }
    }

    /// A write: on the primary, applied and logged; refused elsewhere.
    pub fn write(
        &self,
        versions: &Versions,
        b: &Bump,
        now: SystemTime,
        claimed: Option<u64>,
    ) -> Result<Bumped, WriteError> {
        let mut g = self.inner.lock();
        let refused = if !g.primary {
            Some(WriteError::Replica { region: self.cfg.region.clone(), epoch: g.epoch, following: g.following })
        } else if !self.writable.load(Ordering::Acquire) {
            Some(WriteError::Checking(self.cfg.region.clone()))
        } else if let Some(c) = claimed.filter(|c| *c != g.epoch) {
            Some(WriteError::Fenced { claimed: c, epoch: g.epoch })
        } else if g.log.len() >= MAX_LOG {
            Some(WriteError::Full)
        } else {
            None
        };
        if let Some(e) = refused {
            g.writes_refused += 1;
            return Err(e);
        }
        let done = versions.bump(b, now)?;
        let at_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let seq = g.applied() + 1;
        let epoch = g.epoch;
        g.log.push(Change { seq, epoch, bump: b.clone(), at_ms });
        g.head_seen = seq;
        self.publish(&g);
        Ok(done)
    }

    /// Its log after `after`, one page.
    pub fn changes(&self, after: u64) -> Changes {
        let g = self.inner.lock();
        let start = (after as usize).min(g.log.len());
        let epoch_at_after = if after == 0 { 0 } else { g.log.get(after as usize - 1).map_or(0, |c| c.epoch) };
        Changes {
            epoch: g.epoch,
            primary: g.primary,
            epoch_at_after,
            head: g.applied(),
            started: 0,
            changes: g.log[start..].iter().take(PAGE).cloned().collect(),
        }
    }

    /// Takes a page of the primary's log (answered to [`Replication::ask_after`]),
    /// then applies what is due. A log that does not continue this one
    /// (another epoch at our last change, or shorter than ours) makes the
    /// next ask a resync from the start.
    pub fn receive(&self, versions: &Versions, c: Changes, now_ms: u64) {
        let mut g = self.inner.lock();
        if g.primary {
            return;
        }
        g.last_contact_ms = now_ms;
        g.epoch = g.epoch.max(c.epoch);
        g.head_seen = c.head;
        if g.resync {
            // The whole log from the start: rebuild in one step.
            let lag = self.cfg.lag.as_millis() as u64;
            let (due, later): (Vec<Change>, Vec<Change>) = c.changes.into_iter().partition(|x| x.at_ms + lag <= now_ms);
            if let Err(e) = versions.rebuild(due.iter().map(|x| (&x.bump, at(x.at_ms)))) {
                tracing::warn!(error = %e, "resync: a change of the primary's log was refused");
            }
            g.log = due;
            g.pending = later.into();
            g.resync = false;
            g.resyncs += 1;
            tracing::info!(region = %self.cfg.region, epoch = g.epoch, applied = g.applied(), "resynced from the primary's log");
        } else {
            let last = g.last_seq();
            let ours = if last == 0 { 0 } else { g.pending.back().or(g.log.last()).map_or(0, |x| x.epoch) };
            if c.head < last || (last > 0 && c.epoch_at_after != ours) {
                tracing::warn!(region = %self.cfg.region, last, head = c.head, "the primary's log does not continue ours: resyncing");
                g.resync = true;
                return;
            }
            for x in c.changes {
                if x.seq == g.last_seq() + 1 {
                    g.pending.push_back(x);
                }
            }
        }
        self.apply_locked(&mut g, versions, now_ms);
    }

    /// Applies every received change that is due by `now_ms`.
    pub fn apply_due(&self, versions: &Versions, now_ms: u64) {
        let mut g = self.inner.lock();
        self.apply_locked(&mut g, versions, now_ms);
    }

    fn apply_locked(&self, g: &mut Inner, versions: &Versions, now_ms: u64) {
        let lag = self.cfg.lag.as_millis() as u64;
        while g.pending.front().is_some_and(|x| x.at_ms + lag <= now_ms) {
            let Some(x) = g.pending.pop_front() else { break };
            if let Err(e) = versions.bump(&x.bump, at(x.at_ms)) {
                tracing::warn!(error = %e, seq = x.seq, "a change of the primary's log was refused");
            }
            g.log.push(x);
        }
        self.publish(g);
    }

    /// Milliseconds (world clock) since the primary last answered.
    pub fn silent_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.inner.lock().last_contact_ms)
    }

    /// Becomes the primary of epoch `epoch` (above every epoch it knows
    /// of): every change it received is applied now, and writes resume
    /// here. Changes the old primary took and never sent are lost.
    pub fn promote(&self, versions: &Versions, epoch: u64) -> Result<u64, String> {
        let mut g = self.inner.lock();
        if g.primary {
            return Err(format!("`{}` is the primary already (epoch {})", self.cfg.region, g.epoch));
        }
        let epoch = epoch.max(g.epoch + 1);
        while let Some(x) = g.pending.pop_front() {
            if let Err(e) = versions.bump(&x.bump, at(x.at_ms)) {
                tracing::warn!(error = %e, seq = x.seq, "a change was refused at promotion");
            }
            g.log.push(x);
        }
        g.primary = true;
        g.epoch = epoch;
        g.following = None;
        g.resync = false;
        g.head_seen = g.applied();
        self.writable.store(true, Ordering::Release);
        self.publish(&g);
        tracing::warn!(region = %self.cfg.region, epoch, applied = g.applied(), "promoted to primary");
        Ok(epoch)
    }

    /// A peer is the primary of a higher epoch: follow it. A primary so
    /// fenced stops taking writes and rebuilds from the new primary's log.
    pub fn follow(&self, primary: SocketAddr, epoch: u64, now_ms: u64) {
        let mut g = self.inner.lock();
        if epoch < g.epoch || (epoch == g.epoch && g.primary) {
            return;
        }
        if g.primary {
            tracing::warn!(region = %self.cfg.region, old = g.epoch, epoch, %primary, "fenced: a peer is primary of a higher epoch; following it");
            g.resync = true;
        }
        self.writable.store(false, Ordering::Release);
        g.primary = false;
        g.epoch = epoch;
        g.following = Some(primary);
        g.last_contact_ms = now_ms;
        self.publish(&g);
    }

    /// A primary has checked its peers: it takes writes from now on.
    pub fn peers_checked(&self) {
        if self.inner.lock().primary {
            self.writable.store(true, Ordering::Release);
        }
    }

    /// Its state for `/replication` and `cdn stats`.
    pub fn status(&self, now_ms: u64) -> ReplicationStatus {
        let g = self.inner.lock();
        ReplicationStatus {
            region: self.cfg.region.clone(),
            role: if g.primary { "primary" } else { "replica" }.into(),
            epoch: g.epoch,
            position: g.position(),
            applied: g.applied(),
            head: g.head_seen,
            pending: g.pending.len() as u64,
            lag_ms: g.pending.front().map_or(0, |x| now_ms.saturating_sub(x.at_ms)),
            following: (!g.primary).then(|| g.following.map(|f| f.to_string())).flatten(),
            primary_silent_ms: (!g.primary).then(|| now_ms.saturating_sub(g.last_contact_ms)),
            writable: g.primary && self.writable.load(Ordering::Acquire),
            resyncs: g.resyncs,
            writes_refused: g.writes_refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SystemTime {
        at(ms)
    }

    fn replica(lag_ms: u64) -> Replication {
        let cfg = ReplicationConfig {
            replicated: true,
            follow: Some("127.0.0.1:9".parse().unwrap()),
            lag: Duration::from_millis(lag_ms),
            ..ReplicationConfig::default()
        };
        Replication::new(cfg, 0)
    }

    fn primary() -> Replication {
        Replication::new(ReplicationConfig { replicated: true, ..ReplicationConfig::default() }, 0)
    }

    #[test]
    fn a_replica_applies_each_change_lag_after_the_primary_took_it() {
        let (p, pv) = (primary(), Versions::new(t(0)));
        let (r, rv) = (replica(2000), Versions::new(t(0)));
        p.write(&pv, &Bump::Path("/obj/7".into()), t(10_000), None).unwrap();
        assert_eq!(pv.of("/obj/7").n, 2);
        r.receive(&rv, p.changes(r.ask_after()), 10_500);
        assert_eq!((rv.of("/obj/7").n, r.status(10_500).pending), (1, 1), "not due before the lag");
        assert!(r.position() < p.position());
        r.apply_due(&rv, 11_999);
        assert_eq!(rv.of("/obj/7").n, 1);
        r.apply_due(&rv, 12_000);
        assert_eq!(rv.of("/obj/7").n, 2);
        assert_eq!(r.position(), p.position(), "caught up: the same position");
    }

    #[test]
    fn replicas_refuse_writes_and_a_fenced_primary_too() {
        let (r, v) = (replica(0), Versions::new(t(0)));
        assert!(matches!(r.write(&v, &Bump::Path("/a".into()), t(1), None), Err(WriteError::Replica { .. })));
        let p = primary();
        assert!(matches!(p.write(&v, &Bump::Path("/a".into()), t(1), Some(7)), Err(WriteError::Fenced { .. })));
        p.follow("127.0.0.1:10".parse().unwrap(), 2, 5);
        assert!(matches!(p.write(&v, &Bump::Path("/a".into()), t(1), None), Err(WriteError::Replica { .. })));
        assert_eq!(p.status(5).writes_refused, 2);
    }

    #[test]
    fn a_promoted_replica_takes_writes_in_a_higher_epoch_and_the_others_resync() {
        let (p, pv) = (primary(), Versions::new(t(0)));
        let (r, rv) = (replica(1000), Versions::new(t(0)));
        let (q, qv) = (replica(0), Versions::new(t(0)));
        p.write(&pv, &Bump::Path("/a".into()), t(100), None).unwrap();
        r.receive(&rv, p.changes(0), 200); // received, not due
        p.write(&pv, &Bump::Path("/a".into()), t(300), None).unwrap(); // never sent to r
        q.receive(&qv, p.changes(0), 350); // q has both
        assert_eq!(qv.of("/a").n, 3);
        let epoch = r.promote(&rv, 0).unwrap();
        assert_eq!((epoch, rv.of("/a").n), (2, 2), "what it received is applied at promotion");
        r.write(&rv, &Bump::Path("/b".into()), t(400), None).unwrap();
        assert!(r.position() > p.position(), "a later epoch is above every earlier position");
        // The old primary learns of epoch 2: fenced, it rebuilds from
        // the new primary's whole log.
        p.follow("127.0.0.1:11".parse().unwrap(), 2, 500);
        assert_eq!(p.ask_after(), 0, "a fenced primary resyncs from the start");
        p.receive(&pv, r.changes(0), 2000);
        assert_eq!((pv.of("/a").n, pv.of("/b").n), (2, 2), "its unsent write is gone");
        assert_eq!(p.position(), r.position());
        // A replica that applied the old primary's change 2 finds the new
        // log's change 2 is another (epoch 2): diverged, it resyncs.
        q.follow("127.0.0.1:11".parse().unwrap(), 2, 500);
        q.receive(&qv, r.changes(q.ask_after()), 2000);
        assert_eq!(q.ask_after(), 0, "diverged: the next ask is from the start");
        q.receive(&qv, r.changes(0), 2000);
        assert_eq!((qv.of("/a").n, qv.of("/b").n), (2, 2));
        assert_eq!((q.position(), q.status(2000).resyncs), (r.position(), 1));
    }
}
