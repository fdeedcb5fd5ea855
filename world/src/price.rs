//! Money and list prices. Amounts are integer nano-dollars (10^-9 USD), so
//! sums never drift; prices in files are dollars and are converted once, on
//! load (a price with up to nine decimals converts exactly).
//!
//! A "GB" in prices is 2^30 bytes, as cloud bills count it.
//!
//! A bill ([`Prices::bill`]) has four line items: CDN egress (bytes the
//! edges send clients), request fees, the origin's egress for what the edges
//! fetch from it (at the origin's internet egress price), and the CDN's fill
//! fee for the same bytes (often zero). Each is computed from counters with
//! one rounding (down, to the nano-dollar): the exact product bytes × price
//! is summed over the volume tiers in 128-bit integers first. Volume tiers
//! are cumulative over the bytes counted so far (one "month" is the life of
//! the counters). Several edges in one region share the region's CDN tiers,
//! as CloudFront measures its tiers per geographic region, and all fills
//! share the origin's tiers: [`tiered_cost_range`] prices one share after
//! the others', so the shares add up exactly to the whole.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::units::ByteSize;

/// Bytes in a billed gigabyte.
pub const GB: u64 = 1 << 30;

/// Nano-dollars in a dollar.
const NANOS_PER_USD: i64 = 1_000_000_000;

/// An amount of money in nano-dollars (10^-9 USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// From a dollar amount, rounded to the nearest nano-dollar (exact for
    /// amounts with at most nine decimals).
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

    /// The exact amount as a decimal string with nine decimals:
    /// `"0.000123456"`, `"-1.500000000"`.
    pub fn to_decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        let per = NANOS_PER_USD as u64;
        format!("{sign}{}.{:09}", n / per, n % per)
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
    /// Dollars with six decimals, rounded half up: `$0.001234`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        let micros = (n + 500) / 1000;
        write!(f, "{sign}${}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}

/// A decimal dollar amount that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a dollar amount (at most nine decimals, e.g. 0.085)")]
pub struct MoneyError(String);

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses `"0.085"`, `"12"`, `"-0.5"`, `"$1.25"` exactly.
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let bad = || MoneyError(s.to_string());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let t = t.strip_prefix('$').unwrap_or(t);
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty())
            || frac.len() > 9
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
        let frac_nanos: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
        let n = whole.checked_mul(NANOS_PER_USD).and_then(|w| w.checked_add(frac_nanos)).ok_or_else(bad)?;
        Ok(Money(if neg { -n } else { n }))
    }
}

impl Serialize for Money {
    /// Dollars as a number (world files); reports use [`decimal`] instead.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_usd())
    }
}

impl<'de> Deserialize<'de> for Money {
    /// A price in dollars: a number (`0.085`) or a decimal string (`"0.085"`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a price in dollars, such as 0.085")
            }
            fn visit_f64<E: de::Error>(self, usd: f64) -> Result<Money, E> {
                if !usd.is_finite() || !(0.0..=1e6).contains(&usd) {
                    return Err(E::custom(format!("{usd} is not a price in dollars")));
                }
                Ok(Money::from_usd(usd))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                let m: Money = v.parse().map_err(E::custom)?;
                if !(0..=1_000_000 * NANOS_PER_USD).contains(&m.0) {
                    return Err(E::custom(format!("{v} is not a price in dollars")));
                }
                Ok(m)
            }
        }
        d.deserialize_any(V)
    }
}

/// Serde for amounts in reports (`/stats`, `cdn stats --json`): an exact
/// decimal string of dollars with nine decimals, never a float.
/// Use as `#[serde(with = "world::price::decimal")]`.
pub mod decimal {
    use super::Money;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `"0.000123456"`.
    pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&m.to_decimal())
    }

    /// Reads `"0.000123456"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A price per billed GB: [`Money`] per [`GB`] bytes.
pub type PerGb = Money;

/// `bytes` at `price` per GB, rounded down to the nano-dollar.
pub fn bytes_cost(bytes: u64, price: PerGb) -> Money {
    to_money((bytes as i128 * price.0 as i128) / GB as i128)
}

/// `n` requests at `per_10k` per 10,000 requests, rounded down.
pub fn requests_cost(n: u64, per_10k: Money) -> Money {
    to_money((n as i128 * per_10k.0 as i128) / 10_000)
}

fn to_money(n: i128) -> Money {
    Money(n.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// One volume tier: bytes up to `up_to` (cumulative over the month; `None`:
/// no limit) cost `usd_per_gb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Upper end of the tier, cumulative.
    #[serde(default)]
    pub up_to: Option<ByteSize>,
    /// Price per GB inside the tier.
    pub usd_per_gb: PerGb,
}

impl Tier {
    /// A tier ending at `up_to` bytes (cumulative).
    pub fn upto(up_to: u64, usd_per_gb: Money) -> Tier {
        Tier { up_to: Some(ByteSize(up_to)), usd_per_gb }
    }

    /// The last, unlimited tier.
    pub fn rest(usd_per_gb: Money) -> Tier {
        Tier { up_to: None, usd_per_gb }
    }
}

/// The exact cost of the first `bytes` through `tiers`, in nano-dollars
/// × [`GB`] (not yet divided).
fn tiered_numerator(bytes: u64, tiers: &[Tier]) -> i128 {
    let mut done = 0u64;
    let mut total = 0i128;
    for t in tiers {
        if bytes <= done {
            break;
        }
        let end = t.up_to.map_or(u64::MAX, |b| b.0);
        let here = bytes.min(end).saturating_sub(done);
        total += here as i128 * t.usd_per_gb.0 as i128;
        done = done.max(end);
    }
    total
}

/// Cost of the first `bytes` of the month through volume tiers: the exact
/// sum over the tiers, rounded down once.
pub fn tiered_cost(bytes: u64, tiers: &[Tier]) -> Money {
    to_money(tiered_numerator(bytes, tiers) / GB as i128)
}

/// Cost of the bytes from cumulative position `from` to `to` (a share of a
/// region's traffic after `from` bytes of others'): `tiered_cost(to) -
/// tiered_cost(from)`, so consecutive shares add up exactly.
pub fn tiered_cost_range(from: u64, to: u64, tiers: &[Tier]) -> Money {
    tiered_cost(to.max(from), tiers) - tiered_cost(from, tiers)
}

/// World-wide prices; regions may override the CDN egress tiers and the
/// request price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// CDN egress to clients (bytes the edges send, heads included), by
    /// volume tier.
    #[serde(default = "egress_default")]
    pub egress: Vec<Tier>,
    /// Price per 10,000 requests to the edges.
    #[serde(default = "requests_default")]
    pub requests_usd_per_10k: Money,
    /// The origin's internet egress, by volume tier: what the origin pays
    /// for the bytes the edges fetch from it (and for bytes it serves
    /// clients directly), and what the same client traffic costs without
    /// the CDN.
    #[serde(default = "origin_egress_default")]
    pub origin_egress: Vec<Tier>,
    /// What the CDN charges for origin-to-edge fill traffic (bytes the edges
    /// read from the origin), on top of the origin's egress.
    #[serde(default = "fill_default")]
    pub fill_usd_per_gb: PerGb,
    /// Transfer between tiers: bytes edges read from an origin shield
    /// (inter-region transfer between the CDN's own sites).
    #[serde(default = "inter_tier_default")]
    pub inter_tier_usd_per_gb: PerGb,
}

fn egress_default() -> Vec<Tier> {
    vec![Tier::rest(Money::from_usd(0.085))]
}
fn requests_default() -> Money {
    Money::from_usd(0.01)
}
fn origin_egress_default() -> Vec<Tier> {
    vec![Tier::rest(Money::from_usd(0.09))]
}
fn fill_default() -> Money {
    Money::ZERO
}
fn inter_tier_default() -> Money {
    Money::from_usd(0.02)
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            egress: egress_default(),
            requests_usd_per_10k: requests_default(),
            origin_egress: origin_egress_default(),
            fill_usd_per_gb: fill_default(),
            inter_tier_usd_per_gb: inter_tier_default(),
        }
    }
}

/// A region's overrides of [`Prices`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// CDN egress tiers in this region.
    #[serde(default)]
    pub egress: Option<Vec<Tier>>,
    /// Price per 10,000 requests in this region.
    #[serde(default)]
    pub requests_usd_per_10k: Option<Money>,
}

impl Prices {
    /// The prices for traffic served in a region with overrides `r`.
    pub fn for_region(&self, r: Option<&RegionPrices>) -> Prices {
        let mut p = self.clone();
        if let Some(r) = r {
            if let Some(e) = &r.egress {
                p.egress = e.clone();
            }
            if let Some(q) = r.requests_usd_per_10k {
                p.requests_usd_per_10k = q;
            }
        }
        p
    }

    /// The bill for `u`, pricing it after `before` of the same region
    /// already counted (CDN egress tiers, request and fill fees) and after
    /// `origin_before` bytes of the origin's egress (its tiers); zeros for
    /// an edge alone.
    pub fn bill(&self, u: &Usage, before: &Usage, origin_before: u64) -> Bill {
        let cdn_egress =
            tiered_cost_range(before.bytes_to_clients, before.bytes_to_clients + u.bytes_to_clients, &self.egress);
        let requests = requests_cost(before.requests + u.requests, self.requests_usd_per_10k)
            - requests_cost(before.requests, self.requests_usd_per_10k);
        let origin_egress = tiered_cost_range(origin_before, origin_before + u.bytes_from_origin, &self.origin_egress);
        let fill = bytes_cost(before.bytes_from_origin + u.bytes_from_origin, self.fill_usd_per_gb)
            - bytes_cost(before.bytes_from_origin, self.fill_usd_per_gb);
        let inter_tier = bytes_cost(before.bytes_inter_tier + u.bytes_inter_tier, self.inter_tier_usd_per_gb)
            - bytes_cost(before.bytes_inter_tier, self.inter_tier_usd_per_gb);
        Bill {
            cdn_egress,
            requests,
            origin_egress,
            fill,
            inter_tier,
            total: cdn_egress + requests + origin_egress + fill + inter_tier,
        }
    }

    /// What `bytes` fetched from the origin cost, from zero (one month's
    /// first bytes): the origin's egress and the CDN's fill fee. How
    /// `cdn replay` and an edge's shadow caches price a cache's misses.
    pub fn origin_cost(&self, bytes: u64) -> Money {
        let b = self.bill(&Usage { bytes_from_origin: bytes, ..Usage::default() }, &Usage::default(), 0);
        b.origin_egress + b.fill
    }

    /// What the origin's egress costs for client bytes from `from` to `to`
    /// (cumulative): the no-CDN counterfactual.
    pub fn without_cdn(&self, from: u64, to: u64) -> Money {
        tiered_cost_range(from, to, &self.origin_egress)
    }
}

impl crate::World {
    /// The prices of traffic served in `region` (world prices with the
    /// region's overrides; world prices alone for an unknown region).
    pub fn prices_in(&self, region: &str) -> Prices {
        let r = self.regions.iter().find(|r| r.name == region).and_then(|r| r.prices.as_ref());
        self.prices.for_region(r)
    }
}

/// The bill of a whole world's traffic, with and without the CDN: the one
/// roll-up `cdn stats` and the run reports make.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RollUp {
    /// Each edge's bill, in the order given: edges of one region share that
    /// region's CDN volume tiers, and every fill shares the origin's egress
    /// tiers (each share priced after the previous ones, so they add up
    /// exactly).
    pub edges: Vec<Bill>,
    /// The edges' bills summed.
    pub total: Bill,
    /// The origin's egress for bytes it sent clients directly (not through
    /// an edge), priced after the fills in its tiers.
    pub direct: Money,
    /// With the CDN, all in: `total.total + direct`.
    pub with_cdn: Money,
    /// Each edge's client bytes served from the origin instead (its share
    /// of the origin's tiers): the counterfactual.
    pub edges_without_cdn: Vec<Money>,
    /// Without the CDN: every client byte (through edges or direct) at the
    /// origin's egress price.
    pub without_cdn: Money,
}

impl RollUp {
    /// `without_cdn - with_cdn` (negative: the CDN costs more).
    pub fn savings(&self) -> Money {
        self.without_cdn - self.with_cdn
    }
}

impl crate::World {
    /// Prices the usage of each edge (`(region, usage)`, in world order) and
    /// `direct` bytes the origin sent clients itself.
    pub fn roll_up(&self, edges: &[(&str, Usage)], direct: u64) -> RollUp {
        let mut r = RollUp::default();
        let mut region_before: std::collections::HashMap<&str, Usage> = std::collections::HashMap::new();
        let (mut fills, mut clients) = (0u64, 0u64);
        for (region, u) in edges {
            let prices = self.prices_in(region);
            let before = region_before.entry(region).or_default();
            let b = prices.bill(u, before, fills);
            *before = *before + *u;
            fills += u.bytes_from_origin;
            r.edges_without_cdn.push(prices.without_cdn(clients, clients + u.bytes_to_clients));
            clients += u.bytes_to_clients;
            r.total = r.total + b;
            r.edges.push(b);
        }
        r.direct = tiered_cost_range(fills, fills + direct, &self.prices.origin_egress);
        r.with_cdn = r.total.total + r.direct;
        r.without_cdn = tiered_cost(clients + direct, &self.prices.origin_egress);
        r
    }

    /// The volume tier `bytes` of CDN egress in `region` reaches (a month's
    /// worth: tiers are monthly), as `(tier index, its price per GB)`.
    pub fn egress_tier(&self, region: &str, bytes: u64) -> (usize, Money) {
        let tiers = self.prices_in(region).egress;
        let i =
            tiers.iter().position(|t| t.up_to.is_none_or(|b| bytes <= b.0)).unwrap_or(tiers.len().saturating_sub(1));
        (i, tiers.get(i).map_or(Money::ZERO, |t| t.usd_per_gb))
    }
}

/// The counters a bill is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Bytes sent to clients at the socket (heads and bodies).
    pub bytes_to_clients: u64,
    /// Requests answered.
    pub requests: u64,
    /// Bytes read from the origin at the socket.
    pub bytes_from_origin: u64,
    /// Bytes read from an origin shield at the socket (inter-tier transfer).
    #[serde(default)]
    pub bytes_inter_tier: u64,
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            bytes_to_clients: self.bytes_to_clients + o.bytes_to_clients,
            requests: self.requests + o.requests,
            bytes_from_origin: self.bytes_from_origin + o.bytes_from_origin,
            bytes_inter_tier: self.bytes_inter_tier + o.bytes_inter_tier,
        }
    }
}

/// Dollars by line item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bill {
    /// CDN egress to clients.
    #[serde(with = "decimal")]
    pub cdn_egress: Money,
    /// Request fees.
    #[serde(with = "decimal")]
    pub requests: Money,
    /// The origin's egress for the bytes the edges fetched.
    #[serde(with = "decimal")]
    pub origin_egress: Money,
    /// The CDN's fee for the same bytes.
    #[serde(with = "decimal")]
    pub fill: Money,
    /// Transfer between tiers (bytes read from an origin shield).
    #[serde(default, with = "decimal")]
    pub inter_tier: Money,
    /// The sum of the above.
    #[serde(with = "decimal")]
    pub total: Money,
}

impl Add for Bill {
    type Output = Bill;
    fn add(self, o: Bill) -> Bill {
        Bill {
            cdn_egress: self.cdn_egress + o.cdn_egress,
            requests: self.requests + o.requests,
            origin_egress: self.origin_egress + o.origin_egress,
            fill: self.fill + o.fill,
            inter_tier: self.inter_tier + o.inter_tier,
            total: self.total + o.total,
        }
    }
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
    fn money_decimal_strings_are_exact_both_ways() {
        assert_eq!(Money(123_456).to_decimal(), "0.000123456");
        assert_eq!(Money(-1_500_000_000).to_decimal(), "-1.500000000");
        for s in ["0.085", "12", "$1.25", ".5", "0.000000001", "-0.5"] {
            let m: Money = s.parse().unwrap();
            assert_eq!(m.to_decimal().parse::<Money>().unwrap(), m, "{s}");
        }
        assert_eq!("0.085".parse::<Money>().unwrap(), Money(85_000_000));
        assert_eq!("0.000000001".parse::<Money>().unwrap(), Money(1));
        for bad in ["", ".", "1.0000000001", "abc", "1e3", "--1"] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
    }

    #[test]
    fn list_prices_convert_exactly() {
        for (usd, nanos) in [(0.085, 85_000_000), (0.114, 114_000_000), (0.12, 120_000_000), (0.0100, 10_000_000)] {
            assert_eq!(Money::from_usd(usd), Money(nanos));
        }
    }

    #[test]
    fn tiered_cost_splits_bytes_at_the_boundary() {
        let tiers = [Tier::upto(10 * GB, Money::from_usd(0.12)), Tier::rest(Money::from_usd(0.10))];
        // 12 GB: 10 at 0.12, 2 at 0.10.
        assert_eq!(tiered_cost(12 * GB, &tiers), Money::from_usd(1.2 + 0.2));
        // half a GB past the boundary costs the second tier's price
        let past = tiered_cost(10 * GB + GB / 2, &tiers) - tiered_cost(10 * GB, &tiers);
        assert_eq!(past, Money::from_usd(0.05));
    }

    #[test]
    fn tiered_cost_rounds_once_not_per_tier() {
        // 1 byte at 0.12 $/GB is 0.1117 nano-dollars; 10 bytes in two tiers
        // of 5 would round each share to 0, the exact sum is 1.117 → 1.
        let tiers = [Tier::upto(5, Money::from_usd(0.12)), Tier::rest(Money::from_usd(0.12))];
        assert_eq!(tiered_cost(10, &tiers), Money(1));
        // Across a boundary: bytes × price exactly, in 128-bit integers.
        let tiers = [Tier::upto(1000, Money(120_000_000)), Tier::rest(Money(100_000_000))];
        let n = 1000u64 + 777;
        let want = (1000i128 * 120_000_000 + 777i128 * 100_000_000) / GB as i128;
        assert_eq!(tiered_cost(n, &tiers), Money(want as i64));
    }

    #[test]
    fn shares_of_a_region_add_up_to_the_region_cost() {
        let tiers = [Tier::upto(3 * GB, Money::from_usd(0.12)), Tier::rest(Money::from_usd(0.1))];
        let shares = [GB + 12_345, 2 * GB + 999, 77];
        let mut at = 0;
        let mut sum = Money::ZERO;
        for s in shares {
            sum += tiered_cost_range(at, at + s, &tiers);
            at += s;
        }
        assert_eq!(sum, tiered_cost(at, &tiers));
    }

    #[test]
    fn requests_cost_per_ten_thousand() {
        let p = Money::from_usd(0.01);
        assert_eq!(requests_cost(10_000, p), p);
        assert_eq!(requests_cost(1, p), Money(1_000));
        assert_eq!(requests_cost(3, Money(1)), Money(0));
    }

    #[test]
    fn a_bill_has_every_line_item() {
        let p = Prices { fill_usd_per_gb: Money::from_usd(0.02), ..Prices::default() };
        let u = Usage { bytes_to_clients: 2 * GB, requests: 20_000, bytes_from_origin: GB, bytes_inter_tier: 0 };
        let b = p.bill(&u, &Usage::default(), 0);
        assert_eq!(b.cdn_egress, Money::from_usd(0.17));
        assert_eq!(b.requests, Money::from_usd(0.02));
        assert_eq!(b.origin_egress, Money::from_usd(0.09));
        assert_eq!(b.fill, Money::from_usd(0.02));
        assert_eq!(b.total, Money::from_usd(0.30));
        // After 1 GB of the origin's egress at a tier boundary: the next tier's price.
        let tiered = Prices {
            origin_egress: vec![Tier::upto(GB, Money::from_usd(0.09)), Tier::rest(Money(50_000_000))],
            ..p.clone()
        };
        assert_eq!(tiered.bill(&u, &Usage::default(), GB).origin_egress, Money::from_usd(0.05));
        assert_eq!(p.without_cdn(0, 2 * GB), Money::from_usd(0.18));
        let json = serde_json::to_value(b).unwrap();
        assert_eq!(json["cdn_egress"], "0.170000000");
    }

    #[test]
    fn the_demo_world_ships_cloudfront_and_ec2_list_prices() {
        let w = crate::World::demo().unwrap();
        let first = |r: &str| w.prices_in(r).egress[0].clone();
        assert_eq!(first("seoul"), Tier::upto(10 << 40, Money::from_usd(0.120)));
        assert_eq!(first("tokyo"), Tier::upto(10 << 40, Money::from_usd(0.114)));
        assert_eq!(first("newyork"), Tier::upto(10 << 40, Money::from_usd(0.085)));
        assert_eq!(w.prices_in("newyork").egress.len(), 7);
        assert_eq!(w.prices.requests_usd_per_10k, Money::from_usd(0.01));
        assert_eq!(w.prices.origin_egress[0], Tier::upto(10 << 40, Money::from_usd(0.09)));
        assert_eq!(w.prices.fill_usd_per_gb, Money::ZERO);
        // 10 TB + 1 GB in Tokyo: the last GB at the second tier.
        let t = w.prices_in("tokyo");
        assert_eq!(tiered_cost((10 << 40) + GB, &t.egress), Money::from_usd(0.114 * 10240.0 + 0.089));
    }

    #[test]
    fn prices_accept_numbers_and_decimal_strings() {
        let t: Tier = toml::from_str("up_to = \"10TiB\"\nusd_per_gb = 0.085").unwrap();
        assert_eq!(t, Tier::upto(10 << 40, Money(85_000_000)));
        let t: Tier = toml::from_str("usd_per_gb = \"0.114\"").unwrap();
        assert_eq!(t.usd_per_gb, Money(114_000_000));
        assert!(toml::from_str::<Tier>("usd_per_gb = -1.0").is_err());
    }
}
