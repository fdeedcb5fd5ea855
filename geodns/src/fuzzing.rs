//! Entry points for the fuzz targets in `fuzz/`: the UDP loop's full-path
//! answer ([`crate::udp`]'s `slow_answer`, private there) and the demo
//! world's answer path, without sockets. Hidden from the docs: not part of
//! the crate's API. How to run the targets: `docs/security.md`, "Fuzzing".

use std::net::SocketAddr;
use std::sync::Arc;

use crate::dns::{Dns, Handler};

/// The demo world's answer path (health checks off, as in the unit tests;
/// the Tokyo edge also has an IPv6 address so AAAA answers exist).
pub fn demo_dns() -> crate::Result<Arc<Dns>> {
    let mut w = world::World::demo().map_err(|e| crate::Error::World(e.to_string()))?;
    if let Some(e) = w.edges.get_mut(1) {
        e.ipv6 = "2001:db8:2::1".parse().ok();
    }
    let mut c = crate::Config::from_world(&w);
    c.health = crate::health::Mode::Off;
    crate::build_dns(&c, SocketAddr::from(([127, 0, 0, 1], 1053)))
}

/// What the UDP loop answers to a query its fast path declined (hickory's
/// parser and the shared handler, or FORMERR): the answer's length in `out`.
pub async fn slow_answer(dns: &Arc<Dns>, q: &[u8], src: SocketAddr, out: &mut [u8]) -> Option<usize> {
    crate::udp::slow_answer(dns, &Handler(dns.clone()), q, src, out).await
}
