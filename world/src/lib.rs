//! The world model every cdnlab binary reads. Pure: no sockets, no async
//! runtime, no HTTP server (those are in the `runtime` crate), so offline
//! tools (`cdn replay`, the trace lab) use it without any I/O.
//!
//! A *world* (a TOML file under `scenarios/worlds/`) is the single source of
//! truth for regions, their loopback addresses, the origin, the edges and
//! their caches, GeoDNS, the latency model and prices. Every binary takes
//! `--world FILE` and defaults to the built-in demo world.
//!
//! - [`config`]: the schema (what a world file may say), with defaults;
//! - [`load`]: reading a file and checking cross-references and addresses;
//! - [`latency`]: RTT between regions and from a GeoIP location;
//! - [`link`]: what each pair of places is like (jitter, loss, bandwidth, TLS, TCP);
//! - [`network`]: the world's link between two of its places, and its checks;
//! - [`transfer`]: the transfer-time model: when each response byte may arrive;
//! - [`policy`]: cache policies by name, and an edge's shadow caches;
//! - [`tiers`]: the origin shield, and what each edge fills from;
//! - [`replicas`]: the replicated origin: its sites, lag and promotion;
//! - [`pop`]: PoP clusters: an edge's nodes, their addresses and checks;
//! - [`price`]: money as integer nano-dollars, tiered prices, bills;
//! - [`clock`]: one (possibly scaled, or manual) clock for every process;
//! - [`units`]: byte sizes and durations in files;
//! - [`rng`]: a stable seeded generator;
//! - [`bounds`]: the limits of every number in world and scenario files;
//! - [`listen`]: loopback-only listeners unless explicitly allowed;
//! - [`toml_file`]: TOML errors with file, line and field.

pub mod bounds;
pub mod clock;
pub mod config;
pub mod latency;
pub mod link;
pub mod listen;
pub mod load;
pub mod network;
pub mod policy;
pub mod pop;
pub mod price;
pub mod replicas;
pub mod rng;
pub mod tiers;
pub mod toml_file;
pub mod transfer;
pub mod units;
pub mod uri;

pub use clock::Clock;
pub use config::{CacheRule, Edge, EdgeSettings, Eviction, Promotion, Region, World};
pub use link::Link;
pub use price::Money;
pub use toml_file::FileError;
pub use units::{Bandwidth, ByteSize, Dur};
