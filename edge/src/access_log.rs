//! The access log: one structured line per request, off by default
//! (`access_log = true` in the world's `edge_defaults` or an `[[edge]]`, or
//! `edge --access-log`; the edge then logs as JSON lines).
//!
//! Lines are `tracing` events at `info` with target `cdnlab::access`, so
//! `RUST_LOG` filters them like any other log (`RUST_LOG=cdnlab::access=info`
//! keeps only them). Fields: `edge`, `client`, `method`, `path` (path and
//! query, as received), `status`, `outcome` (the `/stats` word),
//! `cache_status`, `bytes` (body bytes: exact for a buffered body, the
//! announced length of a stream, absent when unknown) and `duration_us`
//! (to the response head). With JSON logs (the edge binary switches to
//! them when the access log is on) a line reads:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","fields":{"message":"access","edge":"seoul","client":"127.1.0.9",
//!  "method":"GET","path":"/obj/1","status":200,"outcome":"hit","cache_status":"edge-seoul; hit; ttl=3599; detail=memory",
//!  "bytes":48122,"duration_us":41}}
//! ```

use std::time::Duration;

use http::{Method, Response, Uri};
use runtime::serve::Peer;

use crate::body::Body;
use crate::headers::CACHE_STATUS;
use crate::meter::Outcome;

/// The `tracing` target of access lines.
pub const TARGET: &str = "cdnlab::access";

/// What is known of a request when its response head is ready.
pub struct Line<'a> {
    /// The client.
    pub peer: Peer,
    /// Its method.
    pub method: &'a Method,
    /// Its target.
    pub uri: &'a Uri,
    /// What became of it.
    pub outcome: Outcome,
    /// Body bytes, when known.
    pub bytes: Option<u64>,
    /// Time to the response head.
    pub elapsed: Duration,
}

impl Line<'_> {
    /// Writes the line for response `r` of edge `edge`.
    pub fn emit(&self, edge: &str, r: &Response<Body>) {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let cache_status = r.headers().get(CACHE_STATUS).and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::info!(
            target: TARGET,
            edge,
            client = %self.peer.remote.ip(),
            method = self.method.as_str(),
            path,
            status = r.status().as_u16(),
            outcome = self.outcome.as_str(),
            cache_status,
            bytes = self.bytes,
            duration_us = self.elapsed.as_micros() as u64,
            "access"
        );
    }
}
