//! Prometheus metrics: plain atomics registered once at start (names are
//! constants, labels come from small fixed sets: transport, rcode, edge),
//! rendered as text on `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use runtime::prom::{Encoder, Kind};

use crate::choice::Chooser;

/// DNS responses by transport and rcode.
pub const DNS_RESPONSES: &str = "cdnlab_geodns_dns_responses_total";
/// A/AAAA answers by edge, and by client region and edge: names shared
/// with the dashboard, which reads them ([`api::geodns`]).
pub use api::geodns::{DNS_ANSWERS, DNS_ANSWERS_BY_REGION};
/// The client region of clients located in none of the world's regions.
pub const OTHER_REGION: &str = "other";
/// Queries that carried an EDNS Client Subnet option.
pub const DNS_ECS: &str = "cdnlab_geodns_dns_ecs_queries_total";
/// UDP queries whose EDNS options do not parse (their log line is throttled).
pub const DNS_MALFORMED_EDNS: &str = "cdnlab_geodns_dns_malformed_edns_total";
/// UDP answers sent in one segmented (GSO) message with others to the same client.
pub const UDP_SEGMENTED: &str = "cdnlab_geodns_udp_segmented_answers_total";
/// HTTP requests by route.
pub const HTTP_REQUESTS: &str = "cdnlab_geodns_http_requests_total";
/// Edge state: 1 up, 0 down, -1 unknown.
pub const EDGE_UP: &str = "cdnlab_geodns_edge_up";
/// Health checks run, by edge.
pub const HEALTH_CHECKS: &str = "cdnlab_geodns_health_checks_total";
/// Health checks failed, by edge.
pub const HEALTH_FAILURES: &str = "cdnlab_geodns_health_check_failures_total";

/// Transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// DNS over UDP.
    Udp = 0,
    /// DNS over TCP.
    Tcp = 1,
}

/// Response codes counted (others count as `other`).
pub const RCODES: [&str; 8] = ["noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "badvers", "other"];

/// The index in [`RCODES`] of a DNS response code.
pub fn rcode_index(rcode: u16) -> usize {
    match rcode {
        0..=5 => rcode as usize,
        16 => 6,
        _ => 7,
    }
}

/// HTTP routes counted, in [`HttpRoute`] order.
pub const ROUTES: [&str; 7] = ["resolve", "redirect", "edges", "metrics", "healthz", "other", "stats"];

/// An HTTP route, for [`Metrics::http`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpRoute {
    /// `/resolve`.
    Resolve,
    /// `/r/{path}`.
    Redirect,
    /// `/edges`.
    Edges,
    /// `/metrics`.
    Metrics,
    /// `/healthz`.
    Healthz,
    /// Anything else (404).
    Other,
    /// `/stats`.
    Stats,
}

/// One UDP thread's uncommitted counts (see [`Metrics::add_fast`]).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// NOERROR answers.
    pub noerror: u64,
    /// Queries with ECS.
    pub ecs: u64,
    /// Answers per edge, then the origin.
    pub answers: Vec<u64>,
    /// Answers sent in a segmented message (see [`UDP_SEGMENTED`]).
    pub segmented: u64,
    /// Answers per (client region, slot) cell ([`Cells`]).
    pub cells: Vec<u64>,
    /// The cells counted since the last commit (preallocated: one push at
    /// most per cell, so it never grows).
    pub touched: Vec<u32>,
    layout: Cells,
}

/// The layout of the region × answer matrix: one row per region of the
/// world plus one for [`OTHER_REGION`], one column per slot (each edge,
/// then the origin). Flat, fixed at start: counting is an index.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cells {
    /// Regions of the world (the row of `other` comes after them).
    pub regions: usize,
    /// Slots: edges plus the origin.
    pub slots: usize,
}

impl Cells {
    /// The cell of an answer from `slot` to a client in `region`.
    #[inline]
    pub fn index(&self, region: Option<usize>, slot: usize) -> usize {
        region.unwrap_or(self.regions).min(self.regions) * self.slots + slot.min(self.slots.saturating_sub(1))
    }

    /// How many cells.
    pub fn len(&self) -> usize {
        (self.regions + 1) * self.slots
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }
}

impl Tally {
    /// A tally for `m`'s edges and regions.
    pub fn for_metrics(m: &Metrics) -> Tally {
        Tally {
            noerror: 0,
            ecs: 0,
            answers: vec![0; m.answers.len()],
            segmented: 0,
            cells: vec![0; m.layout.len()],
            touched: Vec::with_capacity(m.layout.len()),
            layout: m.layout,
        }
    }

    /// Counts one fast answer from `slot` (see [`crate::dns::Zone::slot`])
    /// to a client in `region`.
    #[inline]
    pub fn answer(&mut self, slot: usize, region: Option<usize>, ecs: bool) {
        self.noerror += 1;
        self.ecs += u64::from(ecs);
        if let Some(n) = self.answers.get_mut(slot) {
            *n += 1;
        }
        let i = self.layout.index(region, slot);
        if let Some(n) = self.cells.get_mut(i) {
            if *n == 0 {
                self.touched.push(i as u32);
            }
            *n += 1;
        }
    }
}

/// Every counter of one geodns.
pub struct Metrics {
    responses: [[AtomicU64; RCODES.len()]; 2],
    answers: Vec<AtomicU64>,
    by_region: Vec<AtomicU64>,
    layout: Cells,
    ecs: AtomicU64,
    malformed_edns: AtomicU64,
    segmented: AtomicU64,
    http: [AtomicU64; ROUTES.len()],
}

impl Metrics {
    /// Counters for `edges` edges (plus the origin) and `regions` client
    /// regions (plus `other`).
    pub fn new(edges: usize, regions: usize) -> Metrics {
        let layout = Cells { regions, slots: edges + 1 };
        Metrics {
            responses: Default::default(),
            answers: (0..=edges).map(|_| AtomicU64::new(0)).collect(),
            by_region: (0..layout.len()).map(|_| AtomicU64::new(0)).collect(),
            layout,
            ecs: AtomicU64::new(0),
            malformed_edns: AtomicU64::new(0),
            segmented: AtomicU64::new(0),
            http: Default::default(),
        }
    }

    /// Counts a response.
    #[inline]
    pub fn response(&self, t: Transport, rcode: usize) {
        self.responses[t as usize][rcode].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an A/AAAA answer from `slot` (see [`crate::dns::Zone::slot`])
    /// to a client in `region`.
    #[inline]
    pub fn answer(&self, slot: usize, region: Option<usize>) {
        if let Some(c) = self.answers.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(c) = self.by_region.get(self.layout.index(region, slot)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Answers so far: client region → edge (or `origin`) → count, the
    /// cells that are not zero.
    pub fn by_region(&self, chooser: &Chooser) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        self.each_cell(chooser, |region, edge, n| {
            out.entry(region.to_string()).or_default().insert(edge.to_string(), n);
        });
        out
    }

    /// Calls `f(client region, edge, count)` for every cell not zero.
    fn each_cell(&self, chooser: &Chooser, mut f: impl FnMut(&str, &str, u64)) {
        let routes = chooser.routes();
        let regions = &routes.world().regions;
        for (i, c) in self.by_region.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let (r, s) = (i / self.layout.slots, i % self.layout.slots);
            let region = regions.get(r).map_or(OTHER_REGION, |x| x.name.as_str());
            f(region, routes.slot_name(s).unwrap_or("origin"), n);
        }
    }

    /// Counts a query with ECS.
    #[inline]
    pub fn ecs(&self) {
        self.ecs.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a query whose EDNS options do not parse.
    pub fn malformed_edns(&self) {
        self.malformed_edns.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a UDP thread's batch of fast answers (counted locally, so two
    /// threads do not fight over the same cache lines for every query).
    pub fn add_fast(&self, t: &mut Tally) {
        if t.noerror > 0 {
            self.responses[Transport::Udp as usize][0].fetch_add(t.noerror, Ordering::Relaxed);
        }
        if t.ecs > 0 {
            self.ecs.fetch_add(t.ecs, Ordering::Relaxed);
        }
        if t.segmented > 0 {
            self.segmented.fetch_add(t.segmented, Ordering::Relaxed);
        }
        for (c, n) in self.answers.iter().zip(t.answers.iter_mut()) {
            if *n > 0 {
                c.fetch_add(*n, Ordering::Relaxed);
            }
            *n = 0;
        }
        for &i in &t.touched {
            let i = i as usize;
            if let (Some(c), Some(n)) = (self.by_region.get(i), t.cells.get_mut(i)) {
                c.fetch_add(*n, Ordering::Relaxed);
                *n = 0;
            }
        }
        t.touched.clear();
        t.noerror = 0;
        t.ecs = 0;
        t.segmented = 0;
    }

    /// Counts an HTTP request on `route`.
    pub fn http(&self, route: HttpRoute) {
        self.http[route as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, chooser: &Chooser) -> String {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let routes = chooser.routes();
        let edges = &routes.edges;
        let h = &chooser.health;
        let mut p = Encoder::new();
        p.family(DNS_RESPONSES, Kind::Counter, "DNS responses sent, by transport and rcode.");
        for (t, name) in ["udp", "tcp"].iter().enumerate() {
            for (r, rcode) in RCODES.iter().enumerate() {
                p.sample(&[("transport", name), ("rcode", rcode)], load(&self.responses[t][r]));
            }
        }
        p.family(DNS_ANSWERS, Kind::Counter, "A/AAAA answers, by edge (origin: no edge was healthy).");
        for (i, c) in self.answers.iter().enumerate() {
            if let Some(name) = routes.slot_name(i) {
                p.sample(&[("edge", name)], load(c));
            }
        }
        p.family(
            DNS_ANSWERS_BY_REGION,
            Kind::Counter,
            "A/AAAA answers, by client region (other: located in no region) and edge (origin: no edge was healthy).",
        );
        self.each_cell(chooser, |region, edge, n| {
            p.sample(&[("client_region", region), ("edge", edge)], n);
        });
        p.single(DNS_ECS, Kind::Counter, "Queries carrying an EDNS Client Subnet option.", &[], load(&self.ecs));
        p.single(
            DNS_MALFORMED_EDNS,
            Kind::Counter,
            "UDP queries whose EDNS options do not parse (logged at most once per 10 s).",
            &[],
            load(&self.malformed_edns),
        );
        p.single(
            UDP_SEGMENTED,
            Kind::Counter,
            "UDP answers sent in one segmented (GSO) message with others to the same client.",
            &[],
            load(&self.segmented),
        );
        p.family(HTTP_REQUESTS, Kind::Counter, "HTTP requests, by route.");
        for (i, r) in ROUTES.iter().enumerate() {
            p.sample(&[("route", r)], load(&self.http[i]));
        }
        p.family(EDGE_UP, Kind::Gauge, "Edge health: 1 up, 0 down, -1 unknown.");
        for (i, e) in edges.iter().enumerate() {
            let v: i64 = match h.state(i) {
                crate::health::State::Up => 1,
                crate::health::State::Down => 0,
                crate::health::State::Unknown => -1,
            };
            p.sample(&[("edge", &e.name)], v);
        }
        p.family(HEALTH_CHECKS, Kind::Counter, "Health checks run, by edge.");
        for (i, e) in edges.iter().enumerate() {
            p.sample(&[("edge", &e.name)], h.counts(i).0);
        }
        p.family(HEALTH_FAILURES, Kind::Counter, "Health checks failed, by edge.");
        for (i, e) in edges.iter().enumerate() {
            p.sample(&[("edge", &e.name)], h.counts(i).1);
        }
        p.finish()
    }
}
