//! The world's network: the [`Link`] between two of its places (regions,
//! or a client's point and a region), from `[network]`, its
//! `same_region` overrides and the per-pair `[[link]]` entries, and the
//! checks of those tables. The link types themselves are in
//! [`crate::link`]; the RTTs in [`crate::latency`].

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::config::{Region, World};
use crate::latency::distance_km;
use crate::link::{Link, LinkSettings, MAX_LOSS};
use crate::toml_file::{Doc, FileError, Seg};

/// How close to a region's city a point must be to count as in it (km):
/// the one rule for GeoDNS's rankings and the links of located clients.
pub const NEAR_CITY_KM: f64 = 50.0;

impl Region {
    /// Every network located in this region: its clients' range, then its
    /// further GeoIP networks. GeoDNS's generated database holds exactly
    /// these (`geoip::build`), and [`World::region_at`] looks them up,
    /// so a server locates a peer where GeoDNS locates a client.
    pub fn networks(&self) -> impl Iterator<Item = &IpNet> {
        std::iter::once(&self.clients).chain(&self.geoip)
    }
}

impl World {
    /// The region (its index in [`World::regions`]) whose networks hold
    /// `ip` ([`Region::networks`]; an IPv4-mapped IPv6 address counts as
    /// its IPv4 one). `None` outside every region (127.0.0.1, for one).
    /// A linear walk: a handful of prefix tests, done once per connection.
    pub fn region_at(&self, ip: IpAddr) -> Option<usize> {
        let ip = ip.to_canonical();
        self.regions.iter().position(|r| r.networks().any(|n| n.contains(&ip)))
    }

    /// The region whose city is within [`NEAR_CITY_KM`] of a point.
    pub fn region_near(&self, lat: f64, lon: f64) -> Option<usize> {
        self.regions.iter().position(|r| distance_km(lat, lon, r.lat, r.lon) < NEAR_CITY_KM)
    }

    /// The link between regions `a` and `b` (either order; `a == b` is
    /// within a region): `[network]`, then `network.same_region` when
    /// `a == b`, then the pair's `[[link]]`. `None` for an unknown region.
    pub fn link(&self, a: &str, b: &str) -> Option<Link> {
        let rtt = self.rtt(a, b)?;
        Some(self.link_settings(a, b, rtt))
    }

    /// The link from a point (a client's GeoIP location) to a region: the
    /// home region's link when the point is within 50 km of a region's city
    /// (as [`World::rtt_from_point`] does), else the `[network]` defaults
    /// over the great-circle RTT.
    pub fn link_from_point(&self, lat: f64, lon: f64, region: &str) -> Option<Link> {
        let target = self.region(region)?;
        if let Some(home) = self.region_near(lat, lon) {
            return self.link(&self.regions[home].name, &target.name);
        }
        let rtt = self.rtt_from_point(lat, lon, region)?;
        Some(self.defaults(rtt))
    }

    fn defaults(&self, rtt: Duration) -> Link {
        let n = &self.network;
        Link { rtt, jitter: n.jitter, loss: n.loss, bandwidth: n.bandwidth, tls: n.tls, tcp: n.tcp }
    }

    fn link_settings(&self, a: &str, b: &str, rtt: Duration) -> Link {
        let mut l = self.defaults(rtt);
        if a == b {
            l = l.with(&self.network.same_region);
        }
        if let Some(e) = self.links.iter().find(|e| e.joins(a, b)) {
            l = l.with(&e.settings());
        }
        l
    }

    /// Checks `[network]` and every `[[link]]`: known regions, no pair
    /// twice, values in bounds. Errors point at the offending field.
    pub(crate) fn check_links(&self, doc: &Doc) -> Result<(), FileError> {
        let n = &self.network;
        let net = |f: &'static str| [Seg::Key("network"), Seg::Key(f)];
        check_settings(&LinkSettings {
            jitter: Some(n.jitter),
            loss: Some(n.loss),
            bandwidth: Some(n.bandwidth),
            tls: Some(n.tls),
        })
        .map_err(|(f, m)| doc.error_at(&net(f), format!("network.{f}: {m}")))?;
        check_settings(&n.same_region).map_err(|(f, m)| {
            doc.error_at(
                &[Seg::Key("network"), Seg::Key("same_region"), Seg::Key(f)],
                format!("network.same_region: {m}"),
            )
        })?;
        n.tcp.check().map_err(|(f, m)| {
            doc.error_at(&[Seg::Key("network"), Seg::Key("tcp"), Seg::Key(f)], format!("network.tcp.{f}: {m}"))
        })?;
        let region_list = || self.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
        for (i, e) in self.links.iter().enumerate() {
            let at = |f: &'static str| [Seg::Key("link"), Seg::Index(i), Seg::Key(f)];
            let name = format!("link {} ↔ {}", e.between[0], e.between[1]);
            for r in &e.between {
                if self.region(r).is_none() {
                    return Err(doc.error_at(
                        &at("between"),
                        format!("{name}: unknown region `{r}` (regions: {})", region_list()),
                    ));
                }
            }
            if let Some(j) = self.links[..i].iter().position(|o| o.joins(&e.between[0], &e.between[1])) {
                return Err(doc.error_at(&at("between"), format!("{name} is already given by [[link]] #{}", j + 1)));
            }
            check_settings(&e.settings()).map_err(|(f, m)| doc.error_at(&at(f), format!("{name}: {m}")))?;
        }
        Ok(())
    }
}

fn check_settings(s: &LinkSettings) -> Result<(), (&'static str, String)> {
    if let Some(l) = s.loss
        && !(l.is_finite() && (0.0..=MAX_LOSS).contains(&l))
    {
        return Err(("loss", format!("loss {l} must be a probability per segment in 0..={MAX_LOSS}")));
    }
    if let Some(b) = s.bandwidth
        && !b.is_unlimited()
        && !(56_000..=1_000_000_000_000).contains(&b.0)
    {
        return Err(("bandwidth", format!("bandwidth {b} must be 56kbit..=1Tbit, or \"unlimited\"")));
    }
    if let Some(j) = &s.jitter {
        j.check().map_err(|m| ("jitter", m))?;
    }
    Ok(())
}
