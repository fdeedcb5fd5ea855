//! The request sequence of a scenario: arrival times (a Poisson process,
//! shaped by each region's local time of day when the workload is diurnal),
//! the client region and source address, and the object (Zipf popularity,
//! plus one-hit wonders; or a URL list, by its weights). Flash crowds add
//! their own arrivals. Everything is drawn from the scenario's seed, so the
//! same seed gives the same requests.

use std::time::Duration;

use cachesim::trace::urls::UrlList;
use world::World;
use world::bounds::MAX_WORKLOAD_OBJECTS;
use world::rng::Rng;

pub mod trace;

use crate::scenario::{Diurnal, Event, Scenario};

/// One planned request.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// When to send it, since the start (wall clock).
    pub at: Duration,
    /// Index of the client's region in the world.
    pub region: usize,
    /// Which of the region's source addresses sends it.
    pub source: u32,
    /// Path requested.
    pub path: String,
    /// Part of a flash crowd.
    pub flash: bool,
}

/// Zipf(α) over `n` ranks, sampled by inverting a precomputed CDF.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The law for `n` ranks with exponent `alpha`.
    pub fn new(n: u64, alpha: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for k in 0..n {
            sum += 1.0 / ((k + 1) as f64).powf(alpha);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    /// The law of ranks `0..n` in proportion to `weights`.
    pub fn from_weights(weights: &[f64]) -> Zipf {
        let mut sum = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                sum += w;
                sum
            })
            .collect();
        for c in &mut cdf {
            *c /= sum.max(f64::MIN_POSITIVE);
        }
        Zipf { cdf }
    }

    /// A rank in `0..n`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len().saturating_sub(1)) as u64
    }
}

/// Rate multiplier at local hour `h` (0..24): the trough at 04:00, rising
/// over 16 hours to the peak at 20:00, falling over 8 hours.
pub fn diurnal_factor(d: &Diurnal, h: f64) -> f64 {
    let h = h.rem_euclid(24.0);
    let s = |phase: f64| (1.0 - (std::f64::consts::PI * phase).cos()) / 2.0;
    if (4.0..20.0).contains(&h) {
        d.trough + (d.peak - d.trough) * s((h - 4.0) / 16.0)
    } else {
        d.peak - (d.peak - d.trough) * s((h - 20.0).rem_euclid(24.0) / 8.0)
    }
}

struct Region {
    index: usize,
    share: f64,
    utc_offset: f64,
}

/// The main workload's arrivals.
struct Main {
    rng: Rng,
    zipf: Zipf,
    regions: Vec<Region>,
    rate: f64,
    max_factor: f64,
    diurnal: Option<Diurnal>,
    time_scale: f64,
    one_hit: f64,
    next_unique: u64,
    sources: u32,
    t: f64,
    /// The URL list's paths (rank → path), instead of `/obj/{rank}`.
    paths: Option<Vec<String>>,
}

impl Main {
    fn factor(&self, r: &Region, t: f64) -> f64 {
        match &self.diurnal {
            None => 1.0,
            Some(d) => diurnal_factor(d, d.start_utc_hour + r.utc_offset + t * self.time_scale / 3600.0),
        }
    }
}

impl Iterator for Main {
    type Item = Planned;
    fn next(&mut self) -> Option<Planned> {
        // Thinning: candidates at the highest possible rate, kept with
        // probability rate(t)/max.
        let max = self.rate * self.max_factor;
        loop {
            let u = 1.0 - self.rng.next_f64();
            self.t += -u.ln() / max;
            let weights: Vec<f64> = self.regions.iter().map(|r| r.share * self.factor(r, self.t)).collect();
            let total: f64 = weights.iter().sum();
            if self.rng.next_f64() * self.max_factor >= total {
                continue;
            }
            let mut pick = self.rng.next_f64() * total;
            let mut region = &self.regions[0];
            for (r, w) in self.regions.iter().zip(&weights) {
                if pick < *w {
                    region = r;
                    break;
                }
                pick -= w;
            }
            let id = if self.rng.next_f64() < self.one_hit {
                self.next_unique += 1;
                self.next_unique - 1
            } else {
                self.zipf.sample(&mut self.rng)
            };
            let path = match &self.paths {
                Some(p) => p[id as usize % p.len()].clone(),
                None => format!("/obj/{id}"),
            };
            return Some(Planned {
                at: Duration::from_secs_f64(self.t),
                region: region.index,
                source: self.rng.below(self.sources as u64) as u32,
                path,
                flash: false,
            });
        }
    }
}

/// A flash crowd's arrivals.
struct Flash {
    rng: Rng,
    t: f64,
    end: f64,
    rate: f64,
    paths: Vec<String>,
    regions: Vec<(usize, f64)>,
    sources: u32,
}

impl Iterator for Flash {
    type Item = Planned;
    fn next(&mut self) -> Option<Planned> {
        let u = 1.0 - self.rng.next_f64();
        self.t += -u.ln() / self.rate;
        if self.t >= self.end {
            return None;
        }
        let total: f64 = self.regions.iter().map(|r| r.1).sum();
        let mut pick = self.rng.next_f64() * total;
        let mut region = self.regions[0].0;
        for (i, w) in &self.regions {
            if pick < *w {
                region = *i;
                break;
            }
            pick -= w;
        }
        let path = self.paths[self.rng.below(self.paths.len() as u64) as usize].clone();
        Some(Planned {
            at: Duration::from_secs_f64(self.t),
            region,
            source: self.rng.below(self.sources as u64) as u32,
            path,
            flash: true,
        })
    }
}

/// The synthetic main workload: Poisson arrivals, Zipf objects.
fn synthetic(s: &Scenario, w: &World) -> Main {
    let wl = &s.workload;
    let regions: Vec<Region> = wl
        .clients
        .iter()
        .filter_map(|(name, share)| {
            let index = w.regions.iter().position(|r| &r.name == name)?;
            Some(Region { index, share: *share, utc_offset: w.regions[index].utc_offset_hours })
        })
        .collect();
    let share_sum: f64 = regions.iter().map(|r| r.share).sum();
    let max_factor = match &wl.diurnal {
        Some(d) => d.peak.max(d.trough).max(1e-9) * share_sum,
        None => share_sum,
    };
    // A URL list: its weights (a URL without one weighs 1), or Zipf over
    // its order when it gives none; paths as listed for your own origin,
    // else the origin's objects of the listed sizes.
    let list = wl.urls.as_ref().and_then(|p| UrlList::read(p, MAX_WORKLOAD_OBJECTS as usize).ok());
    let (zipf, paths) = match &list {
        Some(l) => {
            let zipf = if l.entries.iter().any(|e| e.weight.is_some()) {
                Zipf::from_weights(&l.entries.iter().map(|e| e.weight.unwrap_or(1.0)).collect::<Vec<_>>())
            } else {
                Zipf::new(l.entries.len() as u64, wl.popularity.zipf)
            };
            let own = s.origin.url.is_some();
            let paths = l
                .entries
                .iter()
                .map(|e| match e.size {
                    Some(size) if !own => api::origin::trace_path(world::rng::hash64(e.path.as_bytes()), size),
                    _ => e.path.clone(),
                })
                .collect();
            (zipf, Some(paths))
        }
        None => (Zipf::new(wl.objects, wl.popularity.zipf), None),
    };
    Main {
        rng: Rng::new(s.seed),
        zipf,
        paths,
        regions,
        rate: wl.rate / share_sum.max(1e-12),
        max_factor,
        diurnal: wl.diurnal.clone(),
        time_scale: w.time_scale,
        one_hit: wl.popularity.one_hit_wonders,
        next_unique: wl.objects,
        sources: wl.sources_per_region,
        t: 0.0,
    }
}

/// Every planned request of a scenario, in time order, up to its
/// `duration` or `requests`.
pub fn plan(s: &Scenario, w: &World) -> impl Iterator<Item = Planned> + Send + use<> {
    let wl = &s.workload;
    let main: Box<dyn Iterator<Item = Planned> + Send> = match &wl.trace {
        Some(path) => Box::new(trace::plan(path, s, w)),
        None => Box::new(synthetic(s, w)),
    };
    let mut streams: Vec<Box<dyn Iterator<Item = Planned> + Send>> = vec![main];
    for (i, e) in s.events.iter().enumerate() {
        if let Event::FlashCrowd { at, duration, rate, path, prefix, region, .. } = e {
            let paths = match (path, prefix) {
                (Some(p), _) => vec![p.clone()],
                (None, Some(p)) => (0..100).map(|k| format!("{p}{k}")).collect(),
                (None, None) => vec!["/obj/0".into()],
            };
            let regions: Vec<(usize, f64)> = match region {
                Some(r) => w.regions.iter().position(|x| &x.name == r).map(|i| vec![(i, 1.0)]).unwrap_or_default(),
                None => wl
                    .clients
                    .iter()
                    .filter_map(|(n, sh)| Some((w.regions.iter().position(|x| &x.name == n)?, *sh)))
                    .collect(),
            };
            if regions.is_empty() {
                continue;
            }
            streams.push(Box::new(Flash {
                rng: Rng::new(s.seed ^ world::rng::mix(i as u64 + 1)),
                t: at.0.as_secs_f64(),
                end: at.0.as_secs_f64() + duration.0.as_secs_f64(),
                rate: *rate,
                paths,
                regions,
                sources: wl.sources_per_region,
            }));
        }
    }
    let limit = s.requests.unwrap_or(u64::MAX);
    let end = s.duration.map_or(Duration::MAX, |d| d.0);
    Merge { streams: streams.into_iter().map(|s| s.peekable()).collect() }
        .take_while(move |p| p.at < end)
        .take(limit.min(usize::MAX as u64) as usize)
}

/// Merges time-ordered streams.
struct Merge {
    streams: Vec<std::iter::Peekable<Box<dyn Iterator<Item = Planned> + Send>>>,
}

impl Iterator for Merge {
    type Item = Planned;
    fn next(&mut self) -> Option<Planned> {
        let mut best: Option<(usize, Duration)> = None;
        for (i, s) in self.streams.iter_mut().enumerate() {
            if let Some(p) = s.peek()
                && best.is_none_or(|(_, t)| p.at < t)
            {
                best = Some((i, p.at));
            }
        }
        self.streams[best?.0].next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Popularity, Workload};

    fn scenario(seed: u64) -> Scenario {
        Scenario {
            name: "t".into(),
            question: None,
            world: None,
            duration: Some(world::Dur::secs(20)),
            requests: None,
            seed,
            time_scale: None,
            origin: Default::default(),
            warmup: None,
            bus: false,
            arms: Vec::new(),
            overrides: Default::default(),
            workload: Workload {
                objects: 1000,
                sizes: None,
                popularity: Popularity { zipf: 0.8, one_hit_wonders: 0.1 },
                rate: 500.0,
                diurnal: None,
                clients: [("seoul".to_string(), 3.0), ("newyork".to_string(), 1.0)].into(),
                concurrency: 64,
                sources_per_region: 4,
                urls: None,
                trace: None,
                trace_format: None,
                trace_csv: None,
            },
            events: Vec::new(),
            expect: Default::default(),
            sweep: None,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_requests() {
        let w = World::demo().unwrap();
        let a: Vec<Planned> = plan(&scenario(7), &w).take(2000).collect();
        let b: Vec<Planned> = plan(&scenario(7), &w).take(2000).collect();
        let c: Vec<Planned> = plan(&scenario(8), &w).take(2000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rate_shares_and_popularity_come_out_as_asked() {
        let w = World::demo().unwrap();
        let all: Vec<Planned> = plan(&scenario(1), &w).collect();
        // 500/s for 20 s
        assert!((9_000..11_000).contains(&all.len()), "{}", all.len());
        assert!(all.windows(2).all(|p| p[0].at <= p[1].at), "time ordered");
        let seoul = all.iter().filter(|p| p.region == 0).count() as f64 / all.len() as f64;
        assert!((seoul - 0.75).abs() < 0.03, "{seoul}");
        let top = all.iter().filter(|p| p.path == "/obj/0").count() as f64 / all.len() as f64;
        let z = Zipf::new(1000, 0.8);
        let expected = z.cdf[0] * 0.9;
        assert!((top - expected).abs() < 0.01, "{top} vs {expected}");
        let unique = all.iter().filter(|p| p.path.trim_start_matches("/obj/").parse::<u64>().unwrap() >= 1000).count();
        assert!((unique as f64 / all.len() as f64 - 0.1).abs() < 0.02);
    }

    #[test]
    fn flash_crowds_add_their_arrivals_in_their_window() {
        let w = World::demo().unwrap();
        let mut s = scenario(3);
        s.events.push(Event::FlashCrowd {
            at: world::Dur::secs(5),
            duration: world::Dur::secs(5),
            rate: 1000.0,
            path: Some("/obj/42".into()),
            prefix: None,
            region: Some("tokyo".into()),
        });
        let all: Vec<Planned> = plan(&s, &w).collect();
        let flash: Vec<&Planned> = all.iter().filter(|p| p.flash).collect();
        assert!((4_500..5_500).contains(&flash.len()), "{}", flash.len());
        assert!(flash.iter().all(|p| p.path == "/obj/42" && p.region == 1));
        assert!(flash.iter().all(|p| p.at >= Duration::from_secs(5) && p.at < Duration::from_secs(10)));
        assert!(all.windows(2).all(|p| p[0].at <= p[1].at), "merged in time order");
    }

    #[test]
    fn diurnal_curve_peaks_in_the_evening_and_dips_at_night() {
        let d = Diurnal { peak: 2.0, trough: 0.5, start_utc_hour: 0.0 };
        assert!((diurnal_factor(&d, 20.0) - 2.0).abs() < 1e-9);
        assert!((diurnal_factor(&d, 4.0) - 0.5).abs() < 1e-9);
        assert!(diurnal_factor(&d, 12.0) > diurnal_factor(&d, 6.0));
        assert!(diurnal_factor(&d, 23.0) > diurnal_factor(&d, 2.0));
    }
}
