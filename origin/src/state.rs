//! The state every request of the origin shares: its configuration
//! checked, bodies, versions, faults and counters.

use std::io;
use std::sync::Arc;

use runtime::metered::Traffic;
use world::Clock;

use crate::Config;
use crate::catalog::BodyCache;
use crate::faults::FaultState;
use crate::files::Files;
use crate::replication::Replication;
use crate::rules::Rules;
use crate::stats::{Extra, Stats, StatsSnapshot};
use crate::versions::Versions;

/// Everything a request may touch.
#[derive(Debug)]
pub(crate) struct State {
    pub clock: Clock,
    pub catalog: world::config::Catalog,
    pub rules: Rules,
    pub bodies: BodyCache,
    pub versions: Versions,
    pub replication: Replication,
    pub files: Option<Files>,
    pub faults: FaultState,
    pub stats: Stats,
    pub admin_token: Option<String>,
    pub public_traffic: Arc<Traffic>,
    pub admin_traffic: Arc<Traffic>,
    /// How the public listener paces its clients (`runtime::pace`).
    pub pacing: runtime::pace::Pacing,
}

impl State {
    /// Checks the config and builds the state; the error says what is wrong.
    pub fn new(config: Config) -> io::Result<State> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let rules = Rules::new(&config.catalog.rules).map_err(invalid)?;
        let max = config.catalog.size.max.bytes();
        if max > crate::MAX_OBJECT_SIZE {
            return Err(invalid(format!(
                "catalog.size.max {} is above the origin's limit of {} (bodies are generated in memory)",
                config.catalog.size.max,
                world::ByteSize(crate::MAX_OBJECT_SIZE)
            )));
        }
        let files = match &config.root {
            Some(root) => Some(Files::new(root, config.stream_threshold)?),
            None => None,
        };
        let admin_token = config.admin_token.clone().filter(|t| !t.is_empty());
        Ok(State {
            versions: Versions::new(config.clock.now()),
            replication: Replication::new(config.replication.clone(), config.clock.unix_ms()),
            clock: config.clock,
            rules,
            bodies: BodyCache::new(config.body_cache_bytes),
            files,
            faults: FaultState::new(config.fault_seed),
            stats: Stats::new(config.max_tracked_paths),
            admin_token,
            public_traffic: Arc::new(Traffic::default()),
            admin_traffic: Arc::new(Traffic::default()),
            pacing: config.pacing,
            catalog: config.catalog,
        })
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let t = &self.public_traffic;
        self.stats.snapshot(Extra {
            bytes_out: t.out(),
            bytes_in: t.input(),
            connections: t.connections.load(std::sync::atomic::Ordering::Relaxed),
            cache: self.bodies.counts(),
        })
    }
}
