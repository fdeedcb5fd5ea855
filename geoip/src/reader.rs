//! A GeoIP2-City-shaped MaxMind database read with `maxminddb`, either
//! generated from the world ([`crate::build`]) or a real GeoLite2/GeoIP2
//! City file given with `--mmdb`.
//!
//! The answer path only walks the search tree ([`GeoIp::lookup`]: the data
//! record's offset and the matched network's prefix length); decoding a
//! record ([`GeoIp::place`]) happens once per record and is cached by its
//! offset, because many networks share one record.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};
use serde::Serialize;

use crate::error::Error;

/// An opened GeoIP database.
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
    source: String,
}

/// Result of a search-tree walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Offset of the data record, `None` when the address has no record.
    pub offset: Option<usize>,
    /// Prefix length of the network the answer holds for (the ECS scope),
    /// in the looked-up address's family.
    pub prefix_len: u8,
}

/// What a database record says about a place.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Place {
    /// English city name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Latitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

impl GeoIp {
    /// Opens a database file; a missing, unreadable or corrupt file is an
    /// error that names the file.
    pub fn open(path: &Path) -> Result<GeoIp, Error> {
        let label = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Mmdb { path: label.clone(), reason: e.to_string() })?;
        GeoIp::from_bytes(bytes, &label)
    }

    /// Reads a database from memory; `label` names it in messages.
    pub fn from_bytes(bytes: Vec<u8>, label: &str) -> Result<GeoIp, Error> {
        let reader = Reader::from_source(bytes)
            .map_err(|e| Error::Mmdb { path: label.to_string(), reason: format!("not a usable MaxMind DB ({e})") })?;
        let db = GeoIp { reader, source: label.to_string() };
        // A probe lookup catches a corrupt tree before the first client does.
        db.reader
            .lookup(IpAddr::from([127, 0, 0, 1]))
            .map_err(|e| Error::Mmdb { path: label.to_string(), reason: format!("lookup failed ({e})") })?;
        let ty = &db.reader.metadata().database_type;
        if !ty.contains("City") {
            tracing::warn!(database = %label, database_type = %ty, "not a City database: locations may be unknown");
        }
        Ok(db)
    }

    /// Where the database came from (a path or "generated from …").
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The database's type from its metadata (`GeoIP2-City`, `GeoLite2-City`).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Walks the search tree for `ip`. Errors (an IPv6 address in an
    /// IPv4-only database, a corrupt node) read as "no record".
    pub fn lookup(&self, ip: IpAddr) -> Found {
        match self.reader.lookup(ip) {
            Ok(r) => {
                let prefix_len = match r.network() {
                    Ok(n) if n.is_ipv4() == ip.is_ipv4() => n.prefix(),
                    _ => 0,
                };
                Found { offset: r.offset(), prefix_len }
            }
            Err(_) => Found { offset: None, prefix_len: 0 },
        }
    }

    /// Decodes the record for `ip` (city, country, coordinates).
    pub fn place(&self, ip: IpAddr) -> Option<Place> {
        let r = self.reader.lookup(ip).ok()?;
        let c = r.decode::<geoip2::City>().ok()??;
        Some(Place {
            city: c.city.names.english.map(str::to_string),
            country: c.country.iso_code.map(str::to_string),
            lat: c.location.latitude.filter(|v| v.is_finite()),
            lon: c.location.longitude.filter(|v| v.is_finite()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use world::World;

    #[test]
    fn demo_database_maps_every_region_network_to_its_city() {
        let w = World::demo().unwrap();
        let db = GeoIp::from_bytes(crate::build::build(&w).unwrap(), "demo").unwrap();
        assert_eq!(db.database_type(), "GeoIP2-City");
        for (ip, city, prefix) in [
            ("127.1.2.3", "Seoul", 16),
            ("203.0.113.77", "Seoul", 24),
            ("2001:db8:1::5", "Seoul", 48),
            ("127.2.0.9", "Tokyo", 16),
            ("198.51.100.1", "Tokyo", 24),
            ("2001:db8:2:ff::1", "Tokyo", 48),
            ("127.3.255.1", "New York", 16),
            ("192.0.2.200", "New York", 24),
            ("2001:db8:3::", "New York", 48),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let f = db.lookup(ip);
            assert!(f.offset.is_some(), "{ip}");
            assert_eq!(f.prefix_len, prefix, "{ip}");
            let p = db.place(ip).unwrap();
            assert_eq!(p.city.as_deref(), Some(city), "{ip}");
            assert!(p.lat.is_some() && p.lon.is_some());
        }
        for ip in ["127.0.0.1", "127.9.0.1", "10.1.2.3", "2001:db8:9::1", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(db.lookup(ip).offset, None, "{ip}");
            assert_eq!(db.place(ip), None, "{ip}");
        }
    }

    #[test]
    fn missing_and_corrupt_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.mmdb");
        let e = GeoIp::open(&missing).err().unwrap().to_string();
        assert!(e.contains("nope.mmdb") && e.contains("No such file"), "{e}");
        let junk = dir.path().join("junk.mmdb");
        std::fs::write(&junk, b"this is not a maxmind database at all").unwrap();
        let e = GeoIp::open(&junk).err().unwrap().to_string();
        assert!(e.contains("junk.mmdb") && e.contains("not a usable MaxMind DB"), "{e}");
        // A real database cut in half.
        let w = World::demo().unwrap();
        let bytes = crate::build::build(&w).unwrap();
        let cut = dir.path().join("cut.mmdb");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(GeoIp::open(&cut).is_err());
    }
}
