//! Where `POST /purge` sends a purge when the edge follows a control bus:
//! into the world's purge log, so that every edge applies it (this one
//! included, from the log), rather than here alone. The admin API and
//! `/stats` see the bus only through this trait; the bus side
//! ([`crate::control`]) implements it, so neither depends on the other.

use std::future::Future;
use std::pin::Pin;

use super::Purged;
use super::spec::{PurgeRequest, PurgeSpec};

/// A purge published to the log and applied here from it.
#[derive(Debug, Clone)]
pub struct PurgeRelayed {
    /// Its world-wide sequence in the purge log.
    pub bus_seq: u64,
    /// What it asked for.
    pub spec: PurgeSpec,
    /// What it did here.
    pub purged: Purged,
}

/// The bus as `/stats` shows it.
pub use api::edge::BusStatus as RelayStatus;

/// A future the relay returns (boxed: the trait is used as `dyn`).
pub type Relaying<'a> = Pin<Box<dyn Future<Output = Result<PurgeRelayed, String>> + Send + 'a>>;

/// The control bus, as the admin API and `/stats` use it.
pub trait Relay: Send + Sync {
    /// Appends `req` to the world's purge log; resolves once this edge has
    /// applied it from there. An error says why (the bus unreachable: the
    /// purge is not published, and the caller answers so, loudly).
    fn publish<'a>(&'a self, req: &'a PurgeRequest) -> Relaying<'a>;

    /// Where the edge stands with the bus.
    fn status(&self) -> RelayStatus;
}
