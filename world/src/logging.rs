//! Logging setup shared by every binary: `tracing` to stderr, filtered by
//! `RUST_LOG` (default `info`, foyer at `warn`), optionally as JSON lines;
//! colours only on a terminal.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init(json: bool) {
    init_with_default(json, "info");
}

/// Like [`init`], with `default` as the filter when `RUST_LOG` is unset
/// (e.g. `info,hickory_server=warn` to keep a library's per-request logs
/// off the hot path).
pub fn init_with_default(json: bool, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = if json { builder.json().try_init() } else { builder.compact().try_init() };
}
