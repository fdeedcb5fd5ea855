//! The replicated origin: the primary (`[origin]`'s own addresses) and a
//! read replica in each region of `origin.replicas`, with the addresses
//! derived from the region, the replication lag and the automatic
//! promotion timeout. Checked with the rest of the world ([`check`],
//! called by [`crate::load`]).
//!
//! Addresses (docs/worlds.md, "Replicated origin"): the replica in the
//! region whose clients are `127.k.0.0/16` listens on `127.k.0.100:8080`
//! (public) and `127.k.0.100:9080` (admin). `.1` is the region's edge,
//! `.2` a shield's tier listener, `.3` upwards PoP nodes: `.100` stays
//! clear of them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::config::World;
use crate::toml_file::{Problems, Seg};
use crate::units::Dur;

/// Last octet of a replica's addresses in its region.
pub const REPLICA_OCTET: u8 = 100;
/// Public port of a replica.
pub const REPLICA_PORT: u16 = 8080;
/// Admin port of a replica.
pub const REPLICA_ADMIN_PORT: u16 = 9080;
/// Longest `origin.replication_lag`.
pub const MAX_REPLICATION_LAG: Duration = Duration::from_secs(3600);
/// Longest `origin.promote_after`.
pub const MAX_PROMOTE_AFTER: Duration = Duration::from_secs(3600);

/// One origin site: the primary of the world file, or a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Its region (a site is named by it: one origin per region).
    pub region: String,
    /// Public address.
    pub listen: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// Whether the world file starts it as the primary.
    pub primary: bool,
}

impl World {
    /// Whether the origin is replicated.
    pub fn is_replicated(&self) -> bool {
        !self.origin.replicas.is_empty()
    }

    /// Every origin site: the primary first, then the replicas in the
    /// file's order (replicas whose region has no IPv4 client network are
    /// left out; [`check`] refuses them).
    pub fn origin_sites(&self) -> Vec<Site> {
        let mut v = vec![Site {
            region: self.origin.region.clone(),
            listen: self.origin.listen,
            admin: self.origin.admin,
            primary: true,
        }];
        for r in &self.origin.replicas {
            if let Some((listen, admin)) = self.replica_addrs(r) {
                v.push(Site { region: r.clone(), listen, admin, primary: false });
            }
        }
        v
    }

    /// The origin site in `region`.
    pub fn origin_site(&self, region: &str) -> Option<Site> {
        self.origin_sites().into_iter().find(|s| s.region == region)
    }

    /// A replica's public and admin addresses in `region`: `127.k.0.100`
    /// of the region's client network `127.k.0.0/16`.
    pub fn replica_addrs(&self, region: &str) -> Option<(SocketAddr, SocketAddr)> {
        let r = self.regions.iter().find(|r| r.name == region)?;
        let IpAddr::V4(net) = r.clients.network() else { return None };
        let [a, b, _, _] = net.octets();
        let ip = IpAddr::V4(Ipv4Addr::new(a, b, 0, REPLICA_OCTET));
        Some((SocketAddr::new(ip, REPLICA_PORT), SocketAddr::new(ip, REPLICA_ADMIN_PORT)))
    }
}

/// Every problem of the origin's replication settings: a replica in an
/// unknown region, in the primary's region, or named twice; a region
/// whose client network is not IPv4 (no address can be derived); a lag
/// or promotion timeout out of bounds; bad health checks. Addresses in
/// use twice are found with every other address ([`crate::load`]).
pub fn check(w: &World, p: &mut Problems<'_>) {
    let o = &w.origin;
    let k = Seg::Key;
    let regions = || w.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
    for (i, r) in o.replicas.iter().enumerate() {
        let at = [k("origin"), k("replicas"), Seg::Index(i)];
        if !w.regions.iter().any(|x| &x.name == r) {
            p.at(&at, format!("origin replica region `{r}` is not a region (regions: {})", regions()));
        } else if *r == o.region {
            p.at(&at, format!("origin replica in `{r}`: the primary is there already (one origin per region)"));
        } else if o.replicas[..i].contains(r) {
            p.at(&at, format!("origin replica in `{r}` is listed twice (one origin per region)"));
        } else if w.replica_addrs(r).is_none() {
            p.at(&at, format!("origin replica in `{r}`: its region's clients are not IPv4, no address to derive"));
        }
    }
    if o.replication_lag.0 > MAX_REPLICATION_LAG {
        p.at(
            &[k("origin"), k("replication_lag")],
            format!("origin.replication_lag {} must be at most {}", o.replication_lag, Dur(MAX_REPLICATION_LAG)),
        );
    }
    if let Some(t) = o.promote_after
        && (t.0.is_zero() || t.0 > MAX_PROMOTE_AFTER)
    {
        p.at(
            &[k("origin"), k("promote_after")],
            format!("origin.promote_after {t} must be > 0 and at most {}", Dur(MAX_PROMOTE_AFTER)),
        );
    }
    if o.replicas.is_empty() && o.promote_after.is_some() {
        p.at(&[k("origin"), k("promote_after")], "origin.promote_after needs origin.replicas: nothing to promote");
    }
    crate::tiers::check_health(p, &o.health, &[k("origin"), k("health")], "origin.health");
}
