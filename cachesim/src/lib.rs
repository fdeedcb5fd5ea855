//! Offline cache models: what would a cache of this policy and this many
//! bytes have done on this trace? No sockets, no async: pure functions of
//! a request sequence, so `cdn replay` can run them on millions of
//! requests per second and a live edge can run the same code beside its
//! real cache (shadow caches keep metadata only).
//!
//! - [`trace`]: streaming readers (libCacheSim oracleGeneral, CSV with a
//!   column mapping, the Wikimedia 2019 CDN traces, cdnlab's access log)
//!   with located errors;
//! - [`Trace`]: a trace in memory, objects numbered densely;
//! - [`policy`]: LRU, FIFO, CLOCK, SIEVE, S3-FIFO, LFU, W-TinyLFU over a
//!   key → slot map ([`policy::Dense`] offline, [`policy::Hashed`] live);
//! - [`belady`]: Belady's MIN (the optimum for unit sizes);
//! - [`bound`]: PFOO-L, a lower bound on misses for variable sizes;
//! - [`mrc`]: the exact one-pass LRU miss-ratio curve;
//! - [`replay`]: one model at one capacity over a trace.
//!
//! The semantics shared by every model, and how they match libCacheSim,
//! are in `docs/traces.md`.

pub mod belady;
pub mod bound;
mod loaded;
pub mod mrc;
pub mod policy;
pub mod replay;
pub mod trace;

pub use loaded::{LoadStats, NEVER, Trace};
