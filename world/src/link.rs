//! Links between places: what the network between two regions is like.
//!
//! Every pair of regions (and a region to itself) has a [`Link`]: the RTT of
//! [`crate::latency`] (measured table, else the great-circle formula), plus
//! jitter, loss, bandwidth and TLS from the world file's `[network]` table,
//! its `same_region` overrides, and per-pair `[[link]]` overrides, and the
//! TCP settings of every host (`[network.tcp]`). "Clients of region X
//! talking to a node in region Y" is the link between X and Y, like any other
//! pair. [`crate::transfer`] turns a link into a transfer plan; the
//! world's link between two of its places is found in [`crate::network`].
//!
//! ```toml
//! [network]                      # every link, unless overridden
//! loss = 0.0                     # probability per segment
//! bandwidth = "100Mbit"
//! tls = true
//! jitter = { dist = "none" }
//! same_region = { bandwidth = "1Gbit" }
//!
//! [network.tcp]                  # every host's TCP stack
//! init_cwnd = 10
//!
//! [[link]]                       # one pair (either order), or a region to itself
//! between = ["seoul", "newyork"]
//! loss = 0.001
//! jitter = { dist = "normal", sigma = "3ms" }
//! ```
//!
//! The defaults and where their values come from are in `docs/network.md`;
//! the doc comment of each default function names its source too.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::units::{Bandwidth, ByteSize, Dur};

/// What one pair of places is like: everything the transfer model needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Base round-trip time (the latency table's value).
    pub rtt: Duration,
    /// Extra delay drawn for each round trip.
    pub jitter: Jitter,
    /// Probability that a segment is lost.
    pub loss: f64,
    /// The path's bottleneck rate.
    pub bandwidth: Bandwidth,
    /// Whether connections on this link pay a TLS 1.3 handshake.
    pub tls: bool,
    /// The hosts' TCP settings.
    pub tcp: Tcp,
}

impl Link {
    /// An ideal link of round-trip time `rtt`: no jitter, no loss, unlimited
    /// bandwidth, no TLS, default TCP. A starting point for tests and for
    /// predictions of the round-trip-bound closed forms.
    pub fn ideal(rtt: Duration) -> Self {
        Self { rtt, jitter: Jitter::None, loss: 0.0, bandwidth: Bandwidth::UNLIMITED, tls: false, tcp: Tcp::default() }
    }

    /// This link with `settings` laid over it (only the fields they set).
    pub(crate) fn with(mut self, s: &LinkSettings) -> Self {
        if let Some(j) = s.jitter {
            self.jitter = j;
        }
        if let Some(l) = s.loss {
            self.loss = l;
        }
        if let Some(b) = s.bandwidth {
            self.bandwidth = b;
        }
        if let Some(t) = s.tls {
            self.tls = t;
        }
        self
    }
}

/// Jitter: an extra delay drawn for every round trip, added to its
/// delivery leg. The clamping rules (also in `docs/network.md`):
///
/// - `normal`: σ·z with z standard normal clamped to ±3 (so |jitter| ≤ 3σ);
/// - `pareto`: a Lomax (Pareto type II) draw `scale·(u^(-1/shape) − 1)`,
///   which starts at 0 and has a heavy tail, clamped to ≤ `max` (default
///   1 s, RFC 6298's initial RTO: a real sender would time out beyond it,
///   which the model does not capture);
/// - every draw is then clamped to ≥ −RTT/2, so no leg has a negative delay,
///   and [`crate::transfer`] keeps arrivals in order (TCP delivers in order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum Jitter {
    /// No jitter: every round trip takes the base RTT.
    None,
    /// Symmetric around the base RTT (the table's RTTs are medians).
    Normal {
        /// Standard deviation.
        sigma: Dur,
    },
    /// Non-negative and heavy-tailed: queueing delay spikes.
    Pareto {
        /// Scale: the median draw is `scale·(2^(1/shape) − 1)`.
        scale: Dur,
        /// Shape (tail index): smaller is heavier (≤ 1: infinite mean).
        shape: f64,
        /// Largest draw.
        #[serde(default = "pareto_max_default")]
        max: Dur,
    },
}

/// RFC 6298 §2.1: the initial RTO, 1 s.
fn pareto_max_default() -> Dur {
    Dur::secs(1)
}

impl Jitter {
    /// One draw in seconds, before the −RTT/2 clamp (see [`Jitter`]).
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            Jitter::None => 0.0,
            Jitter::Normal { sigma } => sigma.0.as_secs_f64() * rng.normal().clamp(-3.0, 3.0),
            Jitter::Pareto { scale, shape, max } => {
                let u = 1.0 - rng.next_f64(); // (0, 1]
                let x = scale.0.as_secs_f64() * (u.powf(-1.0 / shape) - 1.0);
                if x.is_finite() { x.min(max.0.as_secs_f64()) } else { max.0.as_secs_f64() }
            }
        }
    }

    /// Whether draws are always zero (no random numbers are used then).
    pub fn is_none(&self) -> bool {
        matches!(self, Jitter::None)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        match *self {
            Jitter::None => Ok(()),
            Jitter::Normal { sigma } if sigma.0 > Duration::from_secs(1) => {
                Err(format!("jitter sigma {sigma} must be at most 1s"))
            }
            Jitter::Normal { .. } => Ok(()),
            Jitter::Pareto { scale, shape, max } => {
                if scale.0.is_zero() || scale.0 > Duration::from_secs(1) {
                    return Err(format!("jitter scale {scale} must be > 0 and at most 1s"));
                }
                if !(shape.is_finite() && shape > 0.0 && shape <= 100.0) {
                    return Err(format!("jitter shape {shape} must be > 0 and at most 100"));
                }
                if max < scale || max.0 > Duration::from_secs(60) {
                    return Err(format!("jitter max {max} must be at least the scale ({scale}) and at most 60s"));
                }
                Ok(())
            }
        }
    }
}

/// Every host's TCP stack (`[network.tcp]`). Defaults are Linux's and the
/// RFCs'; see `docs/network.md` for each source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    /// Initial congestion window, segments.
    #[serde(default = "init_cwnd_default")]
    pub init_cwnd: u32,
    /// Maximum segment size, bytes.
    #[serde(default = "mss_default")]
    pub mss: u32,
    /// Largest receive window the receiver advertises: caps the window.
    #[serde(default = "rwnd_default")]
    pub rwnd: ByteSize,
    /// Lower bound of the retransmission timeout: RTO = RTT + rto_min.
    #[serde(default = "rto_min_default")]
    pub rto_min: Dur,
    /// Retransmission timeout before any RTT sample (a lost SYN).
    #[serde(default = "initial_rto_default")]
    pub initial_rto: Dur,
    /// Whether a connection idle longer than the RTO restarts slow start.
    #[serde(default = "yes")]
    pub slow_start_after_idle: bool,
}

/// RFC 6928: IW = 10 segments (Linux's default since 2.6.39).
fn init_cwnd_default() -> u32 {
    10
}
/// Ethernet's 1500-byte MTU less 20 bytes of IPv4 and 20 of TCP header.
fn mss_default() -> u32 {
    1460
}
/// Linux: `net.ipv4.tcp_rmem` allows a receive buffer of up to 6 MiB by
/// default, of which `tcp_adv_win_scale = 1` advertises half.
fn rwnd_default() -> ByteSize {
    ByteSize::mib(3)
}
/// Linux `TCP_RTO_MIN` (200 ms); RFC 6298 would say 1 s.
fn rto_min_default() -> Dur {
    Dur::millis(200)
}
/// RFC 6298 §2.1 (Linux `TCP_TIMEOUT_INIT`): 1 s.
fn initial_rto_default() -> Dur {
    Dur::secs(1)
}
/// Linux `net.ipv4.tcp_slow_start_after_idle = 1`.
fn yes() -> bool {
    true
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            init_cwnd: init_cwnd_default(),
            mss: mss_default(),
            rwnd: rwnd_default(),
            rto_min: rto_min_default(),
            initial_rto: initial_rto_default(),
            slow_start_after_idle: true,
        }
    }
}

impl Tcp {
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=1000).contains(&self.init_cwnd) {
            return Err(("init_cwnd", format!("init_cwnd {} must be 1..=1000 segments", self.init_cwnd)));
        }
        if !(536..=9000).contains(&self.mss) {
            return Err(("mss", format!("mss {} must be 536..=9000 bytes", self.mss)));
        }
        let iw = self.init_cwnd as u64 * self.mss as u64;
        if self.rwnd.0 < iw || self.rwnd.0 > 1 << 30 {
            return Err((
                "rwnd",
                format!("rwnd {} must hold the initial window ({iw} bytes) and be at most 1GiB", self.rwnd),
            ));
        }
        if self.rto_min.0 < Duration::from_millis(1) || self.rto_min.0 > Duration::from_secs(10) {
            return Err(("rto_min", format!("rto_min {} must be 1ms..=10s", self.rto_min)));
        }
        if self.initial_rto.0 < Duration::from_millis(1) || self.initial_rto.0 > Duration::from_secs(60) {
            return Err(("initial_rto", format!("initial_rto {} must be 1ms..=60s", self.initial_rto)));
        }
        Ok(())
    }
}

/// The world file's `[network]`: what every link has unless overridden.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Jitter of every link.
    #[serde(default = "jitter_default")]
    pub jitter: Jitter,
    /// Loss probability per segment.
    #[serde(default)]
    pub loss: f64,
    /// Bottleneck bandwidth.
    #[serde(default = "bandwidth_default")]
    pub bandwidth: Bandwidth,
    /// Whether connections pay a TLS 1.3 handshake.
    #[serde(default = "yes")]
    pub tls: bool,
    /// Overrides for a region to itself (before any `[[link]]`).
    #[serde(default)]
    pub same_region: LinkSettings,
    /// Every host's TCP stack.
    #[serde(default)]
    pub tcp: Tcp,
    /// Whether servers pace their responses by this model on the wire
    /// (`runtime::pace`); `false` (or a server's `--no-pacing`) sends
    /// everything at loopback speed, as before the model was applied.
    #[serde(default = "yes")]
    pub pacing: bool,
}

fn jitter_default() -> Jitter {
    Jitter::None
}
/// The Speedtest Global Index median of fixed broadband downloads (107.5
/// Mbit/s worldwide, July 2021), rounded: a typical client's bottleneck.
fn bandwidth_default() -> Bandwidth {
    Bandwidth::mbit(100)
}

impl Default for Network {
    fn default() -> Self {
        Self {
            jitter: jitter_default(),
            loss: 0.0,
            bandwidth: bandwidth_default(),
            tls: true,
            same_region: LinkSettings::default(),
            tcp: Tcp::default(),
            pacing: true,
        }
    }
}

/// Overrides of a link's properties; fields not given keep the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// Override of [`Network::jitter`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// Override of [`Network::loss`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Override of [`Network::bandwidth`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// Override of [`Network::tls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
}

/// One `[[link]]`: overrides for a pair of regions (symmetric), or for a
/// region to itself. The RTT stays in `[latency]`, its one source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    /// The two regions (either order; the same name twice: within a region).
    pub between: [String; 2],
    /// Override of [`Network::jitter`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// Override of [`Network::loss`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Override of [`Network::bandwidth`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// Override of [`Network::tls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
}

impl LinkEntry {
    pub(crate) fn settings(&self) -> LinkSettings {
        LinkSettings { jitter: self.jitter, loss: self.loss, bandwidth: self.bandwidth, tls: self.tls }
    }

    pub(crate) fn joins(&self, a: &str, b: &str) -> bool {
        (self.between[0] == a && self.between[1] == b) || (self.between[0] == b && self.between[1] == a)
    }
}

/// Largest loss probability a world may set: above it TCP barely moves
/// (model such a path as an outage instead).
pub const MAX_LOSS: f64 = 0.2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_jitter_stays_within_three_sigma() {
        let j = Jitter::Normal { sigma: Dur::millis(5) };
        let mut r = Rng::new(1);
        let draws: Vec<f64> = (0..10_000).map(|_| j.sample(&mut r)).collect();
        assert!(draws.iter().all(|d| d.abs() <= 0.015 + 1e-12));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let sd = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
        assert!(mean.abs() < 0.0002, "{mean}");
        assert!((sd - 0.005).abs() < 0.0003, "{sd}");
    }

    #[test]
    fn pareto_jitter_is_non_negative_capped_with_the_lomax_median() {
        let j = Jitter::Pareto { scale: Dur::millis(2), shape: 1.5, max: Dur::millis(100) };
        let mut r = Rng::new(2);
        let mut draws: Vec<f64> = (0..20_001).map(|_| j.sample(&mut r)).collect();
        assert!(draws.iter().all(|d| (0.0..=0.1).contains(d)));
        assert!(draws.contains(&0.1), "the heavy tail reaches the cap");
        draws.sort_by(f64::total_cmp);
        let median = draws[10_000];
        let want = 0.002 * (2f64.powf(1.0 / 1.5) - 1.0); // 1.175 ms
        assert!((median - want).abs() < 0.0001, "{median} vs {want}");
    }
}
