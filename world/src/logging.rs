//! Logging setup shared by every binary: `tracing` to stderr, filtered by
//! `RUST_LOG` (default `info`, foyer at `warn`), optionally as JSON lines;
//! colours only on a terminal.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = if json { builder.json().try_init() } else { builder.compact().try_init() };
}
