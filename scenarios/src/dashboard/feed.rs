//! What `cdn run` tells the dashboard besides the components' counters:
//! the scenario (name, question, timeline, expectations), its progress, and
//! the clients' own view of every request (latency per client region, who
//! answered whom), fed one [`Sample`] at a time by the run's collector.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use serde::Serialize;
use world::World;

use crate::dashboard::model::{ORIGIN, Percentiles, edge_id};
use crate::driver::{Kind, Live, NONE, ORIGIN as SAMPLE_ORIGIN, Sample};
use crate::report::{Report, Totals};
use crate::scenario::{Scenario, parse_expectation};

/// Report fields ([`crate::scenario::Field`]) that need the edges'
/// and origin's final counters (cost, offload) or the whole run (latency
/// without the CDN, a month at the run's rate): judged at the end; the
/// others come from the clients' samples and are judged as the run goes on.
const AT_THE_END: [&str; 6] =
    ["origin_offload", "cost_usd", "origin_only_cost_usd", "savings_usd", "origin_only_p50_ms", "monthly_savings_usd"];

/// A latency histogram with buckets 5% apart (percentiles within ±2.5%).
#[derive(Debug, Clone)]
struct LogHist {
    counts: Vec<u64>,
    n: u64,
}

const BUCKETS: usize = 420; // 10 µs × 1.05^420 ≈ 8 × 10^9 µs
const BASE_US: f64 = 10.0;

impl LogHist {
    fn new() -> Self {
        LogHist { counts: vec![0; BUCKETS], n: 0 }
    }

    fn bucket(us: u32) -> usize {
        let x = (us as f64 / BASE_US).max(1.0);
        ((x.ln() / 1.05f64.ln()) as usize).min(BUCKETS - 1)
    }

    fn add(&mut self, us: u32) {
        self.counts[Self::bucket(us)] += 1;
        self.n += 1;
    }

    /// The `q` quantile, ms: the geometric middle of its bucket.
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((self.n as f64 - 1.0) * q).round() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return if i == 0 { BASE_US / 1000.0 } else { BASE_US * 1.05f64.powf(i as f64 + 0.5) / 1000.0 };
            }
        }
        0.0
    }

    fn percentiles(&self) -> Option<Percentiles> {
        (self.n > 0).then(|| Percentiles {
            p50: self.quantile_ms(0.5),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            n: self.n,
        })
    }
}

struct Agg {
    totals: Totals,
    cache_bytes: u64,
    /// Cumulative latency per client region.
    regions: Vec<LogHist>,
    /// Since the last tick, all regions.
    window: LogHist,
    /// Requests since the last tick: client region → server node id.
    served: Vec<BTreeMap<String, u64>>,
    all: LogHist,
}

/// The run as the dashboard sees it.
pub struct RunFeed {
    /// Scenario name.
    pub scenario: String,
    /// Its question.
    pub question: Option<String>,
    /// Expectations: field → condition (`>= 0.6`).
    pub expect: BTreeMap<String, String>,
    /// Requests planned.
    pub planned: u64,
    /// Planned length, seconds.
    pub duration_s: f64,
    /// The warm-up's end, seconds after the start: requests planned before
    /// it are left out of the totals, the expectations and the client
    /// regions' latency, as the report leaves them out (they still move
    /// the live latency chart and the routes).
    pub warmup_s: Option<f64>,
    /// When traffic starts, Unix ms.
    pub start_unix_ms: u64,
    /// The timeline: (seconds after the start, kind, detail).
    pub timeline: Vec<(f64, String, String)>,
    live: Arc<Live>,
    region_names: Vec<String>,
    edge_ids: Vec<String>,
    agg: Mutex<Agg>,
}

/// The run's state for one tick.
#[derive(Debug, Clone, Serialize)]
pub struct RunNow {
    /// Requests finished.
    pub done: u64,
    /// Requests planned.
    pub planned: u64,
    /// Errors so far.
    pub errors: u64,
    /// Client hit ratio so far.
    pub hit_ratio: f64,
    /// Expectations as they stand.
    pub expectations: Vec<Standing>,
}

/// One expectation now.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    /// Report field.
    pub field: String,
    /// Condition.
    pub want: String,
    /// Value so far (`None`: judged at the end).
    pub actual: Option<f64>,
    /// Whether it holds so far.
    pub ok: Option<bool>,
}

/// What the clients saw in one tick.
pub struct ClientTick {
    /// Latency in the interval, all regions.
    pub window: Option<Percentiles>,
    /// Cumulative latency per region.
    pub regions: BTreeMap<String, Percentiles>,
    /// Requests per client region per server node id in the interval.
    pub served: Vec<BTreeMap<String, u64>>,
}

impl RunFeed {
    /// A feed for one run of `s` in `w`, its warm-up ending `warmup` after
    /// the start (as `run` resolved it).
    pub fn new(
        s: &Scenario,
        w: &World,
        planned: u64,
        duration_s: f64,
        warmup: Option<std::time::Duration>,
        start_unix_ms: u64,
        live: Arc<Live>,
    ) -> Self {
        let mut timeline: Vec<(f64, String, String)> =
            s.events.iter().map(|e| (e.at().0.as_secs_f64(), e.kind().to_string(), String::new())).collect();
        timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
        RunFeed {
            scenario: s.name.clone(),
            question: s.question.clone(),
            expect: s.expect.clone(),
            planned,
            duration_s,
            warmup_s: warmup.map(|d| d.as_secs_f64()),
            start_unix_ms,
            timeline,
            live,
            region_names: w.regions.iter().map(|r| r.name.clone()).collect(),
            edge_ids: w.edges.iter().map(|e| edge_id(&e.name)).collect(),
            agg: Mutex::new(Agg {
                totals: Totals::default(),
                cache_bytes: 0,
                regions: vec![LogHist::new(); w.regions.len()],
                window: LogHist::new(),
                served: vec![BTreeMap::new(); w.regions.len()],
                all: LogHist::new(),
            }),
        }
    }

    /// Counts one finished request (the same way the report does, warm-up
    /// left out).
    pub fn sample(&self, x: &Sample) {
        let mut a = self.agg.lock();
        let server = match x.edge {
            SAMPLE_ORIGIN => ORIGIN.to_string(),
            NONE => "none".to_string(),
            e => self.edge_ids.get(e as usize).cloned().unwrap_or_else(|| "?".into()),
        };
        if let Some(m) = a.served.get_mut(x.region as usize) {
            *m.entry(server).or_default() += 1;
        }
        if x.kind != Kind::Error {
            a.window.add(x.latency_us);
        }
        // The report's filter: `at_ms >= warm-up end`.
        if self.warmup_s.is_some_and(|w| f64::from(x.at_ms) < w * 1000.0) {
            return;
        }
        let t = &mut a.totals;
        t.requests += 1;
        t.errors += u64::from(x.kind == Kind::Error);
        t.corrupt += u64::from(x.corrupt);
        t.served_after_purge += u64::from(x.stale_after_purge);
        t.bytes += x.bytes as u64;
        let hit = matches!(x.kind, Kind::Hit | Kind::Stale);
        if hit {
            a.cache_bytes += x.bytes as u64;
            *a.totals.by_kind.entry("hit".into()).or_default() += 1;
        }
        if x.kind != Kind::Error {
            a.all.add(x.latency_us);
            if let Some(h) = a.regions.get_mut(x.region as usize) {
                h.add(x.latency_us);
            }
        }
    }

    /// The clients' numbers for this tick (resets the interval's).
    pub fn client_tick(&self) -> ClientTick {
        let mut a = self.agg.lock();
        let window = a.window.percentiles();
        a.window = LogHist::new();
        let regions =
            self.region_names.iter().zip(&a.regions).filter_map(|(n, h)| Some((n.clone(), h.percentiles()?))).collect();
        let served = a.served.iter_mut().map(std::mem::take).collect();
        ClientTick { window, regions, served }
    }

    /// Progress and expectations as they stand.
    pub fn now(&self) -> RunNow {
        let a = self.agg.lock();
        let mut t = a.totals.clone();
        let n = t.requests.max(1) as f64;
        let hits = t.by_kind.get("hit").copied().unwrap_or(0);
        t.hit_ratio = hits as f64 / n;
        t.byte_hit_ratio = a.cache_bytes as f64 / t.bytes.max(1) as f64;
        t.error_ratio = t.errors as f64 / n;
        t.p50_ms = a.all.quantile_ms(0.5);
        t.p95_ms = a.all.quantile_ms(0.95);
        t.p99_ms = a.all.quantile_ms(0.99);
        let report = Report { totals: t.clone(), ..Default::default() };
        let expectations = self
            .expect
            .iter()
            .map(|(field, want)| {
                let live = !AT_THE_END.contains(&field.as_str()) && t.requests > 0;
                let actual = if live { report.field(field) } else { None };
                let ok = actual.and_then(|v| parse_expectation(want).ok().map(|(c, w)| c.holds(v, w)));
                Standing { field: field.clone(), want: want.clone(), actual, ok }
            })
            .collect();
        RunNow {
            done: self.live.done.load(Ordering::Relaxed),
            planned: self.planned,
            errors: t.errors,
            hit_ratio: t.hit_ratio,
            expectations,
        }
    }

    /// Client region names, in world order.
    pub fn region_names(&self) -> &[String] {
        &self.region_names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run panel's numbers are the report's for the same samples: the
    /// warm-up's requests are left out of the client hit ratio, the errors
    /// and the expectations as they stand, as `report::build` leaves them
    /// out.
    #[test]
    fn the_pages_client_numbers_are_the_reports_warm_up_left_out() {
        let w = World::demo().unwrap();
        let text = "name = \"t\"\nduration = \"4s\"\nwarmup = \"1s\"\n\n[workload]\nrate = 10\nclients = { seoul = 1.0 }\n\n[expect]\nhit_ratio = \">= 0.7\"\nerror_ratio = \"<= 0.1\"\n";
        let (s, w) = crate::scenario::parse_text("s.toml", text, &w).unwrap();
        let warm = std::time::Duration::from_secs(1);
        let feed = RunFeed::new(&s, &w, 20, 4.0, Some(warm), 0, Arc::new(Live::default()));
        let sample = |at_ms: u32, kind: Kind| Sample {
            plan: 0,
            at_ms,
            region: 0,
            edge: 0,
            node: crate::driver::NONE,
            status: if kind == Kind::Error { 0 } else { 200 },
            kind,
            bytes: 100,
            latency_us: 2000,
            ttfb_us: 1500,
            corrupt: false,
            stale_after_purge: false,
            flash: false,
        };
        // The warm-up: misses and errors; then mostly hits.
        let mut samples: Vec<Sample> = (0..10).map(|i| sample(i * 90, Kind::Miss)).collect();
        samples.extend((0..3).map(|i| sample(300 + i, Kind::Error)));
        samples.extend((0..8).map(|i| sample(1000 + i * 100, Kind::Hit)));
        samples.extend([sample(1900, Kind::Stale), sample(2000, Kind::Miss)]);
        for x in &samples {
            feed.sample(x);
        }
        let report = crate::report::build(crate::report::Inputs {
            scenario: &s,
            world: &w,
            samples: &samples,
            edges: &[],
            origin_per_second: &[],
            events: Vec::new(),
            duration_s: 4.0,
            warmup: Some(crate::report::WarmupRow { until_s: 1.0, requests: 13 }),
            driver: Default::default(),
            unique_objects: 0,
            node_counts: &Vec::new(),
        });
        let now = feed.now();
        assert_eq!(report.totals.requests, 10);
        assert!((report.totals.hit_ratio - 0.9).abs() < 1e-9, "{}", report.totals.hit_ratio);
        assert_eq!((now.hit_ratio, now.errors), (report.totals.hit_ratio, report.totals.errors));
        for x in &now.expectations {
            let want = report.field(&x.field);
            assert_eq!(x.actual, want, "{}", x.field);
            assert_eq!(x.ok, Some(true), "{}", x.field);
        }
    }

    #[test]
    fn log_histogram_percentiles_are_within_a_bucket() {
        let mut h = LogHist::new();
        for us in 1..=10_000u32 {
            h.add(us * 100); // 0.1 ms … 1000 ms, uniform
        }
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = h.quantile_ms(q);
            assert!((got - want).abs() / want < 0.05, "q{q}: {got} vs {want}");
        }
        assert_eq!(LogHist::new().percentiles(), None);
    }
}
