//! The rule that turns what a database says about an address into a place
//! of the world: GeoDNS ranks edges from it, a pacing server takes the link
//! from it. One rule, so that the edge a client is sent to and the time its
//! bytes take agree about where it is.

use world::World;

use crate::Place;

/// Where a [`Place`] is in a world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Location {
    /// A region (world order): its city by coordinates (within 50 km,
    /// [`World::region_near`]), or by name when the record has no
    /// coordinates. The region's own links and measured RTTs apply.
    Region(usize),
    /// A point between regions: great-circle RTTs from it
    /// ([`World::rtt_from_point`], [`World::link_from_point`]).
    Point {
        /// Latitude, degrees.
        lat: f64,
        /// Longitude, degrees.
        lon: f64,
    },
    /// No record, or one with neither coordinates nor a region's city.
    Unknown,
}

/// Where `place` (a database's answer, `None`: no record) is in `world`.
pub fn locate(world: &World, place: Option<&Place>) -> Location {
    let Some(p) = place else { return Location::Unknown };
    if let (Some(lat), Some(lon)) = (p.lat, p.lon) {
        return match world.region_near(lat, lon) {
            Some(i) => Location::Region(i),
            None => Location::Point { lat, lon },
        };
    }
    if let Some(city) = &p.city
        && let Some(i) = world.regions.iter().position(|r| r.city.eq_ignore_ascii_case(city))
    {
        return Location::Region(i);
    }
    Location::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> Place {
        Place { lat: Some(lat), lon: Some(lon), ..Place::default() }
    }

    #[test]
    fn a_place_is_a_region_by_its_coordinates_or_city_else_a_point_or_unknown() {
        let w = World::demo().unwrap();
        let seoul = w.regions.iter().position(|r| r.name == "seoul").unwrap();
        let r = &w.regions[seoul];
        assert_eq!(locate(&w, Some(&at(r.lat + 0.1, r.lon))), Location::Region(seoul));
        // Osaka: 400 km from Tokyo, near no region.
        assert_eq!(locate(&w, Some(&at(34.69, 135.50))), Location::Point { lat: 34.69, lon: 135.50 });
        let named = Place { city: Some("SEOUL".into()), ..Place::default() };
        assert_eq!(locate(&w, Some(&named)), Location::Region(seoul));
        let elsewhere = Place { city: Some("Lima".into()), ..Place::default() };
        assert_eq!(locate(&w, Some(&elsewhere)), Location::Unknown);
        assert_eq!(locate(&w, None), Location::Unknown);
    }
}
