//! Helpers for cdnlab's end-to-end tests: a scriptable origin, edges on
//! ephemeral ports with throw-away data directories, an HTTP client,
//! reserved ports, and waiting for a condition instead of sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod echo;
pub mod net;
pub mod prom;
pub mod raw;
pub mod scripted;

use std::net::SocketAddr;
use std::time::Duration;

use sha2::Digest;
use tempfile::TempDir;

pub use echo::{EchoOrigin, NaiveOrigin};
pub use raw::{RawConn, RawResponse};
pub use scripted::{Gate, Reply, ScriptedOrigin};

/// How long a test waits for a condition before it fails: far longer than
/// anything takes on an idle machine, so a loaded one (two cores shared
/// with compilers and other test runs) does not fail a correct test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `cond` every 10 ms until it holds; panics naming `what` after
/// [`PATIENCE`]. For conditions a test cannot be told about directly (a
/// counter another task bumps, a background refresh landing).
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An edge in this process, with its data directory.
pub struct TestEdge {
    /// The running edge.
    pub handle: edge::Handle,
    /// Its data directory (deleted on drop).
    pub dir: TempDir,
    /// The configuration it was started with (to restart it).
    pub config: edge::Config,
}

impl TestEdge {
    /// URL of `path` on the edge.
    pub fn url(&self, path: &str) -> String {
        self.handle.url(path)
    }

    /// Stops the edge (flushing its cache) and starts it again on the same
    /// data directory and addresses.
    pub async fn restart(self) -> TestEdge {
        let TestEdge { handle, dir, mut config } = self;
        config.listen = handle.public;
        config.admin = handle.admin;
        handle.shutdown().await.expect("edge shut down cleanly");
        let handle = edge::spawn(config.clone()).await.expect("edge restarts");
        TestEdge { handle, dir, config }
    }
}

/// Starts an edge in front of `origin` (standalone config, 16 MiB memory,
/// 64 MiB disk in a temporary directory), after `tweak`.
pub async fn start_edge(origin: SocketAddr, tweak: impl FnOnce(&mut edge::Config)) -> TestEdge {
    let dir = tempfile::tempdir().expect("temp dir");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = edge::Config::standalone(origin, any, any, dir.path().join("cache"));
    config.name = "test".into();
    config.store.memory = 16 << 20;
    config.store.disk = 64 << 20;
    config.store.max_object = 4 << 20;
    config.origin_timeout = Duration::from_secs(5);
    tweak(&mut config);
    let handle = edge::spawn(config.clone()).await.expect("edge starts");
    TestEdge { handle, dir, config }
}

/// Starts an edge like [`start_edge`] whose clock stands still until the
/// test advances it (returned beside the edge).
pub async fn start_edge_manual_clock(
    origin: SocketAddr,
    tweak: impl FnOnce(&mut edge::Config),
) -> (TestEdge, world::Clock) {
    let clock = world::Clock::manual(std::time::SystemTime::now());
    let c = clock.clone();
    let e = start_edge(origin, move |cfg| {
        cfg.clock = c;
        tweak(cfg);
    })
    .await;
    (e, clock)
}

/// IMF-fixdate of `clock`'s now plus `offset_secs` (may be negative).
pub fn http_date(clock: &world::Clock, offset_secs: i64) -> String {
    let now = clock.now();
    let t = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    world::clock::httpdate_fmt(t)
}

/// An HTTP client that never uses a proxy and never follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A header as a string ("" when absent).
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// `sha-256=:base64:` of bytes (RFC 9530 Content-Digest).
pub fn content_digest(body: &[u8]) -> String {
    use base64::Engine;
    format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body)))
}
