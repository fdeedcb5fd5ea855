//! The demo GeoIP database, generated from the world (never committed as a
//! binary): every region's client network (127.k.0.0/16) and its further
//! `geoip` networks (the documentation ranges in the demo world) map to a
//! GeoIP2-City-shaped record with the region's city name, country and
//! lat/lon. Readers that understand GeoIP2 City (ours, gdnsd, PowerDNS)
//! read it like a real one.

use std::path::Path;

use mmdb_writer::{IpVersion, Writer};
use serde::Serialize;
use world::World;

use crate::error::Error;

/// Database type written to the metadata; "City" in it makes every GeoIP2
/// consumer treat it as a City database.
pub const DATABASE_TYPE: &str = "GeoIP2-City";

#[derive(Serialize)]
struct Names<'a> {
    en: &'a str,
}

#[derive(Serialize)]
struct CityRec<'a> {
    names: Names<'a>,
}

#[derive(Serialize)]
struct CountryRec<'a> {
    iso_code: &'a str,
    names: Names<'a>,
}

#[derive(Serialize)]
struct LocationRec {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
}

#[derive(Serialize)]
struct Rec<'a> {
    city: CityRec<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<CountryRec<'a>>,
    location: LocationRec,
}

/// The demo database for `world`, as MMDB bytes.
pub fn build(world: &World) -> Result<Vec<u8>, Error> {
    let mut w = Writer::builder(DATABASE_TYPE)
        .ip_version(IpVersion::V6)
        .languages(["en"])
        .description(&[("en", "cdnlab demo GeoIP database, generated from the world file")])
        .build();
    for r in &world.regions {
        let rec = Rec {
            city: CityRec { names: Names { en: &r.city } },
            country: r.country.as_deref().map(|cc| CountryRec { iso_code: cc, names: Names { en: cc } }),
            location: LocationRec { latitude: r.lat, longitude: r.lon, accuracy_radius: 20 },
        };
        for net in r.networks() {
            w.insert(*net, &rec).map_err(|e| Error::Build(format!("region `{}`, network {net}: {e}", r.name)))?;
        }
    }
    w.to_bytes().map_err(|e| Error::Build(e.to_string()))
}

/// Writes the demo database for `world` to `path`.
pub fn write(world: &World, path: &Path) -> Result<usize, Error> {
    let bytes = build(world)?;
    std::fs::write(path, &bytes)
        .map_err(|e| Error::Write { path: path.display().to_string(), reason: e.to_string() })?;
    Ok(bytes.len())
}
