//! Fault injection on the public listener: added latency, a fraction of
//! error responses, and outages (`reset`: close without answering; `hang`:
//! never answer; `status`: 503 to everything).
//!
//! Error-rate draws are deterministic: the n-th public request draws
//! `Rng::from_parts(b"fault", seed ^ n)`, so a run with the same seed and
//! request order fails the same requests.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use world::rng::Rng;

pub use api::origin::{Faults, FaultsPatch, MAX_LATENCY_MS, Outage};

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
