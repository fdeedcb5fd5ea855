//! The state every request of one edge shares: a struct of the owners
//! (store, purger, flights, upstream, admission, meter, health, the
//! responder), each with its own type and file. Its only methods are here,
//! and they lend parts to the modules that act on them: [`EdgeState::purging`]
//! to [`crate::purge`], [`EdgeState::fetcher`] to [`crate::fetch`].
//! (`tests/tests/structure.rs` checks that no other file adds methods.)

use std::sync::Arc;

use world::{CacheRule, Clock};

use crate::admission::Admission;
use crate::fetch::Fetcher;
use crate::fill::Fetched;
use crate::flight::Flights;
use crate::meter::Meter;
use crate::purge::Purging;
use crate::respond::Responder;
use crate::store::Store;
use crate::upstream::Upstream;

/// One edge's shared state.
pub struct EdgeState {
    /// Edge name (`seoul`).
    pub name: String,
    /// Region name, if the edge runs in a world.
    pub region: Option<String>,
    /// How the edge answers: its `Cache-Status` name, `Via`, its own errors.
    pub responder: Responder,
    /// How this edge names itself to the origin.
    pub hop: crate::headers::Hop,
    /// The clock.
    pub clock: Clock,
    /// The cache.
    pub store: Store,
    /// The origin client.
    pub upstream: Upstream,
    /// Origin fetches in progress, one per key.
    pub flights: Flights<Arc<Fetched>>,
    /// Counters.
    pub meter: Meter,
    /// Per-path caching rules from the world.
    pub rules: Vec<CacheRule>,
    /// Largest object stored whole.
    pub max_object: u64,
    /// Slice size for larger objects (0: stream them through uncached).
    pub slice_size: u64,
    /// Admin bearer token (`None`: the purge API is off).
    pub admin_token: Option<String>,
    /// Where it came from.
    pub token_source: crate::TokenSource,
    /// Disk faults, purge persistence, what start-up recovered.
    pub health: crate::health::Health,
    /// Purge index, journal and generations (see [`crate::purge`]).
    pub purge: crate::purge::Purger,
    // Cost and observability (crate::stats, crate::metrics).
    /// Prices of this edge's region.
    pub prices: world::price::Prices,
    /// Admission: which fills are stored.
    pub admission: Admission,
    /// Whether every request is logged.
    pub access_log: bool,
    /// Client connection limits (the public listener's).
    pub limits: runtime::serve::ConnLimits,
    /// Where `POST /purge` sends purges when the edge follows a control
    /// bus (`None`: applied here, by HTTP fan-out).
    pub relay: Option<std::sync::Arc<dyn crate::purge::relay::Relay>>,
    /// What-if caches fed this edge's requests (`None`: off, no work).
    pub shadow: Option<crate::shadow::Shadows>,
    /// The origin shield this edge fills from (`None`: the origin).
    pub shield: Option<crate::tier::Shield>,
    /// The sites of a replicated origin, nearest first (`None`: one origin).
    pub origins: Option<crate::origins::Origins>,
    /// The highest world purge sequence applied here (sent to the shield
    /// with every fill; compared with a lower tier's on the tier listener).
    pub order: crate::purge::order::PurgeOrder,
    /// As a shield: how long a lower tier's fill waits for a purge it has
    /// applied and this edge has not.
    pub catch_up: std::time::Duration,
    /// Whether this edge is a shield (serves a tier listener).
    pub is_shield: bool,
    /// The hashed PoP this edge is a node of (`None`: not one).
    pub cluster: Option<crate::cluster::Cluster>,
    /// How the public and tier listeners pace their clients (the network
    /// model on the wire, `runtime::pace`).
    pub pacing: runtime::pace::Pacing,
}

impl EdgeState {
    /// Now, Unix milliseconds on the edge's clock.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.clock.unix_ms()
    }

    /// The purger with the parts a purge acts on (see [`crate::purge`]).
    #[inline]
    pub fn purging(&self) -> Purging<'_, Arc<Fetched>> {
        Purging {
            purger: &self.purge,
            store: &self.store,
            flights: &self.flights,
            health: &self.health,
            clock: &self.clock,
            edge: &self.name,
        }
    }

    /// The parts an origin fetch uses (see [`crate::fetch`]).
    #[inline]
    pub fn fetcher(&self) -> Fetcher<'_> {
        Fetcher {
            upstream: &self.upstream,
            shield: self.shield.as_ref(),
            origins: self.origins.as_ref(),
            cluster: self.cluster.as_ref(),
            order: &self.order,
            purging: self.purging(),
            meter: &self.meter,
            admission: &self.admission,
            rules: &self.rules,
            label: &self.responder.label,
            via: &self.responder.via,
            max_object: self.max_object,
            slice_size: self.slice_size,
        }
    }
}
