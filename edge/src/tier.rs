//! Tiers: where a fill goes. An edge fills from its [`Upstream`] to the
//! origin, or, in a world with an origin shield, from the shield edge's
//! tier listener ([`Shield`]: an upstream with a health state and a
//! fallback), which fills from the origin. The same shape will hold a PoP
//! peer or an origin replica: an upstream with health.
//!
//! The shield's health is checked as GeoDNS checks edges, with the same
//! code ([`runtime::health`]): its admin `/healthz` every `interval`, down
//! after `fall` failures, up after `rise` successes. While it is down, or
//! when it refuses a connection, a fill goes to the origin directly if
//! `fallback` is on ([`Shield::route`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use runtime::health::{Checked, State, Thresholds};

use crate::upstream::Upstream;

/// How an edge reaches its shield (from the world's `[shield]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShieldConfig {
    /// The shield edge's name (`newyork`).
    pub name: String,
    /// Its tier listener, where fills go.
    pub listen: SocketAddr,
    /// Its admin address (`/healthz`).
    pub admin: SocketAddr,
    /// Modelled round trip to it.
    pub rtt: Duration,
    /// Fill from the origin while it is down.
    pub fallback: bool,
    /// Time between checks.
    pub interval: Duration,
    /// A slower check fails.
    pub timeout: Duration,
    /// Successes and failures in a row that change its state.
    pub thresholds: Thresholds,
}

/// The way to the shield: its upstream, its health, the fallback.
pub struct Shield {
    /// Its settings.
    pub config: ShieldConfig,
    /// Pool, modelled RTT, requests and errors to the shield.
    pub upstream: Upstream,
    /// Its health as this edge's checks see it.
    pub health: Checked,
    /// Fills sent to the origin instead because the shield was down or
    /// refused the connection.
    fallbacks: AtomicU64,
}

/// Where one fill goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the shield; on a refused connection, to the origin if `fallback`.
    Shield {
        /// Whether the origin may be tried when the shield cannot be reached.
        fallback: bool,
    },
    /// To the origin (no shield, or it is down and fallback is on).
    Origin,
}

impl Shield {
    /// The way to the shield of `config`, its upstream built by the caller.
    pub fn new(config: ShieldConfig, upstream: Upstream) -> Shield {
        Shield { config, upstream, health: Checked::default(), fallbacks: AtomicU64::new(0) }
    }

    /// Where a fill goes now: the shield unless it is known down and
    /// fallback is on (unknown counts as up: the first fills find out).
    pub fn route(&self) -> Route {
        match (self.health.state(), self.config.fallback) {
            (State::Down, true) => Route::Origin,
            (_, fallback) => Route::Shield { fallback },
        }
    }

    /// Counts a fill sent to the origin instead of the shield.
    pub fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Fills sent to the origin instead.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// One check of the shield's `/healthz`, recorded.
    pub async fn check(&self) {
        let t0 = std::time::Instant::now();
        let (ok, detail) = runtime::health::probe(self.config.admin, self.config.timeout).await;
        if let Some(new) = self.health.record(self.config.thresholds, ok, detail.clone(), t0.elapsed()) {
            let (name, admin) = (&self.config.name, self.config.admin);
            match new {
                State::Down if self.config.fallback => {
                    tracing::warn!(shield = %name, %admin, error = %detail, "shield is down: filling from the origin")
                }
                State::Down => tracing::warn!(shield = %name, %admin, error = %detail, "shield is down (no fallback)"),
                s => tracing::info!(shield = %name, %admin, "shield is {}", s.as_str()),
            }
        }
    }
}

/// Checks the shield (`shield_of(owner)`, if any) every `interval` until
/// `shutdown` fires.
pub async fn watch<S>(owner: std::sync::Arc<S>, shield_of: fn(&S) -> Option<&Shield>, mut shutdown: runtime::Shutdown) {
    let Some(shield) = shield_of(&owner) else { return };
    let mut tick = tokio::time::interval(shield.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => shield.check().await,
        }
    }
}
