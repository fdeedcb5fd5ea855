//! Money and list prices. Amounts are integer nano-dollars, so sums never
//! drift; prices in files are dollars and are converted once, on load.
//!
//! A "GB" in prices is 2^30 bytes, as cloud bills count it.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::units::ByteSize;

/// Bytes in a billed gigabyte.
pub const GB: u64 = 1 << 30;

/// An amount of money in nano-dollars (10^-9 USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// From a dollar amount, rounded to the nearest nano-dollar.
    pub fn from_usd(usd: f64) -> Money {
        Money((usd * 1e9).round() as i64)
    }

    /// The amount in dollars (for display and charts only).
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Nano-dollars.
    pub fn nanos(self) -> i64 {
        self.0
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 = self.0.saturating_add(o.0);
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    /// Dollars with six decimals: `$0.001234`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        let micros = (n + 500) / 1000;
        write!(f, "{sign}${}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_usd())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let usd = f64::deserialize(d)?;
        if !usd.is_finite() || !(0.0..=1e6).contains(&usd) {
            return Err(de::Error::custom(format!("{usd} is not a price in dollars")));
        }
        Ok(Money::from_usd(usd))
    }
}

/// A price per billed GB: [`Money`] per [`GB`] bytes.
pub type PerGb = Money;

/// `bytes` at `price` per GB, rounded down to the nano-dollar.
pub fn bytes_cost(bytes: u64, price: PerGb) -> Money {
    let n = (bytes as i128 * price.0 as i128) / GB as i128;
    Money(n.min(i64::MAX as i128) as i64)
}

/// One volume tier: bytes up to `up_to` (cumulative over the month; `None`:
/// no limit) cost `usd_per_gb`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Upper end of the tier, cumulative.
    #[serde(default)]
    pub up_to: Option<ByteSize>,
    /// Price per GB inside the tier.
    pub usd_per_gb: PerGb,
}

/// Cost of `bytes` through volume tiers (each tier's share rounded down).
pub fn tiered_cost(bytes: u64, tiers: &[Tier]) -> Money {
    let mut done = 0u64;
    let mut total = Money::ZERO;
    for t in tiers {
        let end = t.up_to.map_or(u64::MAX, |b| b.0);
        if bytes <= done {
            break;
        }
        let here = bytes.min(end).saturating_sub(done);
        total += bytes_cost(here, t.usd_per_gb);
        done = done.max(end);
    }
    total
}

/// World-wide prices; regions may override the CDN egress tiers and the
/// request price.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// CDN egress to clients, by volume tier.
    #[serde(default = "egress_default")]
    pub egress: Vec<Tier>,
    /// Price per 10,000 requests.
    #[serde(default = "requests_default")]
    pub requests_usd_per_10k: Money,
    /// Origin egress to the internet (the no-CDN counterfactual).
    #[serde(default = "origin_egress_default")]
    pub origin_egress_usd_per_gb: PerGb,
    /// Origin-to-edge fill traffic.
    #[serde(default = "fill_default")]
    pub fill_usd_per_gb: PerGb,
}

fn egress_default() -> Vec<Tier> {
    vec![Tier { up_to: None, usd_per_gb: Money::from_usd(0.085) }]
}
fn requests_default() -> Money {
    Money::from_usd(0.01)
}
fn origin_egress_default() -> Money {
    Money::from_usd(0.09)
}
fn fill_default() -> Money {
    Money::from_usd(0.0)
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            egress: egress_default(),
            requests_usd_per_10k: requests_default(),
            origin_egress_usd_per_gb: origin_egress_default(),
            fill_usd_per_gb: fill_default(),
        }
    }
}

/// A region's overrides of [`Prices`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// CDN egress tiers in this region.
    #[serde(default)]
    pub egress: Option<Vec<Tier>>,
    /// Price per 10,000 requests in this region.
    #[serde(default)]
    pub requests_usd_per_10k: Option<Money>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_displays_dollars_with_six_decimals() {
        assert_eq!(Money::from_usd(0.12).to_string(), "$0.120000");
        assert_eq!(Money(1_500).to_string(), "$0.000002");
        assert_eq!(Money::from_usd(-3.5).to_string(), "-$3.500000");
    }

    #[test]
    fn tiered_cost_splits_bytes_at_the_boundary() {
        let tiers = [
            Tier { up_to: Some(ByteSize(10 * GB)), usd_per_gb: Money::from_usd(0.12) },
            Tier { up_to: None, usd_per_gb: Money::from_usd(0.10) },
        ];
        // 12 GB: 10 at 0.12, 2 at 0.10.
        assert_eq!(tiered_cost(12 * GB, &tiers), Money::from_usd(1.2 + 0.2));
        // one byte past the boundary costs the second tier's per-byte price
        let past = tiered_cost(10 * GB + GB / 2, &tiers) - tiered_cost(10 * GB, &tiers);
        assert_eq!(past, Money::from_usd(0.05));
    }
}
