//! Logging setup shared by every binary: `tracing` to stderr, filtered by
//! `RUST_LOG` (default `info`, foyer at `warn`), optionally as JSON lines,
//! in colour only when stderr is a terminal.
//!
//! Libraries log per event: foyer one ERROR per failed disk write (a full
//! disk means one per fill), hickory one WARN per malformed EDNS option (a
//! client can send thousands a second). Their warnings and errors are
//! throttled here: at most one line per call site every
//! [`THROTTLE_INTERVAL`]; the others are counted ([`throttled`]), and the
//! servers report the condition themselves, rate-limited, in their health
//! and metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::{Level, Metadata, Subscriber, callsite};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, filter::FilterExt};

/// At most one line per library call site per this interval.
pub const THROTTLE_INTERVAL: Duration = Duration::from_secs(10);

/// Targets whose warnings and errors are throttled.
const THROTTLED: [&str; 2] = ["foyer", "hickory"];

static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
static FOYER_WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Library log lines suppressed by the throttle so far (this process).
pub fn throttled() -> u64 {
    SUPPRESSED.load(Ordering::Relaxed)
}

/// Errors foyer's disk writer logged so far (this process, shown or not):
/// failed writes of the disk tier.
pub fn foyer_write_errors() -> u64 {
    FOYER_WRITE_ERRORS.load(Ordering::Relaxed)
}

/// Installs the global subscriber once; later calls do nothing.
pub fn init(json: bool) {
    init_with_default(json, "info");
}

/// Like [`init`], with `default` as the filter when `RUST_LOG` is unset
/// (e.g. `info,hickory_server=warn` to keep a library's per-request logs
/// off the hot path).
pub fn init_with_default(json: bool, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a terminal: a log written to a file or a pipe (`cdn
    // up` reads its children's) must not carry escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi);
    let filter = filter.and(Throttle::default());
    let _ = if json {
        tracing_subscriber::registry().with(fmt.json().with_filter(filter)).try_init()
    } else {
        tracing_subscriber::registry().with(fmt.compact().with_filter(filter)).try_init()
    };
}

/// The per-call-site throttle of library warnings and errors.
#[derive(Default)]
pub struct Throttle {
    last: Mutex<HashMap<callsite::Identifier, Instant>>,
}

fn throttled_site(m: &Metadata<'_>) -> bool {
    m.is_event() && *m.level() <= Level::WARN && THROTTLED.iter().any(|t| m.target().starts_with(t))
}

impl Throttle {
    /// Whether an event at this call site may be logged now.
    pub fn admit(&self, m: &Metadata<'_>, now: Instant) -> bool {
        if !throttled_site(m) {
            return true;
        }
        if m.target().starts_with("foyer_storage::engine::block::flusher") && *m.level() == Level::ERROR {
            FOYER_WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
        let mut last = self.last.lock();
        match last.get(&m.callsite()) {
            Some(t) if now.duration_since(*t) < THROTTLE_INTERVAL => {
                SUPPRESSED.fetch_add(1, Ordering::Relaxed);
                false
            }
            _ => {
                last.insert(m.callsite(), now);
                true
            }
        }
    }
}

impl<S: Subscriber> Filter<S> for Throttle {
    fn enabled(&self, m: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.admit(m, Instant::now())
    }

    fn callsite_enabled(&self, m: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        if throttled_site(m) {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::always()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records which events a subscriber with the throttle lets through.
    #[test]
    fn library_warnings_are_throttled_per_call_site_and_ours_are_not() {
        use std::sync::Arc;
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Seen {
            fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                self.0.lock().push(e.metadata().target().to_string());
            }
        }
        let seen = Seen::default();
        let sub = tracing_subscriber::registry().with(seen.clone().with_filter(Throttle::default()));
        let before = throttled();
        tracing::subscriber::with_default(sub, || {
            for _ in 0..100 {
                tracing::warn!(target: "hickory_proto::rr::rdata::opt", "incomplete or poorly formatted EDNS options");
                tracing::warn!(target: "cdnlab::ours", "ours");
                tracing::info!(target: "foyer_storage::x", "info passes");
            }
        });
        let seen = seen.0.lock();
        let count = |t: &str| seen.iter().filter(|s| s.as_str() == t).count();
        assert_eq!(count("hickory_proto::rr::rdata::opt"), 1, "one line per interval");
        assert_eq!((count("cdnlab::ours"), count("foyer_storage::x")), (100, 100));
        assert!(throttled() - before >= 99);
    }
}
