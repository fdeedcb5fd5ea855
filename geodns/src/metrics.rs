//! Prometheus metrics: plain atomics registered once at start (names are
//! constants, labels come from small fixed sets: transport, rcode, edge),
//! rendered as text on `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::choice::Chooser;

/// DNS responses by transport and rcode.
pub const DNS_RESPONSES: &str = "cdnlab_geodns_dns_responses_total";
/// A/AAAA answers by edge (`origin` for the fallback).
pub const DNS_ANSWERS: &str = "cdnlab_geodns_dns_answers_total";
/// Queries that carried an EDNS Client Subnet option.
pub const DNS_ECS: &str = "cdnlab_geodns_dns_ecs_queries_total";
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

/// HTTP routes counted.
pub const ROUTES: [&str; 6] = ["resolve", "redirect", "edges", "metrics", "healthz", "other"];

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
}

impl Tally {
    /// A tally for `m`'s edges.
    pub fn for_metrics(m: &Metrics) -> Tally {
        Tally { noerror: 0, ecs: 0, answers: vec![0; m.answers.len()], segmented: 0 }
    }

    /// Counts one fast answer.
    #[inline]
    pub fn answer(&mut self, e: Option<usize>, ecs: bool) {
        self.noerror += 1;
        self.ecs += u64::from(ecs);
        let i = e.unwrap_or(self.answers.len().saturating_sub(1));
        if let Some(n) = self.answers.get_mut(i) {
            *n += 1;
        }
    }
}

/// Every counter of one geodns.
pub struct Metrics {
    responses: [[AtomicU64; RCODES.len()]; 2],
    answers: Vec<AtomicU64>,
    ecs: AtomicU64,
    segmented: AtomicU64,
    http: [AtomicU64; ROUTES.len()],
}

impl Metrics {
    /// Counters for `edges` edges (plus the origin).
    pub fn new(edges: usize) -> Metrics {
        Metrics {
            responses: Default::default(),
            answers: (0..=edges).map(|_| AtomicU64::new(0)).collect(),
            ecs: AtomicU64::new(0),
            segmented: AtomicU64::new(0),
            http: Default::default(),
        }
    }

    /// Counts a response.
    #[inline]
    pub fn response(&self, t: Transport, rcode: usize) {
        self.responses[t as usize][rcode].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an A/AAAA answer for edge `e` (`None`: the origin).
    #[inline]
    pub fn answer(&self, e: Option<usize>) {
        let i = e.unwrap_or(self.answers.len() - 1);
        self.answers[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a query with ECS.
    #[inline]
    pub fn ecs(&self) {
        self.ecs.fetch_add(1, Ordering::Relaxed);
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
        t.noerror = 0;
        t.ecs = 0;
        t.segmented = 0;
    }

    /// Counts an HTTP request on route `i` of [`ROUTES`].
    pub fn http(&self, i: usize) {
        self.http[i.min(ROUTES.len() - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// Responses counted so far, all transports and rcodes.
    pub fn responses_total(&self) -> u64 {
        self.responses.iter().flatten().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self, chooser: &Chooser) -> String {
        let mut s = String::with_capacity(4096);
        let edges = &chooser.routes.edges;
        let _ = writeln!(s, "# HELP {DNS_RESPONSES} DNS responses sent, by transport and rcode.");
        let _ = writeln!(s, "# TYPE {DNS_RESPONSES} counter");
        for (t, name) in ["udp", "tcp"].iter().enumerate() {
            for (r, rcode) in RCODES.iter().enumerate() {
                let v = self.responses[t][r].load(Ordering::Relaxed);
                let _ = writeln!(s, "{DNS_RESPONSES}{{transport=\"{name}\",rcode=\"{rcode}\"}} {v}");
            }
        }
        let _ = writeln!(s, "# HELP {DNS_ANSWERS} A/AAAA answers, by edge (origin: no edge was healthy).");
        let _ = writeln!(s, "# TYPE {DNS_ANSWERS} counter");
        for (i, c) in self.answers.iter().enumerate() {
            let name = edges.get(i).map_or("origin", |e| e.name.as_str());
            let _ = writeln!(s, "{DNS_ANSWERS}{{edge=\"{name}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(s, "# HELP {DNS_ECS} Queries carrying an EDNS Client Subnet option.");
        let _ = writeln!(s, "# TYPE {DNS_ECS} counter");
        let _ = writeln!(s, "{DNS_ECS} {}", self.ecs.load(Ordering::Relaxed));
        let _ = writeln!(
            s,
            "# HELP {UDP_SEGMENTED} UDP answers sent in one segmented (GSO) message with others to the same client."
        );
        let _ = writeln!(s, "# TYPE {UDP_SEGMENTED} counter");
        let _ = writeln!(s, "{UDP_SEGMENTED} {}", self.segmented.load(Ordering::Relaxed));
        let _ = writeln!(s, "# HELP {HTTP_REQUESTS} HTTP requests, by route.");
        let _ = writeln!(s, "# TYPE {HTTP_REQUESTS} counter");
        for (i, r) in ROUTES.iter().enumerate() {
            let _ = writeln!(s, "{HTTP_REQUESTS}{{route=\"{r}\"}} {}", self.http[i].load(Ordering::Relaxed));
        }
        let h = &chooser.health;
        let _ = writeln!(s, "# HELP {EDGE_UP} Edge health: 1 up, 0 down, -1 unknown.");
        let _ = writeln!(s, "# TYPE {EDGE_UP} gauge");
        for (i, e) in edges.iter().enumerate() {
            let v = match h.state(i) {
                crate::health::State::Up => 1,
                crate::health::State::Down => 0,
                crate::health::State::Unknown => -1,
            };
            let _ = writeln!(s, "{EDGE_UP}{{edge=\"{}\"}} {v}", e.name);
        }
        let _ = writeln!(s, "# HELP {HEALTH_CHECKS} Health checks run, by edge.");
        let _ = writeln!(s, "# TYPE {HEALTH_CHECKS} counter");
        for (i, e) in edges.iter().enumerate() {
            let _ = writeln!(s, "{HEALTH_CHECKS}{{edge=\"{}\"}} {}", e.name, h.counts(i).0);
        }
        let _ = writeln!(s, "# HELP {HEALTH_FAILURES} Health checks failed, by edge.");
        let _ = writeln!(s, "# TYPE {HEALTH_FAILURES} counter");
        for (i, e) in edges.iter().enumerate() {
            let _ = writeln!(s, "{HEALTH_FAILURES}{{edge=\"{}\"}} {}", e.name, h.counts(i).1);
        }
        s
    }
}
