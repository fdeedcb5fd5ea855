//! What every cdnlab server runs on, apart from the world model: `world`
//! is pure (no sockets, no async), this crate holds the I/O the servers
//! share, so the servers depend on it and never on each other.
//!
//! - [`server`]: the one server shape (bind → `Bound` → `serve(shutdown)`
//!   → [`Handle`]) and the ready line;
//! - [`shutdown`]: the one way to stop a server ([`Stop`], [`Shutdown`]),
//!   and the signals a binary stops on;
//! - [`serve`]: the accept loop, connection limits, hyper connections;
//! - [`metered`]: bytes and connections counted at the socket;
//! - [`net`]: binding, connecting, vectored writes;
//! - [`pace`]: the network model applied on the wire (paced connections);
//! - [`time`]: sleeping on the world's clock;
//! - [`prom`]: Prometheus text exposition and lock-free histograms;
//! - [`health`]: fall/rise health of checked targets and the `/healthz` probe
//!   (GeoDNS's checks of edges, an edge's checks of its shield);
//! - [`http_get`]: a minimal HTTP GET over loopback;
//! - [`auth`]: the admin APIs' bearer token check, generated tokens;
//! - [`logging`]: tracing setup for every binary, library log throttling;
//! - [`malloc`]: glibc's malloc settings, fixed before a binary starts.

pub mod auth;
pub mod health;
pub mod http_get;
pub mod logging;
pub mod malloc;
pub mod metered;
pub mod net;
pub mod pace;
pub mod prom;
pub mod serve;
pub mod server;
pub mod shutdown;
pub mod time;

pub use server::Handle;
pub use shutdown::{Shutdown, Stop};
