//! The latency model: measured RTTs between regions, with a great-circle
//! formula for pairs (or places) the table does not list.

use std::time::Duration;

use crate::config::{Region, World};

/// Fixed part of a modelled RTT (last-mile, processing), milliseconds.
pub const RTT_BASE_MS: f64 = 16.5;
/// Route length / great-circle distance.
pub const ROUTE_FACTOR: f64 = 1.53;
/// Light in fibre, kilometres per millisecond.
pub const FIBRE_KM_PER_MS: f64 = 200.0;

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

/// Modelled RTT between two points: 16.5 ms + 1.53 × 2 × distance / (200 km/ms).
pub fn rtt_between_points(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Duration {
    let d = distance_km(lat1, lon1, lat2, lon2);
    Duration::from_secs_f64((RTT_BASE_MS + ROUTE_FACTOR * 2.0 * d / FIBRE_KM_PER_MS) / 1e3)
}

impl World {
    /// The region named `name`.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// Modelled RTT between two regions: same region → `latency.same_region`,
    /// a listed pair → its measured value, otherwise the great-circle formula.
    /// Unknown names give `None`.
    pub fn rtt(&self, a: &str, b: &str) -> Option<Duration> {
        if a == b {
            self.region(a)?;
            return Some(self.latency.same_region.0);
        }
        if let Some(e) = self
            .latency
            .rtt
            .iter()
            .find(|e| (e.between[0] == a && e.between[1] == b) || (e.between[0] == b && e.between[1] == a))
        {
            // Bounded on load; clamped here too, so no RTT can overflow a Duration.
            let ms = if e.ms.is_nan() { 0.0 } else { e.ms.clamp(0.0, crate::bounds::MAX_RTT_MS) };
            return Some(Duration::from_secs_f64(ms / 1e3));
        }
        let (ra, rb) = (self.region(a)?, self.region(b)?);
        Some(rtt_between_points(ra.lat, ra.lon, rb.lat, rb.lon))
    }

    /// Modelled RTT from a point (a client's GeoIP location) to a region:
    /// the region's own RTTs when the point is that region's city (within
    /// 50 km), else the great-circle formula.
    pub fn rtt_from_point(&self, lat: f64, lon: f64, region: &str) -> Option<Duration> {
        let target = self.region(region)?;
        if let Some(home) = self.regions.iter().find(|r| distance_km(lat, lon, r.lat, r.lon) < 50.0) {
            return self.rtt(&home.name, &target.name);
        }
        Some(rtt_between_points(lat, lon, target.lat, target.lon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seoul_to_newyork_great_circle_is_about_11000_km() {
        let d = distance_km(37.5665, 126.978, 40.7128, -74.006);
        assert!((d - 11_050.0).abs() < 100.0, "{d}");
    }

    #[test]
    fn formula_rtt_adds_base_and_route_factor() {
        let r = rtt_between_points(0.0, 0.0, 0.0, 0.0);
        assert_eq!(r, Duration::from_secs_f64(0.0165));
        // 1000 km → 16.5 + 1.53 * 2 * 1000 / 200 = 31.8 ms
        let lon = 1000.0 / (6371.0 * std::f64::consts::PI / 180.0);
        let r = rtt_between_points(0.0, 0.0, 0.0, lon).as_secs_f64() * 1e3;
        assert!((r - 31.8).abs() < 0.01, "{r}");
    }
}
