//! The wire types of cdnlab's admin APIs, in one place: what the servers
//! serve and what the `cdn` CLI and its dashboard read, so that neither
//! side reaches into the other's internals.
//!
//! - [`edge`]: an edge's `/stats`, `/healthz` and `POST /purge`;
//! - [`origin`]: the origin's `/stats`, `/faults` and `/bump`.
//!
//! Plain data with serde and the few methods that only read it; the
//! servers own the state these are snapshots of, and the rules that check
//! what comes in (a purge's target is normalised by the edge's
//! `PurgeSpec::try_from`, faults by [`origin::Faults::validate`]).

pub mod edge;
pub mod origin;
