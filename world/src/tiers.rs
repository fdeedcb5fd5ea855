//! The tiers of a world: which edge is the origin shield, where its tier
//! listener is, and what each edge fills from ([`Upstream`]). Checked
//! with the rest of the world ([`check`], called by [`crate::load`]).
//!
//! Addresses (docs/worlds.md, "Shield"): every region keeps its public
//! address `127.k.0.1:8080`; the shield's tier listener, where lower tiers
//! fill from, is another address of its region, `127.k.0.2` by default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::bounds::{MAX_FALL_RISE, MAX_HEALTH_INTERVAL, MAX_HEALTH_TIMEOUT};
use crate::config::{Edge, HealthCheck, World};
use crate::toml_file::{Problems, Seg};
use crate::units::Dur;

/// Longest `shield.catch_up`.
pub const MAX_CATCH_UP: Duration = Duration::from_secs(60);

/// What an edge fills from.
#[derive(Debug, Clone, Copy)]
pub enum Upstream<'a> {
    /// The origin (no shield, or this edge is the shield).
    Origin,
    /// The shield edge, at its tier listener.
    Shield {
        /// The shield edge.
        edge: &'a Edge,
        /// Its tier listener.
        listen: SocketAddr,
    },
}

/// The default tier listener of a shield edge public at `public`: the
/// same address with the last octet 2 (`127.k.0.1:8080` → `127.k.0.2:8080`).
/// `None` for an IPv6 public address (the world must say `listen`).
pub fn default_tier_listen(public: SocketAddr) -> Option<SocketAddr> {
    match public.ip() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, 2)), public.port()))
        }
        IpAddr::V6(_) => None,
    }
}

impl World {
    /// The edges of a region.
    fn edges_in<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.region == region)
    }

    /// The shield edge: the one edge of the shield's region.
    pub fn shield_edge(&self) -> Option<&Edge> {
        let s = self.shield.as_ref()?;
        let mut it = self.edges_in(&s.region);
        let e = it.next()?;
        it.next().is_none().then_some(e)
    }

    /// The shield's tier listener (given, or derived from its edge's).
    pub fn shield_listen(&self) -> Option<SocketAddr> {
        let s = self.shield.as_ref()?;
        s.listen.or_else(|| default_tier_listen(self.shield_edge()?.listen))
    }

    /// What edge `e` fills from (a shield PoP's node: the origin, as the
    /// shield).
    pub fn upstream_of(&self, e: &Edge) -> Upstream<'_> {
        match (self.shield_edge(), self.shield_listen()) {
            (Some(s), Some(listen)) if !self.is_shield(e) => Upstream::Shield { edge: s, listen },
            _ => Upstream::Origin,
        }
    }

    /// Whether edge `e` is the shield, or a node of the shield PoP
    /// ([`World::node_edge`]).
    pub fn is_shield(&self, e: &Edge) -> bool {
        self.shield_edge()
            .is_some_and(|s| s.name == e.name || self.node(&e.name).is_some_and(|(pop, _)| pop.name == s.name))
    }
}

/// Checks a health-check table at `at` (`geodns.health`, `shield.health`).
pub fn check_health(p: &mut Problems<'_>, h: &HealthCheck, at: &[Seg<'_>], what: &str) {
    let field = |f: &'static str| {
        let mut v = at.to_vec();
        v.push(Seg::Key(f));
        v
    };
    if h.interval.0.is_zero() || h.interval.0 > MAX_HEALTH_INTERVAL {
        p.at(
            &field("interval"),
            format!("{what}.interval {} must be > 0 and at most {}", h.interval, Dur(MAX_HEALTH_INTERVAL)),
        );
    }
    if h.timeout.0.is_zero() || h.timeout.0 > MAX_HEALTH_TIMEOUT {
        p.at(
            &field("timeout"),
            format!("{what}.timeout {} must be > 0 and at most {}", h.timeout, Dur(MAX_HEALTH_TIMEOUT)),
        );
    }
    for (f, v) in [("fall", h.fall), ("rise", h.rise)] {
        if v == 0 || v > MAX_FALL_RISE {
            p.at(&field(f), format!("{what}.{f} {v} must be 1 to {MAX_FALL_RISE}"));
        }
    }
}

/// Every problem of the world's `[shield]`: an unknown region, a region
/// with no edge or with several, a tier listener that is not the shield's
/// own (the origin's address: the shield would fill from itself) or cannot
/// be derived, bad health checks or catch-up. Addresses in use twice are
/// found with every other address ([`crate::load`]).
pub fn check(w: &World, p: &mut Problems<'_>) {
    let Some(s) = &w.shield else { return };
    let k = Seg::Key;
    let at = |f: &'static str| [k("shield"), k(f)];
    let regions = || w.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
    if !w.regions.iter().any(|r| r.name == s.region) {
        p.at(&at("region"), format!("shield region `{}` is not a region (regions: {})", s.region, regions()));
    } else {
        let names: Vec<&str> = w.edges_in(&s.region).map(|e| e.name.as_str()).collect();
        match names.len() {
            0 => p.at(
                &at("region"),
                format!("shield region `{}` has no edge to be the shield (add an [[edge]] there)", s.region),
            ),
            1 => {}
            n => p.at(
                &at("region"),
                format!(
                    "shield region `{}` has {n} edges ({}): the shield is one edge, so its region must have one",
                    s.region,
                    names.join(", ")
                ),
            ),
        }
    }
    if let Some(l) = s.listen {
        if l == w.origin.listen {
            p.at(
                &at("listen"),
                format!("shield.listen {l} is the origin's address: the shield would be its own upstream"),
            );
        }
    } else if let Some(e) = w.shield_edge()
        && default_tier_listen(e.listen).is_none()
    {
        p.at(&at("region"), format!("shield edge `{}` listens on IPv6 ({}): give shield.listen", e.name, e.listen));
    }
    check_health(p, &s.health, &at("health"), "shield.health");
    if s.catch_up.0.is_zero() || s.catch_up.0 > MAX_CATCH_UP {
        p.at(&at("catch_up"), format!("shield.catch_up {} must be > 0 and at most {}", s.catch_up, Dur(MAX_CATCH_UP)));
    }
}
