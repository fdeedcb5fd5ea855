//! One clock for every process of a world.
//!
//! Simulated time runs `time_scale` times faster than the wall clock from a
//! shared anchor instant, so every process (each computing from its own wall
//! clock and the same anchor and scale) agrees on the simulated time:
//! `sim = anchor + (wall - anchor) × scale`. `cdn run` passes the anchor to
//! its children in `CDNLAB_CLOCK_ANCHOR_MS`. Tests use a manual clock and
//! advance it instead of sleeping.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// Environment variable carrying the shared anchor, Unix milliseconds.
pub const ANCHOR_ENV: &str = "CDNLAB_CLOCK_ANCHOR_MS";

/// A cheap-to-clone handle on the process clock.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Wall,
    Scaled { scale: f64, anchor: SystemTime },
    Manual { nanos: AtomicU64 },
}

impl Default for Clock {
    fn default() -> Self {
        Self::wall()
    }
}

impl Clock {
    /// The wall clock, unscaled.
    pub fn wall() -> Self {
        Self { inner: Arc::new(Inner::Wall) }
    }

    /// Simulated time running `scale` times faster than the wall clock from
    /// `anchor`. A scale of 1 is the wall clock.
    pub fn scaled(scale: f64, anchor: SystemTime) -> Self {
        if scale == 1.0 || !scale.is_finite() || scale <= 0.0 {
            return Self::wall();
        }
        Self { inner: Arc::new(Inner::Scaled { scale, anchor }) }
    }

    /// A world's clock: its `time_scale`, anchored at `CDNLAB_CLOCK_ANCHOR_MS`
    /// when set (and not in the future), else now. So simulated time never
    /// runs ahead of wall time × scale, a bound the edge's purge recovery
    /// relies on.
    pub fn for_scale(scale: f64) -> Self {
        let now = SystemTime::now();
        let anchor = std::env::var(ANCHOR_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
            .filter(|a| *a <= now)
            .unwrap_or(now);
        Self::scaled(scale, anchor)
    }

    /// A clock that stands still until [`Clock::advance`] moves it.
    pub fn manual(start: SystemTime) -> Self {
        let nanos = start.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        Self { inner: Arc::new(Inner::Manual { nanos: AtomicU64::new(nanos) }) }
    }

    /// Current (simulated) time.
    pub fn now(&self) -> SystemTime {
        match &*self.inner {
            Inner::Wall => SystemTime::now(),
            Inner::Scaled { scale, anchor } => {
                let wall = SystemTime::now();
                match wall.duration_since(*anchor) {
                    Ok(d) => *anchor + d.mul_f64(*scale),
                    Err(e) => *anchor - e.duration().mul_f64(*scale),
                }
            }
            Inner::Manual { nanos } => UNIX_EPOCH + Duration::from_nanos(nanos.load(Ordering::Acquire)),
        }
    }

    /// Current time in whole seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
    }

    /// Current time in whole milliseconds since the Unix epoch (0 before it).
    #[inline]
    pub fn unix_ms(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    /// Moves a manual clock forward; other clocks ignore it.
    pub fn advance(&self, d: Duration) {
        if let Inner::Manual { nanos } = &*self.inner {
            nanos.fetch_add(d.as_nanos() as u64, Ordering::AcqRel);
        }
    }

    /// Simulated time per wall second.
    pub fn scale(&self) -> f64 {
        match &*self.inner {
            Inner::Scaled { scale, .. } => *scale,
            _ => 1.0,
        }
    }

    /// Whether this is a manual (test) clock.
    pub fn is_manual(&self) -> bool {
        matches!(&*self.inner, Inner::Manual { .. })
    }

    /// The wall-clock duration of a simulated duration.
    pub fn to_wall(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale())
    }

    /// `Date` header value for now, in IMF-fixdate (RFC 9110 §5.6.7),
    /// formatted once per second per thread.
    pub fn http_date(&self) -> HeaderValue {
        http_date_at(self.unix_secs())
    }
}

thread_local! {
    static DATE_CACHE: RefCell<(u64, HeaderValue)> = const { RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
}

/// IMF-fixdate `HeaderValue` for a Unix second, cached per thread.
pub fn http_date_at(secs: u64) -> HeaderValue {
    DATE_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let s = httpdate_fmt(UNIX_EPOCH + Duration::from_secs(secs));
            c.1 = HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""));
            c.0 = secs;
        }
        c.1.clone()
    })
}

/// Formats a time as a sortable UTC stamp for file names (ISO 8601 basic
/// format): `19941106T084937Z`. Names with it sort in time order.
pub fn file_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let rem = secs % 86400;
    let (y, mo, d) = civil_from_days((secs / 86400) as i64);
    format!("{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Formats a time as IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn httpdate_fmt(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // 1970-01-01 was a Thursday.
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d) = civil_from_days(days as i64);
    format!("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", WD[(days % 7) as usize], d, MO[(mo - 1) as usize], y, h, m, s)
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::manual(UNIX_EPOCH + Duration::from_secs(1000));
        assert_eq!(c.unix_secs(), 1000);
        c.advance(Duration::from_secs(5));
        assert_eq!(c.unix_secs(), 1005);
    }

    #[test]
    fn scaled_clocks_with_one_anchor_agree_and_run_faster() {
        let anchor = SystemTime::now() - Duration::from_secs(10);
        let a = Clock::scaled(60.0, anchor);
        let b = Clock::scaled(60.0, anchor);
        // Read between two wall readings: each simulated time must be the
        // anchor plus 60 × the wall time since it, at some moment between
        // them, however long this thread was descheduled.
        let w0 = SystemTime::now();
        let (ta, tb) = (a.now(), b.now());
        let w1 = SystemTime::now();
        let sim = |w: SystemTime| anchor + w.duration_since(anchor).unwrap().mul_f64(60.0);
        for t in [ta, tb] {
            assert!(sim(w0) <= t && t <= sim(w1), "{t:?} outside [{:?}, {:?}]", sim(w0), sim(w1));
        }
        // 10 wall seconds since the anchor are at least 600 simulated seconds.
        assert!(ta.duration_since(anchor).unwrap() >= Duration::from_secs(600));
        assert_eq!(a.to_wall(Duration::from_secs(60)), Duration::from_secs(1));
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(httpdate_fmt(UNIX_EPOCH + Duration::from_secs(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(httpdate_fmt(UNIX_EPOCH + Duration::from_secs(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn file_stamps_are_utc_and_sort_in_time_order() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(file_stamp(at(784_111_777)), "19941106T084937Z");
        assert_eq!(file_stamp(at(951_782_400)), "20000229T000000Z");
        // Sunday 2026-12-06 before Monday 2027-01-04: the day-name stamps
        // used before (`Sun06Dec2026…`, `Mon04Jan2027…`) sorted these the
        // wrong way round.
        let (sun, mon) = (file_stamp(at(1_796_538_523)), file_stamp(at(1_799_020_800)));
        assert_eq!(sun, "20261206T062843Z");
        assert!(sun < mon, "{sun} {mon}");
        assert_eq!(http_date_at(0).to_str().unwrap(), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
