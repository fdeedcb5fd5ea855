//! For tests (of this crate and of the crates that use the bus): a real
//! `nats-server` in a temporary directory on a free loopback port.
//!
//! Without `nats-server` installed a bus test is skipped with a message
//! saying how to install it, unless `CI` is set (`.ci/run` installs it):
//! then it fails, so CI never passes a bus test it did not run.

use crate::server::{INSTALL_HINT, NatsServer, ServerConfig, installed};

/// A running test server and its storage.
pub struct TestServer {
    /// The server.
    pub server: NatsServer,
    /// Its storage (removed on drop).
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// Starts a test server; `None` (the test should return) when nats-server
/// is not installed and `CI` is not set.
#[allow(clippy::expect_used, clippy::panic)]
pub async fn server(test: &str) -> Option<TestServer> {
    if !installed() {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: nats-server is not installed; {INSTALL_HINT}");
        }
        eprintln!("SKIPPED {test}: nats-server is not installed; {INSTALL_HINT}");
        return None;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = NatsServer::start(ServerConfig::ephemeral(dir.path())).await.expect("nats-server starts");
    Some(TestServer { server, dir })
}
