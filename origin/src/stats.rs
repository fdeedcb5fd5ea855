//! Counters of the public listener: requests, responses by status, bytes
//! at the socket (from [`runtime::metered::Traffic`]), per-path request counts
//! for tests, and the Prometheus rendering of it all.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Public requests received.
pub const REQUESTS_TOTAL: &str = "cdnlab_origin_requests_total";
/// Bytes written to clients at the socket (heads and bodies).
pub const BYTES_OUT_TOTAL: &str = "cdnlab_origin_bytes_out_total";
/// Bytes read from clients at the socket.
pub const BYTES_IN_TOTAL: &str = "cdnlab_origin_bytes_in_total";
/// Connections accepted on the public listener.
pub const CONNECTIONS_TOTAL: &str = "cdnlab_origin_connections_total";
/// Responses by status code (label `code`).
pub const RESPONSES_TOTAL: &str = "cdnlab_origin_responses_total";
/// 304 responses.
pub const NOT_MODIFIED_TOTAL: &str = "cdnlab_origin_not_modified_total";
/// 206 responses.
pub const PARTIAL_TOTAL: &str = "cdnlab_origin_partial_total";
/// Responses replaced by an injected error (error rate or `status` outage).
pub const ERRORS_INJECTED_TOTAL: &str = "cdnlab_origin_errors_injected_total";
/// Connections closed without a response by the `reset` outage.
pub const RESETS_TOTAL: &str = "cdnlab_origin_resets_total";
/// Requests held by the `hang` outage.
pub const HANGS_TOTAL: &str = "cdnlab_origin_hangs_total";
/// Bytes of generated bodies held in memory.
pub const BODY_CACHE_BYTES: &str = "cdnlab_origin_body_cache_bytes";

/// Statuses tracked: 100..=599.
const CODES: usize = 500;

/// Live counters.
#[derive(Debug)]
pub struct Stats {
    requests: AtomicU64,
    codes: Box<[AtomicU64]>,
    not_modified: AtomicU64,
    partial: AtomicU64,
    errors_injected: AtomicU64,
    resets: AtomicU64,
    hangs: AtomicU64,
    paths: Mutex<HashMap<String, u64>>,
    max_paths: usize,
    untracked: AtomicU64,
}

pub use api::origin::StatsSnapshot;

/// Socket-level and cache numbers that live outside [`Stats`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra {
    /// Bytes out at the socket.
    pub bytes_out: u64,
    /// Bytes in at the socket.
    pub bytes_in: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Body cache counters.
    pub cache: crate::catalog::CacheCounts,
}

impl Stats {
    /// Counters that remember per-path counts for up to `max_paths` paths.
    pub fn new(max_paths: usize) -> Self {
        Self {
            requests: AtomicU64::new(0),
            codes: (0..CODES).map(|_| AtomicU64::new(0)).collect(),
            not_modified: AtomicU64::new(0),
            partial: AtomicU64::new(0),
            errors_injected: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            hangs: AtomicU64::new(0),
            paths: Mutex::new(HashMap::new()),
            max_paths,
            untracked: AtomicU64::new(0),
        }
    }

    /// Counts a public request to `path`.
    pub fn request(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut paths = self.paths.lock();
        if let Some(n) = paths.get_mut(path) {
            *n += 1;
        } else if paths.len() < self.max_paths {
            paths.insert(path.to_string(), 1);
        } else {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a response status.
    pub fn response(&self, status: u16) {
        if let Some(c) = status.checked_sub(100).and_then(|i| self.codes.get(i as usize)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        match status {
            304 => self.not_modified.fetch_add(1, Ordering::Relaxed),
            206 => self.partial.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// Counts an injected error (its status is counted by [`Stats::response`]).
    pub fn injected(&self) {
        self.errors_injected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reset connection.
    pub fn reset(&self) {
        self.resets.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a hung request.
    pub fn hang(&self) {
        self.hangs.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted for `path` (0 if never seen or not tracked).
    pub fn requests_for(&self, path: &str) -> u64 {
        self.paths.lock().get(path).copied().unwrap_or(0)
    }

    /// A copy of every counter.
    pub fn snapshot(&self, extra: Extra) -> StatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut responses = BTreeMap::new();
        let mut by_class: BTreeMap<String, u64> = BTreeMap::new();
        for (i, c) in self.codes.iter().enumerate() {
            let n = load(c);
            if n > 0 {
                let code = i as u16 + 100;
                responses.insert(code, n);
                *by_class.entry(format!("{}xx", code / 100)).or_default() += n;
            }
        }
        StatsSnapshot {
            requests: load(&self.requests),
            bytes_out: extra.bytes_out,
            bytes_in: extra.bytes_in,
            connections: extra.connections,
            responses,
            responses_by_class: by_class,
            not_modified: load(&self.not_modified),
            partial: load(&self.partial),
            errors_injected: load(&self.errors_injected),
            resets: load(&self.resets),
            hangs: load(&self.hangs),
            body_cache_bytes: extra.cache.bytes,
            body_cache_hits: extra.cache.hits,
            body_cache_misses: extra.cache.misses,
            paths_tracked: self.paths.lock().len() as u64,
            paths_untracked: load(&self.untracked),
        }
    }
}

/// `snap` in the Prometheus text exposition (version 0.0.4).
pub fn prometheus(snap: &StatsSnapshot) -> String {
    let mut s = String::with_capacity(2048);
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    counter(REQUESTS_TOTAL, "Public requests received.", snap.requests);
    counter(BYTES_OUT_TOTAL, "Bytes written to public clients at the socket.", snap.bytes_out);
    counter(BYTES_IN_TOTAL, "Bytes read from public clients at the socket.", snap.bytes_in);
    counter(CONNECTIONS_TOTAL, "Public connections accepted.", snap.connections);
    counter(NOT_MODIFIED_TOTAL, "304 responses.", snap.not_modified);
    counter(PARTIAL_TOTAL, "206 responses.", snap.partial);
    counter(ERRORS_INJECTED_TOTAL, "Injected error responses.", snap.errors_injected);
    counter(RESETS_TOTAL, "Connections closed without a response by the reset outage.", snap.resets);
    counter(HANGS_TOTAL, "Requests held by the hang outage.", snap.hangs);
    let _ = writeln!(s, "# HELP {RESPONSES_TOTAL} Public responses by status code.\n# TYPE {RESPONSES_TOTAL} counter");
    for (code, n) in &snap.responses {
        let _ = writeln!(s, "{RESPONSES_TOTAL}{{code=\"{code}\"}} {n}");
    }
    let _ = writeln!(
        s,
        "# HELP {BODY_CACHE_BYTES} Bytes of generated bodies held in memory.\n# TYPE {BODY_CACHE_BYTES} gauge\n{BODY_CACHE_BYTES} {}",
        snap.body_cache_bytes
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_counted_by_code_and_class() {
        let s = Stats::new(10);
        for code in [200, 200, 304, 206, 503, 99, 600] {
            s.response(code);
        }
        let snap = s.snapshot(Extra::default());
        assert_eq!(snap.responses.get(&200), Some(&2));
        assert_eq!(snap.responses_by_class.get("2xx"), Some(&3));
        assert_eq!((snap.not_modified, snap.partial), (1, 1));
        let text = prometheus(&snap);
        assert!(text.contains("cdnlab_origin_responses_total{code=\"200\"} 2"), "{text}");
        assert!(text.contains("cdnlab_origin_requests_total 0"));
    }

    #[test]
    fn the_path_map_is_bounded() {
        let s = Stats::new(2);
        for p in ["/a", "/b", "/c", "/a"] {
            s.request(p);
        }
        assert_eq!((s.requests_for("/a"), s.requests_for("/c")), (2, 0));
        let snap = s.snapshot(Extra::default());
        assert_eq!((snap.requests, snap.paths_tracked, snap.paths_untracked), (4, 2, 1));
    }

    #[test]
    fn the_snapshot_round_trips_through_json() {
        let s = Stats::new(2);
        s.response(200);
        let snap = s.snapshot(Extra { bytes_out: 5, ..Extra::default() });
        let back: StatsSnapshot = serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
        assert_eq!(back, snap);
    }
}
