//! Reading the Prometheus text format the components serve on `/metrics`
//! (only what the dashboard needs: samples with labels, and quantiles of a
//! histogram's buckets the way PromQL's `histogram_quantile` computes them).

use crate::dashboard::model::Percentiles;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Metric name (with `_bucket`, `_sum`, `_count` suffixes as written).
    pub name: &'a str,
    /// Labels, values unescaped.
    pub labels: Vec<(&'a str, String)>,
    /// Value.
    pub value: f64,
}

impl Sample<'_> {
    /// The value of label `k`.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
    }
}

/// Every sample of `text` (comments and malformed lines skipped).
pub fn samples(text: &str) -> impl Iterator<Item = Sample<'_>> {
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(line)
}

fn line(l: &str) -> Option<Sample<'_>> {
    let name_end = l.find(['{', ' '])?;
    let name = &l[..name_end];
    let mut labels = Vec::new();
    let mut rest = &l[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            r = r.trim_start_matches([',', ' ']);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find('=')?;
            let key = r[..eq].trim();
            let mut chars = r[eq + 1..].char_indices();
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            let mut end = None;
            let mut escaped = false;
            for (i, c) in chars {
                match (escaped, c) {
                    (true, 'n') => (value.push('\n'), escaped = false).1,
                    (true, c) => (value.push(c), escaped = false).1,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(eq + 1 + i + 1);
                        break;
                    }
                    (false, c) => value.push(c),
                }
            }
            labels.push((key, value));
            r = &r[end?..];
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { name, labels, value })
}

/// Cumulative bucket counts of one histogram, by upper bound (`le`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(pub Vec<(f64, f64)>);

impl Buckets {
    /// Adds `count` to the bucket `le` (merging series of one histogram).
    pub fn add(&mut self, le: f64, count: f64) {
        match self.0.iter_mut().find(|(l, _)| *l == le) {
            Some(b) => b.1 += count,
            None => {
                self.0.push((le, count));
                self.0.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
    }

    /// `self - earlier`, bucket by bucket (a counter that went down, after
    /// a restart, counts from zero).
    pub fn minus(&self, earlier: &Buckets) -> Buckets {
        Buckets(
            self.0
                .iter()
                .map(|&(le, n)| {
                    let before = earlier.0.iter().find(|(l, _)| *l == le).map_or(0.0, |b| b.1);
                    (le, if n >= before { n - before } else { n })
                })
                .collect(),
        )
    }

    /// The `q` quantile in the buckets' unit, interpolated linearly inside
    /// its bucket (PromQL `histogram_quantile`); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.0.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut prev = (0.0, 0.0);
        for &(le, n) in &self.0 {
            if n >= rank {
                if le.is_infinite() {
                    return Some(prev.0);
                }
                let inside = n - prev.1;
                let frac = if inside > 0.0 { (rank - prev.1) / inside } else { 1.0 };
                return Some(prev.0 + (le - prev.0) * frac);
            }
            prev = (le, n);
        }
        Some(prev.0)
    }

    /// p50/p95/p99 in milliseconds of a histogram in seconds.
    pub fn percentiles_ms(&self) -> Option<Percentiles> {
        Some(Percentiles {
            p50: self.quantile(0.5)? * 1000.0,
            p95: self.quantile(0.95)? * 1000.0,
            p99: self.quantile(0.99)? * 1000.0,
            n: self.0.last().map_or(0, |b| b.1 as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let text = "# HELP x y\n# TYPE x counter\nx_total 3\nx{edge=\"se\\\"oul\",outcome=\"hit\"} 4.5\nbad line\nh_bucket{le=\"+Inf\"} 7\n";
        let v: Vec<Sample<'_>> = samples(text).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], Sample { name: "x_total", labels: vec![], value: 3.0 });
        assert_eq!(v[1].label("edge"), Some("se\"oul"));
        assert_eq!(v[1].label("outcome"), Some("hit"));
        assert_eq!(v[1].value, 4.5);
        assert_eq!(v[2].label("le"), Some("+Inf"));
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let mut b = Buckets::default();
        for (le, n) in [(0.001, 0.0), (0.01, 50.0), (0.1, 100.0), (f64::INFINITY, 100.0)] {
            b.add(le, n);
        }
        // rank 50 is the top of the (0.001, 0.01] bucket.
        assert!((b.quantile(0.5).unwrap() - 0.01).abs() < 1e-12);
        // rank 25: halfway through it.
        assert!((b.quantile(0.25).unwrap() - 0.0055).abs() < 1e-12);
        // rank 99: 98% through (0.01, 0.1].
        assert!((b.quantile(0.99).unwrap() - (0.01 + 0.09 * 0.98)).abs() < 1e-12);
        let earlier = Buckets(vec![(0.001, 0.0), (0.01, 50.0), (0.1, 50.0), (f64::INFINITY, 50.0)]);
        let d = b.minus(&earlier);
        assert_eq!(d.0[1].1, 0.0);
        assert!((d.quantile(0.5).unwrap() - 0.055).abs() < 1e-12);
        assert_eq!(Buckets::default().quantile(0.5), None);
    }
}
