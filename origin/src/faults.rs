//! Fault injection on the public listener: added latency, a fraction of
//! error responses, and outages (`reset`: close without answering; `hang`:
//! never answer; `status`: 503 to everything).
//!
//! Error-rate draws are deterministic: the n-th public request draws
//! `Rng::from_parts(b"fault", seed ^ n)`, so a run with the same seed and
//! request order fails the same requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use world::rng::Rng;

/// Longest latency that may be injected.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// An outage mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outage {
    /// No outage.
    #[default]
    Off,
    /// Accept and close the connection at once, without a response.
    Reset,
    /// Never answer (until the origin stops).
    Hang,
    /// Answer 503 to every public request.
    Status,
}

impl Outage {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outage::Off => "off",
            Outage::Reset => "reset",
            Outage::Hang => "hang",
            Outage::Status => "status",
        }
    }
}

/// The faults in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added before every public response (simulated milliseconds).
    pub latency_ms: u64,
    /// Fraction (0..=1) of public requests answered `error_status`.
    pub error_rate: f64,
    /// Status of injected errors (4xx or 5xx).
    pub error_status: u16,
    /// Outage mode.
    pub outage: Outage,
    /// Flip a byte in every 200 body while keeping its `Content-Digest`
    /// (for testing integrity checks: every client must notice).
    pub corrupt: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self { latency_ms: 0, error_rate: 0.0, error_status: 503, outage: Outage::Off, corrupt: false }
    }
}

impl Faults {
    /// Checks the values; the error says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.error_rate.is_finite() && (0.0..=1.0).contains(&self.error_rate)) {
            return Err(format!("error_rate {} must be between 0 and 1", self.error_rate));
        }
        if !(400..=599).contains(&self.error_status) {
            return Err(format!("error_status {} must be a 4xx or 5xx status", self.error_status));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!("latency_ms {} is above the {MAX_LATENCY_MS} ms limit", self.latency_ms));
        }
        Ok(())
    }

    /// The added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// A change to the faults in force (`POST /faults`): fields given replace
/// the current ones, fields left out stay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// New `latency_ms`.
    pub latency_ms: Option<u64>,
    /// New `error_rate`.
    pub error_rate: Option<f64>,
    /// New `error_status`.
    pub error_status: Option<u16>,
    /// New `outage`.
    pub outage: Option<Outage>,
    /// New `corrupt`.
    pub corrupt: Option<bool>,
}

impl FaultsPatch {
    /// `base` with this patch applied.
    pub fn apply(&self, base: Faults) -> Faults {
        Faults {
            latency_ms: self.latency_ms.unwrap_or(base.latency_ms),
            error_rate: self.error_rate.unwrap_or(base.error_rate),
            error_status: self.error_status.unwrap_or(base.error_status),
            outage: self.outage.unwrap_or(base.outage),
            corrupt: self.corrupt.unwrap_or(base.corrupt),
        }
    }
}

/// The faults in force and the error-rate draw counter.
#[derive(Debug)]
pub struct FaultState {
    current: RwLock<Faults>,
    draws: AtomicU64,
    seed: u64,
}

impl FaultState {
    /// No faults; draws seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { current: RwLock::new(Faults::default()), draws: AtomicU64::new(0), seed }
    }

    /// The faults in force.
    pub fn get(&self) -> Faults {
        *self.current.read()
    }

    /// Replaces the faults (after [`Faults::validate`]).
    pub fn set(&self, f: Faults) -> Result<Faults, String> {
        f.validate()?;
        *self.current.write() = f;
        Ok(f)
    }

    /// Applies a patch atomically.
    pub fn patch(&self, p: &FaultsPatch) -> Result<Faults, String> {
        let mut cur = self.current.write();
        let next = p.apply(*cur);
        next.validate()?;
        *cur = next;
        Ok(next)
    }

    /// Whether this request draws an injected error at `rate`.
    pub fn draw_error(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        Rng::from_parts(b"fault", self.seed ^ n).next_f64() < rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_json_has_defaults_and_refuses_unknown_fields() {
        let f: Faults = serde_json::from_str(r#"{"outage":"reset"}"#).unwrap();
        assert_eq!(f, Faults { outage: Outage::Reset, ..Faults::default() });
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"latency":5}"#).is_err());
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"outage":"sometimes"}"#).is_err());
    }

    #[test]
    fn patches_keep_what_they_do_not_name() {
        let s = FaultState::new(1);
        s.patch(&FaultsPatch { latency_ms: Some(50), ..FaultsPatch::default() }).unwrap();
        s.patch(&FaultsPatch { outage: Some(Outage::Hang), ..FaultsPatch::default() }).unwrap();
        assert_eq!(s.get(), Faults { latency_ms: 50, outage: Outage::Hang, ..Faults::default() });
    }

    #[test]
    fn invalid_values_are_refused_and_change_nothing() {
        let s = FaultState::new(1);
        for p in [
            FaultsPatch { error_rate: Some(1.5), ..FaultsPatch::default() },
            FaultsPatch { error_rate: Some(f64::NAN), ..FaultsPatch::default() },
            FaultsPatch { error_status: Some(200), ..FaultsPatch::default() },
            FaultsPatch { latency_ms: Some(MAX_LATENCY_MS + 1), ..FaultsPatch::default() },
        ] {
            assert!(s.patch(&p).is_err(), "{p:?}");
        }
        assert_eq!(s.get(), Faults::default());
    }

    #[test]
    fn the_error_rate_is_roughly_respected() {
        let s = FaultState::new(7);
        let hits = (0..10_000).filter(|_| s.draw_error(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!((0..100).all(|_| s.draw_error(1.0)));
        assert!((0..100).all(|_| !s.draw_error(0.0)));
    }
}
