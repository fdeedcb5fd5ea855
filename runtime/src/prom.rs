//! Prometheus text exposition (format 0.0.4), written by hand: the servers
//! register nothing at run time; each renders its counters on request.
//! Metric names are constants in the component's own module
//! (`cdnlab_edge_…`), labels come from small fixed sets (edge, outcome,
//! tier, …), never from request data.
//!
//! - [`Encoder`]: one `# HELP`/`# TYPE` header per family, then its samples,
//!   label values escaped;
//! - [`Histogram`]: fixed buckets of lock-free counters, recorded with two
//!   atomic adds and no allocation (the edge's hit path records into one).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a metric family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Builds an exposition. Call [`Encoder::family`] once per metric name,
/// then add that family's samples before starting the next.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
    current: Option<&'static str>,
}

impl Encoder {
    /// An empty exposition.
    pub fn new() -> Self {
        Self { out: String::with_capacity(8 * 1024), current: None }
    }

    /// Starts the family `name` with its help text.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> &mut Self {
        debug_assert!(is_metric_name(name), "{name}");
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self.current = Some(name);
        self
    }

    /// A sample of the current family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Value) -> &mut Self {
        let name = self.current.unwrap_or("unnamed");
        self.line(name, "", labels, None, value);
        self
    }

    /// A family with one sample.
    pub fn single(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &str,
        labels: &[(&str, &str)],
        value: impl Value,
    ) -> &mut Self {
        self.family(name, kind, help).sample(labels, value)
    }

    /// A histogram's series (`_bucket`, `_sum`, `_count`) in the current
    /// family (started with [`Kind::Histogram`]); the sum is in seconds.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &HistogramSnapshot) -> &mut Self {
        let name = self.current.unwrap_or("unnamed");
        let mut cumulative = 0u64;
        for (bound, n) in h.bounds.iter().zip(&h.counts) {
            cumulative += n;
            let le = seconds(*bound);
            self.line(name, "_bucket", labels, Some(&le), cumulative);
        }
        cumulative += h.counts.get(h.bounds.len()).copied().unwrap_or(0);
        self.line(name, "_bucket", labels, Some("+Inf"), cumulative);
        self.line(name, "_sum", labels, None, Seconds(h.sum_nanos));
        self.line(name, "_count", labels, None, cumulative);
        self
    }

    fn line(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], le: Option<&str>, value: impl Value) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            self.out.push('{');
            let mut first = true;
            for (k, v) in labels.iter().copied().chain(le.map(|l| ("le", l))) {
                if !first {
                    self.out.push(',');
                }
                first = false;
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        value.write(&mut self.out);
        self.out.push('\n');
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A sample value.
pub trait Value {
    /// Appends the value as Prometheus writes numbers.
    fn write(&self, out: &mut String);
}

impl Value for u64 {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for usize {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for i64 {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    fn write(&self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if *self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

/// Nanoseconds written exactly as decimal seconds.
#[derive(Debug, Clone, Copy)]
pub struct Seconds(pub u64);

impl Value for Seconds {
    fn write(&self, out: &mut String) {
        out.push_str(&seconds(self.0));
    }
}

/// Nano-dollars written exactly as decimal dollars.
impl Value for world::Money {
    fn write(&self, out: &mut String) {
        out.push_str(&self.to_decimal());
    }
}

/// Decimal seconds from nanoseconds, without float noise: `0.00025`, `1`.
fn seconds(nanos: u64) -> String {
    let whole = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:09}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Whether `s` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// Upper bounds of request-duration buckets, nanoseconds: 50 µs to 10 s.
pub const DURATION_BUCKETS: [u64; 17] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

const SLOTS: usize = DURATION_BUCKETS.len() + 1;

/// A duration histogram with the fixed [`DURATION_BUCKETS`] (and +Inf).
/// Recording is two relaxed atomic adds; the count is the sum of the
/// buckets, so a reader never sees a count that disagrees with them.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; SLOTS],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    #[inline]
    pub fn record(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = DURATION_BUCKETS.iter().position(|b| n <= *b).unwrap_or(DURATION_BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(n, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: &DURATION_BUCKETS,
            counts: self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

/// A copy of a [`Histogram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Upper bounds, nanoseconds.
    pub bounds: &'static [u64],
    /// Observations per bucket (not cumulative); one more than `bounds` (+Inf).
    pub counts: Vec<u64>,
    /// Sum of observations, nanoseconds.
    pub sum_nanos: u64,
}

impl HistogramSnapshot {
    /// Observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound (nanoseconds) of the bucket holding quantile `q`
    /// (`None` when empty or in the +Inf bucket).
    pub fn quantile_bound(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= want {
                return self.bounds.get(i).copied();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_one_header_and_escaped_labels() {
        let mut e = Encoder::new();
        e.family("cdnlab_test_requests_total", Kind::Counter, "Requests.\nTwo lines.")
            .sample(&[("edge", "seoul"), ("outcome", "hit")], 3u64)
            .sample(&[("edge", "a\"b\\c")], 0u64);
        e.single("cdnlab_test_up", Kind::Gauge, "Up.", &[], 1u64);
        let t = e.finish();
        assert_eq!(
            t,
            "# HELP cdnlab_test_requests_total Requests.\\nTwo lines.\n\
             # TYPE cdnlab_test_requests_total counter\n\
             cdnlab_test_requests_total{edge=\"seoul\",outcome=\"hit\"} 3\n\
             cdnlab_test_requests_total{edge=\"a\\\"b\\\\c\"} 0\n\
             # HELP cdnlab_test_up Up.\n# TYPE cdnlab_test_up gauge\ncdnlab_test_up 1\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_exact_seconds() {
        let h = Histogram::default();
        h.record(Duration::from_micros(40));
        h.record(Duration::from_micros(60));
        h.record(Duration::from_secs(11));
        let s = h.snapshot();
        assert_eq!(s.count(), 3);
        assert_eq!(s.quantile_bound(0.5), Some(100_000));
        assert_eq!(s.quantile_bound(1.0), None);
        let mut e = Encoder::new();
        e.family("cdnlab_test_seconds", Kind::Histogram, "D.").histogram(&[("edge", "x")], &s);
        let t = e.finish();
        assert!(t.contains("cdnlab_test_seconds_bucket{edge=\"x\",le=\"0.00005\"} 1\n"), "{t}");
        assert!(t.contains("cdnlab_test_seconds_bucket{edge=\"x\",le=\"0.0001\"} 2\n"), "{t}");
        assert!(t.contains("cdnlab_test_seconds_bucket{edge=\"x\",le=\"10\"} 2\n"), "{t}");
        assert!(t.contains("cdnlab_test_seconds_bucket{edge=\"x\",le=\"+Inf\"} 3\n"), "{t}");
        assert!(t.contains("cdnlab_test_seconds_sum{edge=\"x\"} 11.0001\n"), "{t}");
        assert!(t.contains("cdnlab_test_seconds_count{edge=\"x\"} 3\n"), "{t}");
    }

    #[test]
    fn money_is_written_exactly() {
        let mut e = Encoder::new();
        e.single("cdnlab_test_dollars_total", Kind::Counter, "$.", &[], world::Money(123_456));
        assert!(e.finish().ends_with("cdnlab_test_dollars_total 0.000123456\n"));
    }

    #[test]
    fn metric_names_are_checked() {
        assert!(is_metric_name("cdnlab_edge_requests_total"));
        assert!(!is_metric_name("9lives"));
        assert!(!is_metric_name("a-b"));
    }
}
