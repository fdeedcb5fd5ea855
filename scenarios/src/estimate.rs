//! Times the network model predicts for fetches nobody made: a run's
//! requests as if there were no CDN (each a cold fetch from the origin over
//! the link between the client's region and the origin's), and `cdn
//! stats`' per-edge estimates. Measured times come from the servers'
//! pacing (`runtime::pace`); these are the same model
//! ([`world::transfer::plan`]: handshakes, slow start, bandwidth) applied
//! to what was not measured.

use std::time::{Duration, SystemTime};

use world::transfer::{Conn, plan};
use world::{Link, World};

/// Bytes of a GET the model uploads (a short request head).
pub const REQUEST_BYTES: u64 = 100;
/// Bytes of a response head added to a body (the origin's heads are
/// 300–400 bytes).
pub const HEAD_BYTES: u64 = 400;

/// The links from every region (world order) to `to`.
pub fn links_to(w: &World, to: &str) -> Vec<Option<Link>> {
    w.regions.iter().map(|r| w.link(&r.name, to)).collect()
}

/// A fetch of `body` bytes over `link` on a connection in state `conn`,
/// from its start to its last byte (no jitter or loss drawn: seed 0 of a
/// link without them is exact; with them, one draw).
pub fn fetch_time(link: &Link, conn: &Conn, body: u64) -> Duration {
    plan(link, conn, REQUEST_BYTES, body + HEAD_BYTES, SystemTime::UNIX_EPOCH, 0).total()
}

/// A cold fetch of `body` bytes over `link`, µs (saturating).
pub fn cold_fetch_us(link: Option<&Link>, body: u64) -> u32 {
    link.map_or(0, |l| fetch_time(l, &Conn::Cold, body).as_micros().min(u32::MAX as u128) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_cdn_a_far_megabyte_costs_slow_start_not_one_round_trip() {
        let w = World::demo().unwrap();
        let links = links_to(&w, &w.origin.region);
        let seoul = w.regions.iter().position(|r| r.name == "seoul").unwrap();
        let rtt = w.rtt("seoul", &w.origin.region).unwrap();
        let one = cold_fetch_us(links[seoul].as_ref(), 1_000_000);
        // TCP + TLS + request + 7 rounds of slow start, at least 9 RTTs.
        assert!(one as u128 >= 9 * rtt.as_micros(), "{one} µs for {rtt:?}");
        let small = cold_fetch_us(links[seoul].as_ref(), 1000);
        assert!(small as u128 >= 3 * rtt.as_micros() && (small as u128) < 4 * rtt.as_micros(), "{small}");
    }
}
