//! What the origin's admin listener speaks: `GET /stats`
//! ([`StatsSnapshot`]), `/faults` ([`Faults`], changed with a
//! [`FaultsPatch`]), and `POST /bump` ([`Bump`] in, [`Bumped`] out); and
//! the paths of its generated objects, `/obj/{id}` and `/t/{key}/{size}`
//! (trace objects, which `cdn run` requests when it replays a trace).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The id of a catalog path `/obj/{id}`: canonical decimal only (`/obj/07`
/// and `/obj/+7` are not `/obj/7`). `rest` is the path after `/obj/`.
pub fn parse_id(rest: &str) -> Option<u64> {
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok()
}

/// Largest trace object (`/t/{key}/{size}`): clients choose the size, and
/// bodies are generated in memory, so it is kept well below
/// the origin's largest object (`origin::MAX_OBJECT_SIZE`).
pub const TRACE_MAX_SIZE: u64 = 32 * 1024 * 1024;

/// The path of trace object `key` of `size` bytes.
pub fn trace_path(key: u64, size: u64) -> String {
    format!("/t/{key}/{size}")
}

/// `(key, size)` of a trace path `/t/{key}/{size}`: canonical decimals,
/// 1 ≤ size ≤ [`TRACE_MAX_SIZE`]. `rest` is the path after `/t/`.
pub fn parse_trace_path(rest: &str) -> Option<(u64, u64)> {
    let (key, size) = rest.split_once('/')?;
    let (key, size) = (parse_id(key)?, parse_id(size)?);
    (1..=TRACE_MAX_SIZE).contains(&size).then_some((key, size))
}

/// Longest latency that may be injected.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// An outage mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outage {
    /// No outage.
    #[default]
    Off,
    /// Accept and close the connection at once, without a response.
    Reset,
    /// Never answer (until the origin stops).
    Hang,
    /// Answer 503 to every public request.
    Status,
}

impl Outage {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outage::Off => "off",
            Outage::Reset => "reset",
            Outage::Hang => "hang",
            Outage::Status => "status",
        }
    }
}

/// The faults in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added before every public response (simulated milliseconds).
    pub latency_ms: u64,
    /// Fraction (0..=1) of public requests answered `error_status`.
    pub error_rate: f64,
    /// Status of injected errors (4xx or 5xx).
    pub error_status: u16,
    /// Outage mode.
    pub outage: Outage,
    /// Flip a byte in every 200 body while keeping its `Content-Digest`
    /// (for testing integrity checks: every client must notice).
    pub corrupt: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self { latency_ms: 0, error_rate: 0.0, error_status: 503, outage: Outage::Off, corrupt: false }
    }
}

impl Faults {
    /// Checks the values; the error says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.error_rate.is_finite() && (0.0..=1.0).contains(&self.error_rate)) {
            return Err(format!("error_rate {} must be between 0 and 1", self.error_rate));
        }
        if !(400..=599).contains(&self.error_status) {
            return Err(format!("error_status {} must be a 4xx or 5xx status", self.error_status));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!("latency_ms {} is above the {MAX_LATENCY_MS} ms limit", self.latency_ms));
        }
        Ok(())
    }

    /// The added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// A change to the faults in force (`POST /faults`): fields given replace
/// the current ones, fields left out stay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// New `latency_ms`.
    pub latency_ms: Option<u64>,
    /// New `error_rate`.
    pub error_rate: Option<f64>,
    /// New `error_status`.
    pub error_status: Option<u16>,
    /// New `outage`.
    pub outage: Option<Outage>,
    /// New `corrupt`.
    pub corrupt: Option<bool>,
}

impl FaultsPatch {
    /// `base` with this patch applied.
    pub fn apply(&self, base: Faults) -> Faults {
        Faults {
            latency_ms: self.latency_ms.unwrap_or(base.latency_ms),
            error_rate: self.error_rate.unwrap_or(base.error_rate),
            error_status: self.error_status.unwrap_or(base.error_status),
            outage: self.outage.unwrap_or(base.outage),
            corrupt: self.corrupt.unwrap_or(base.corrupt),
        }
    }
}

/// What to bump: JSON `{"path": "/obj/7"}` or `{"prefix": "/obj/"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Bump {
    /// One path.
    Path(String),
    /// Every path starting with this prefix.
    Prefix(String),
}

/// What a bump did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bumped {
    /// The path bumped, for an exact bump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The prefix bumped, for a prefix bump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The path's version now, for an exact bump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// How many times this path or prefix has been bumped.
    pub bumps: u64,
    /// When (Unix seconds of the world clock): the new `Last-Modified`.
    pub at: u64,
}

/// A copy of the counters (`GET /stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Public requests received (every method, faulted ones included).
    pub requests: u64,
    /// Bytes written to public clients, at the socket.
    pub bytes_out: u64,
    /// Bytes read from public clients, at the socket.
    pub bytes_in: u64,
    /// Public connections accepted.
    pub connections: u64,
    /// Responses by status code.
    pub responses: BTreeMap<u16, u64>,
    /// Responses by class (`"2xx"` …).
    pub responses_by_class: BTreeMap<String, u64>,
    /// 304 responses.
    pub not_modified: u64,
    /// 206 responses.
    pub partial: u64,
    /// Injected error responses.
    pub errors_injected: u64,
    /// Connections reset by the `reset` outage.
    pub resets: u64,
    /// Requests held by the `hang` outage.
    pub hangs: u64,
    /// Bytes of generated bodies held in memory.
    pub body_cache_bytes: u64,
    /// Body cache lookups that found the body.
    pub body_cache_hits: u64,
    /// Body cache lookups that generated it.
    pub body_cache_misses: u64,
    /// Distinct paths counted.
    pub paths_tracked: u64,
    /// Requests to paths not counted because the path map was full.
    pub paths_untracked: u64,
}

/// Response header of every origin answer in a replicated world: the
/// origin's *position*, the last change of the primary's log it has
/// applied ([`position`]). An edge compares it with the position the
/// last purge asked for (docs/topology.md, "Replicated origin").
pub const ORIGIN_SEQ: &str = "cdn-origin-seq";

/// Bits of a position that hold the change sequence; the epoch is above.
pub const SEQ_BITS: u32 = 40;

/// The position of change `seq` written in `epoch`: positions of a later
/// epoch are above every position of an earlier one, so a floor taken
/// from a primary that has since been replaced is met by the new one.
pub fn position(epoch: u64, seq: u64) -> u64 {
    (epoch << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
}

/// `(epoch, seq)` of a position.
pub fn split_position(p: u64) -> (u64, u64) {
    (p >> SEQ_BITS, p & ((1 << SEQ_BITS) - 1))
}

/// One write on the primary's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its place in the log, from 1.
    pub seq: u64,
    /// The primary's epoch when it took the write.
    pub epoch: u64,
    /// The write.
    pub bump: Bump,
    /// When the primary took it (Unix milliseconds of the world clock):
    /// a replica applies it `replication_lag` later.
    pub at_ms: u64,
}

/// `GET /changes?after=N` on an origin: its log after `N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The answering origin's epoch.
    pub epoch: u64,
    /// Whether it is the primary (a replica answers too, for a peer that
    /// looks for the newest log).
    pub primary: bool,
    /// The epoch of its change `N` (0 when `N` is 0 or beyond its log):
    /// a follower whose change `N` has another epoch diverged and resyncs.
    pub epoch_at_after: u64,
    /// Its last sequence.
    pub head: u64,
    /// Unix seconds its version 1 dates from (its start): a replica takes it.
    pub started: u64,
    /// The changes after `N`, oldest first (at most a page).
    pub changes: Vec<Change>,
}

/// `GET /replication` on an origin: its role, epoch and how far behind it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// The region of this origin site.
    pub region: String,
    /// `primary` or `replica`.
    pub role: String,
    /// The highest epoch it knows.
    pub epoch: u64,
    /// Its position ([`position`]) as sent in [`ORIGIN_SEQ`].
    pub position: u64,
    /// The last sequence it applied.
    pub applied: u64,
    /// The primary's last sequence as last seen (a primary: its own).
    pub head: u64,
    /// Changes received and not applied yet (waiting for the lag).
    pub pending: u64,
    /// Milliseconds (world clock) the oldest change not applied here has
    /// been on the primary; 0 when caught up with what it has seen.
    pub lag_ms: u64,
    /// The admin address of the primary it follows (a replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<String>,
    /// Milliseconds (world clock) since it last heard from its primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_silent_ms: Option<u64>,
    /// Whether it accepts writes now.
    pub writable: bool,
    /// Times it rebuilt its state from a primary's whole log (divergence).
    pub resyncs: u64,
    /// Writes refused (a replica, or a primary fenced by a higher epoch).
    pub writes_refused: u64,
}
