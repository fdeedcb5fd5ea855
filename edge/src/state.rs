//! The state every request of one edge shares.

use std::sync::Arc;

use http::HeaderValue;
use world::{CacheRule, Clock};

use crate::admission::Admission;
use crate::fill::Fetched;
use crate::flight::Flights;
use crate::meter::Meter;
use crate::purge::Purging;
use crate::store::Store;
use crate::upstream::Upstream;

/// One edge's shared state.
pub struct EdgeState {
    /// Edge name (`seoul`).
    pub name: String,
    /// Region name, if the edge runs in a world.
    pub region: Option<String>,
    /// `edge-{name}`: this cache's name in `Cache-Status` and `Via`.
    pub label: String,
    /// `Via` value this edge adds (also in `hop`).
    pub via: HeaderValue,
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

    /// The caching rule for a path (longest prefix).
    pub fn rule(&self, path: &str) -> Option<&CacheRule> {
        self.rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
    }
}
