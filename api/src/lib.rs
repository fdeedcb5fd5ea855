//! The wire types of cdnlab's admin APIs, in one place: what the servers
//! serve and what the `cdn` CLI and its dashboard read, so that neither
//! side reaches into the other's internals.
//!
//! - [`edge`]: an edge's `/stats`, `/healthz` and `POST /purge`;
//! - [`purge`]: what a purge request means once checked ([`purge::PurgeSpec`]:
//!   its target normalised to the form the edge keys requests in, [`key`]),
//!   so the CLI refuses a bad purge exactly as an edge would;
//! - [`origin`]: the origin's `/stats`, `/faults` and `/bump`, and the
//!   URLs of its generated objects;
//! - [`geodns`]: the names of the GeoDNS metrics the dashboard reads.
//!
//! Plain data with serde and the few methods that only read it; the
//! servers own the state these are snapshots of, and the rules that check
//! what comes in (a purge's target is normalised by
//! [`purge::PurgeSpec::try_from`], faults by [`origin::Faults::validate`]).

pub mod edge;
pub mod geodns;
pub mod key;
pub mod origin;
pub mod purge;
