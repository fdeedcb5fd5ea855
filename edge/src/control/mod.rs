//! The edge's link to the control bus (NATS JetStream, the `bus` crate;
//! semantics in docs/bus.md). Off unless the edge is started with `--bus`:
//! then every purge comes from the world's purge log, in order, and the
//! edge says in the membership bucket that it is there.
//!
//! ```text
//! follow   purge feed (durable consumer node-<name>) ─▶ purge_many (journal, one fsync)
//!          ─▶ consumer ack ─▶ ack on cdnlab.<world>.ack.<seq>     applied sequence → /stats
//!          every lease/3: the log's last sequence L at t0; applied ≥ L ⇒ in step until t0 + lease
//! watchdog lease expired ⇒ out of step (EdgeState::lose_step): nothing stored before is served
//! beacon   every second: membership record (KV, TTL) and /stats on cdnlab.<world>.stats.<name>
//! publish  POST /purge on this edge (purge::relay::Relay): append to the log, answer once applied here
//! ```
//!
//! **In step.** The edge is *in step* while it can vouch that every purge
//! the log acknowledged more than `lease` ago is applied: it asked the log
//! for its last sequence at `t0`, applied everything up to it, and `t0` is
//! less than `lease` ago. Out of step (at start until caught up, after a
//! partition, with the bus gone) it keeps serving, but only what it stored
//! since it fell out of step, and goes to the origin for the rest
//! ([`crate::purge::Purging::lose_step`]); once caught up, the older
//! entries that no missed purge removed are served again.
//!
//! Nothing below depends on this module: `POST /purge` and `/stats` reach
//! the bus through [`crate::purge::relay::Relay`], which [`Link`] implements.

mod beacon;
mod follow;
mod publish;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use runtime::Shutdown;
use tokio::sync::watch;

use crate::purge::relay::{PurgeRelayed, Relay, RelayStatus, Relaying};
use crate::purge::spec::PurgeRequest;
use crate::state::EdgeState;

/// How an edge follows the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The world's name (names the stream, bucket and subjects).
    pub world: String,
    /// How long the edge stays in step after it last confirmed it.
    pub lease: Duration,
    /// At start, how long to wait to be in step before serving (then it
    /// serves out of step: only what it stores from then on).
    pub wait_at_start: Duration,
}

impl BusConfig {
    /// Following the bus at `url` for world `world`, default timings.
    pub fn new(url: &str, world: &str) -> BusConfig {
        BusConfig {
            url: url.into(),
            world: world.into(),
            lease: Duration::from_secs(3),
            wait_at_start: Duration::from_secs(3),
        }
    }
}

/// The edge's side of the bus, shared by its tasks and the admin API.
pub struct Link {
    /// The configuration.
    pub config: BusConfig,
    bus: OnceLock<bus::Bus>,
    /// Addresses actually bound (for the membership record).
    addrs: OnceLock<(SocketAddr, SocketAddr)>,
    base: Instant,
    /// In step until this many ms after `base` (0: not in step).
    in_step_until: AtomicU64,
    applied: watch::Sender<u64>,
    log_seq: AtomicU64,
    lost_state: AtomicU64,
    connected: AtomicBool,
    /// What the last purges did here, by sequence (for `POST /purge`).
    results: Mutex<VecDeque<PurgeRelayed>>,
}

/// Results kept for `POST /purge` to answer with.
const RESULTS_KEPT: usize = 1024;

impl Link {
    /// A link, not connected yet.
    pub fn new(config: BusConfig) -> Link {
        Link {
            config,
            bus: OnceLock::new(),
            addrs: OnceLock::new(),
            base: Instant::now(),
            in_step_until: AtomicU64::new(0),
            applied: watch::channel(0).0,
            log_seq: AtomicU64::new(0),
            lost_state: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            results: Mutex::new(VecDeque::new()),
        }
    }

    fn ms_since_base(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_millis() as u64 + 1
    }

    /// Whether the lease still holds.
    pub fn in_step(&self) -> bool {
        self.ms_since_base(Instant::now()) < self.in_step_until.load(Ordering::Acquire)
    }

    fn confirm(&self, t0: Instant) {
        self.in_step_until.store(self.ms_since_base(t0 + self.config.lease), Ordering::Release);
    }

    /// The last sequence applied here.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    fn set_applied(&self, seq: u64) {
        self.applied.send_if_modified(|a| {
            let moved = seq > *a;
            *a = (*a).max(seq);
            moved
        });
    }

    fn remember(&self, r: PurgeRelayed) {
        let mut g = self.results.lock();
        g.push_back(r);
        if g.len() > RESULTS_KEPT {
            g.pop_front();
        }
    }

    fn result(&self, seq: u64) -> Option<PurgeRelayed> {
        self.results.lock().iter().rev().find(|r| r.bus_seq == seq).cloned()
    }
}

impl Relay for Link {
    fn publish<'a>(&'a self, req: &'a PurgeRequest) -> Relaying<'a> {
        Box::pin(publish::publish_purge(self, req))
    }

    fn status(&self) -> RelayStatus {
        RelayStatus {
            url: self.config.url.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            in_step: self.in_step(),
            applied_seq: self.applied(),
            log_seq: self.log_seq.load(Ordering::Relaxed),
            lost_state: self.lost_state.load(Ordering::Relaxed),
        }
    }
}

/// Starts following the bus: connects (retrying in the background),
/// follows the purge log, keeps the lease, puts the membership record and
/// the stats. Returns when `stop` resolves (the record is removed then).
pub(crate) async fn run(st: Arc<EdgeState>, link: Arc<Link>, addrs: (SocketAddr, SocketAddr), mut stop: Shutdown) {
    let _ = link.addrs.set(addrs);
    let opts = bus::ConnectOptions { retry: true, ..Default::default() };
    let b = match bus::Bus::connect(&link.config.url, &link.config.world, &st.name, &opts).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(edge = %st.name, error = %e, "control bus unusable: this edge stays out of step");
            st.health.bus_step(Some(e.to_string()));
            return;
        }
    };
    let _ = link.bus.set(b.clone());
    let follower = tokio::spawn(follow::follow(st.clone(), link.clone(), b.clone()));
    let watchdog = tokio::spawn(watchdog(st.clone(), link.clone()));
    let beacon = tokio::spawn(beacon::beacon(st.clone(), link.clone(), b.clone()));
    stop.wait().await;
    follower.abort();
    watchdog.abort();
    beacon.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), beacon::leave(&st, &b)).await;
}

/// Marks the edge out of step when its lease runs out, and says so.
async fn watchdog(st: Arc<EdgeState>, link: Arc<Link>) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        link.connected.store(link.bus.get().is_some_and(|b| b.connected()), Ordering::Relaxed);
        if !link.in_step() && st.purging().lose_step() {
            let why = if link.connected.load(Ordering::Relaxed) {
                "the purge log has not been confirmed applied within the lease".to_string()
            } else {
                format!("the bus at {} is unreachable", link.config.url)
            };
            tracing::warn!(edge = %st.name, why, "out of step with the control bus: serving only what it stores from now on");
            st.health.bus_step(Some(why));
        }
    }
}

/// At start: waits (up to the configured time) until the edge is in step,
/// so a restarted edge serves its cache at once when the bus is there.
pub(crate) async fn wait_in_step(st: &EdgeState, link: &Link) {
    let until = Instant::now() + link.config.wait_at_start;
    while Instant::now() < until {
        if link.in_step() && !st.purge.out_of_step() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(
        edge = %st.name, bus = %link.config.url, waited = ?link.config.wait_at_start,
        "not in step with the control bus yet: serving only what it stores from now on until it is"
    );
}
