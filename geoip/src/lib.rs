//! Where an address is, by a GeoIP2-City-shaped MaxMind database: read
//! ([`GeoIp`], [`reader`]), or generated from the world for the demo
//! ([`build`]), and turned into a place of the world ([`Location`],
//! [`locate`]). Its own crate because two kinds of server locate their
//! peers the same way: GeoDNS (which edge answers a client) and every
//! pacing server (which link a peer's bytes take, `runtime::pace`).

pub mod build;
mod error;
mod locate;
pub mod reader;

pub use error::Error;
pub use locate::{Location, locate};
pub use reader::{Found, GeoIp, Place};
