//! Edge counters added up over a run, across restarts: what the report's
//! edges table is made of. The run reads every edge's `/stats` once a
//! second; an edge killed by the run (a scenario's `edge-kill`, the page's
//! kill control) is read once more just before the kill
//! ([`crate::events::kill_edge`]), so what it served after the last
//! once-a-second reading is counted too. A kill whose last reading failed
//! is noted in the report ([`Tally::notes`]), never lost silently.
//!
//! On a control bus (a scenario's `bus = true`) the rounds read what the
//! edges publish on their stats subjects instead, with the reader of `cdn
//! stats --bus` ([`crate::stats::collect_on_bus`]): an edge not heard
//! there is polled. Each reading keeps where it came from ([`Source`]),
//! and the report says it for every edge ([`Tally::sources_note`]).

use std::time::Duration;

use api::edge::Stats;
use world::World;

use crate::report::EdgeDelta;
use crate::report::links::LinkCounts;

/// How long a kill waits for the edge's last `/stats` reading: the kill
/// is late by at most this much when the edge does not answer.
pub const LAST_READING_WAIT: Duration = Duration::from_secs(1);

/// The run's edge counters, shared by the once-a-second poller and the
/// kills (one lock, held only to add a reading, never across a request).
#[derive(Debug)]
pub struct Tally {
    names: Vec<String>,
    inner: parking_lot::Mutex<Inner>,
}

/// Where a reading of an edge's counters came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Published by the edge on the control bus.
    Bus,
    /// Its admin address's `/stats`.
    Http,
}

#[derive(Debug)]
struct Inner {
    /// The last reading of each edge's current process (`None`: none yet,
    /// or the edge was killed and its next process counts from zero).
    last: Vec<Option<Stats>>,
    totals: Vec<EdgeDelta>,
    /// Bumped at every kill: a reading begun before it belongs to the
    /// killed process and is dropped (the kill's own reading counted it).
    epoch: Vec<u64>,
    notes: Vec<String>,
    /// Where each edge's last reading came from.
    last_via: Vec<Option<Source>>,
    /// Readings counted per edge: from the bus, by polling.
    counted: Vec<[u64; 2]>,
    /// Bus readings dropped as older than the poll before them.
    dropped: Vec<u64>,
}

/// The process generation of every edge when a round of readings began
/// ([`Tally::epochs`]), handed back with the readings to [`Tally::add`].
#[derive(Debug, Clone)]
pub struct Epochs(Vec<u64>);

impl Tally {
    /// Starts from the edges' readings before the run (what they counted
    /// before is not the run's).
    pub fn new(w: &World, first: Vec<Option<Stats>>) -> Tally {
        let n = w.edges.len();
        Tally {
            names: w.edges.iter().map(|e| e.name.clone()).collect(),
            inner: parking_lot::Mutex::new(Inner {
                last: first,
                totals: vec![EdgeDelta::default(); n],
                epoch: vec![0; n],
                notes: Vec::new(),
                last_via: vec![None; n],
                counted: vec![[0; 2]; n],
                dropped: vec![0; n],
            }),
        }
    }

    /// Taken before a round of readings begins.
    pub fn epochs(&self) -> Epochs {
        Epochs(self.inner.lock().epoch.clone())
    }

    /// Adds a round of readings (`None`: the edge did not answer, its last
    /// reading stands). A reading of an edge killed since `at` is dropped.
    pub fn add(&self, at: &Epochs, now: Vec<Option<Stats>>) {
        self.add_read(at, now.into_iter().map(|s| s.map(|s| (s, Source::Http))).collect());
    }

    /// [`Tally::add`] with where each reading came from. A bus reading
    /// lower than the poll just before it was published before that poll
    /// (it was in flight): dropped once, not taken for a restart.
    pub fn add_read(&self, at: &Epochs, now: Vec<Option<(Stats, Source)>>) {
        let mut t = self.inner.lock();
        for (i, n) in now.into_iter().enumerate() {
            let Some((n, via)) = n else { continue };
            if at.0.get(i) != t.epoch.get(i) {
                continue;
            }
            let older = t.last[i].as_ref().is_some_and(|p| p.requests.total > n.requests.total);
            if via == Source::Bus && t.last_via[i] == Some(Source::Http) && older {
                t.dropped[i] += 1;
                t.last_via[i] = Some(Source::Bus);
                continue;
            }
            t.add_one(i, n);
            t.last_via[i] = Some(via);
            t.counted[i][usize::from(via == Source::Http)] += 1;
        }
    }

    /// Which source each edge's readings came from, for the report; `None`
    /// when none came from the bus (a run without one polls every edge).
    pub fn sources_note(&self) -> Option<String> {
        let t = self.inner.lock();
        if t.counted.iter().all(|c| c[0] == 0) {
            return None;
        }
        let per_edge: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let [bus, http] = t.counted[i];
                let last = match t.last_via[i] {
                    Some(Source::Bus) => "the control bus",
                    Some(Source::Http) => "polling",
                    None => "no reading",
                };
                let dropped = match t.dropped[i] {
                    0 => String::new(),
                    d => format!(", {d} late from the bus dropped"),
                };
                format!("{name} {bus} from the bus and {http} polled{dropped} (last: {last})")
            })
            .collect();
        Some(format!(
            "edge counters were read from the control bus, an edge not heard there polled at its admin address; readings per edge: {}.",
            per_edge.join("; ")
        ))
    }

    /// The reading taken just before edge `name` was killed (or why there
    /// is none), at `at_s` into the run: counted, or noted. Then the edge's
    /// next process counts from zero.
    pub fn killed(&self, name: &str, last: Result<Stats, String>, at_s: f64) {
        let Some(i) = self.names.iter().position(|n| n == name) else { return };
        let mut t = self.inner.lock();
        match last {
            Ok(s) => t.add_one(i, s),
            Err(why) => t.notes.push(format!(
                "edge {name} was killed at {at_s:.1} s without a last reading of its /stats ({why}): what it served \
                 after the reading before (up to a second of its traffic) is missing from the edges table."
            )),
        }
        t.epoch[i] += 1;
        t.last[i] = None;
        t.last_via[i] = None;
    }

    /// Every edge's counters so far, in the world's order.
    pub fn totals(&self) -> Vec<EdgeDelta> {
        self.inner.lock().totals.clone()
    }

    /// Every edge's last reading.
    pub fn last(&self) -> Vec<Option<Stats>> {
        self.inner.lock().last.clone()
    }

    /// What the report should say about the counting (kills without a last
    /// reading).
    pub fn notes(&self) -> Vec<String> {
        self.inner.lock().notes.clone()
    }
}

impl Inner {
    fn add_one(&mut self, i: usize, n: Stats) {
        // The previous reading of the same process, if any: a counter that
        // went down means the edge started again from zero (a restart the
        // run did not do).
        let prev = self.last[i].as_ref().filter(|p| p.requests.total <= n.requests.total);
        let base = |f: fn(&Stats) -> u64| prev.map_or(0, f);
        let d = &mut self.totals[i];
        d.requests += n.requests.total - base(|s| s.requests.total);
        d.hits += (n.requests.hit + n.requests.stale).saturating_sub(base(|s| s.requests.hit + s.requests.stale));
        d.bytes_to_clients += n.bytes_to_clients.saturating_sub(base(|s| s.bytes_to_clients));
        d.bytes_from_origin += n.bytes_from_origin.saturating_sub(base(|s| s.bytes_from_origin));
        d.origin_requests += n.origin_requests.saturating_sub(base(|s| s.origin_requests));
        for u in &n.upstreams {
            let now = LinkCounts::of(u);
            let before = prev.and_then(|p| p.upstreams.iter().find(|x| x.name == u.name)).map(LinkCounts::of);
            d.links.entry(u.name.clone()).or_default().add(&before.map_or(now, |b| now.since(&b)));
        }
        let tier = |s: &Stats, f: fn(&api::edge::TierStats) -> u64| s.tier.as_ref().map_or(0, f);
        let (p, t) = (prev, &n);
        let since = |f: fn(&api::edge::TierStats) -> u64| tier(t, f).saturating_sub(p.map_or(0, |p| tier(p, f)));
        d.shield_requests += since(|x| x.shield_requests);
        d.bytes_from_shield += since(|x| x.bytes_from_shield);
        d.tier_requests += since(|x| x.tier_requests.total);
        self.last[i] = Some(n);
    }
}

/// One edge's `/stats`, waiting at most `wait`.
pub async fn read(http: &reqwest::Client, admin: std::net::SocketAddr, wait: Duration) -> Result<Stats, String> {
    let r = http.get(format!("http://{admin}/stats")).timeout(wait).send().await.map_err(|e| short(&e))?;
    if !r.status().is_success() {
        return Err(format!("it answered {}", r.status()));
    }
    r.json().await.map_err(|e| short(&e))
}

/// One round of readings on a bus: every edge's counters as published on
/// the bus (returning once each edge has been heard, or after `wait`), the
/// edges not heard polled; with the bus unreadable, every edge polled.
pub async fn read_all_on_bus(
    http: &reqwest::Client,
    w: &World,
    b: &bus::Bus,
    wait: Duration,
) -> Vec<Option<(Stats, Source)>> {
    match crate::stats::collect_on_bus(w, b, wait).await {
        Ok((edges, _origin, from_bus)) => edges
            .into_iter()
            .map(|(name, s)| s.ok().map(|s| (s, if from_bus.contains(&name) { Source::Bus } else { Source::Http })))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "edge counters not readable on the bus; polled");
            read_all(http, w).await.into_iter().map(|s| s.map(|s| (s, Source::Http))).collect()
        }
    }
}

/// Every edge's `/stats` (`None` for an edge that did not answer).
pub async fn read_all(http: &reqwest::Client, w: &World) -> Vec<Option<Stats>> {
    let mut v = Vec::new();
    for e in &w.edges {
        v.push(read(http, e.admin, Duration::from_secs(5)).await.ok());
    }
    v
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "no connection".into()
    } else {
        e.to_string()
    }
}

/// Reads every PoP node's peer requests (empty for a world without PoPs):
/// the work each node did as a key's owner, for the report's node table
/// ([`crate::report::nodes`]), read here with the edges' other counters.
pub async fn node_counts(http: &reqwest::Client, w: &World) -> crate::report::nodes::NodeCounts {
    let mut v = Vec::new();
    for (_, _, _, admin) in crate::report::nodes::nodes(w) {
        let s = read(http, admin, Duration::from_secs(5)).await.ok();
        v.push(s.and_then(|s| s.cluster).map(|c| c.peer_requests.total));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, hits: u64) -> Stats {
        crate::dashboard::hub::tests::stats("tokyo", hits, 0, requests - hits)
    }

    fn tokyo() -> (World, usize) {
        let w = World::demo().unwrap_or_else(|e| panic!("{e}"));
        let i = w.edges.iter().position(|e| e.name == "tokyo").unwrap_or_else(|| panic!("no tokyo"));
        (w, i)
    }

    fn one(i: usize, n: usize, s: Stats) -> Vec<Option<Stats>> {
        let mut v = vec![None; n];
        v[i] = Some(s);
        v
    }

    #[test]
    fn a_killed_edge_counts_what_it_served_up_to_the_kill_and_its_next_process_from_zero() {
        let (w, i) = tokyo();
        let n = w.edges.len();
        let t = Tally::new(&w, one(i, n, stats(10, 0)));
        t.add(&t.epochs(), one(i, n, stats(110, 50)));
        // a round begun before the kill, read before it, added after it
        let stale_round = t.epochs();
        t.killed("tokyo", Ok(stats(180, 90)), 2.5);
        t.add(&stale_round, one(i, n, stats(150, 70)));
        // the new process: 30 requests, fewer than the old one had
        t.add(&t.epochs(), one(i, n, stats(30, 20)));
        // and more than the old one had: still a new process
        t.killed("tokyo", Ok(stats(400, 300)), 5.0);
        t.add(&t.epochs(), one(i, n, stats(500, 450)));
        let d = &t.totals()[i];
        assert_eq!((d.requests, d.hits), (170 + 400 + 500, 90 + 300 + 450));
        assert!(t.notes().is_empty());
    }

    #[test]
    fn readings_from_the_bus_and_by_polling_add_up_and_a_late_bus_reading_is_not_a_restart() {
        let (w, i) = tokyo();
        let n = w.edges.len();
        let via = |s: Stats, v: Source| {
            let mut r = vec![None; n];
            r[i] = Some((s, v));
            r
        };
        let t = Tally::new(&w, one(i, n, stats(0, 0)));
        assert_eq!(t.sources_note(), None, "polling alone: nothing to say");
        t.add_read(&t.epochs(), via(stats(100, 50), Source::Bus));
        // not heard on the bus this round: polled
        t.add_read(&t.epochs(), via(stats(200, 120), Source::Http));
        // published just before that poll, delivered after it: dropped
        t.add_read(&t.epochs(), via(stats(190, 110), Source::Bus));
        t.add_read(&t.epochs(), via(stats(300, 200), Source::Bus));
        let d = &t.totals()[i];
        assert_eq!((d.requests, d.hits), (300, 200));
        let note = t.sources_note().unwrap_or_default();
        assert!(
            note.contains("tokyo 2 from the bus and 1 polled, 1 late from the bus dropped (last: the control bus)"),
            "{note}"
        );
        // A real restart seen on the bus after a poll: the second lower reading counts from zero.
        t.add_read(&t.epochs(), via(stats(400, 250), Source::Http));
        t.add_read(&t.epochs(), via(stats(10, 5), Source::Bus));
        t.add_read(&t.epochs(), via(stats(20, 10), Source::Bus));
        assert_eq!(t.totals()[i].requests, 400 + 20);
    }

    /// The upstream links' counters add up like the rest, a restart's
    /// counting from zero.
    #[test]
    fn link_counters_add_up_across_a_kill() {
        let (w, i) = tokyo();
        let n = w.edges.len();
        let linked = |requests: u64, warm: u64, cold: u64, bytes: u64| {
            let u = api::edge::UpstreamStats {
                name: "origin".into(),
                requests: warm + cold,
                warm,
                cold,
                connections_opened: cold,
                bytes_received: bytes,
                ..Default::default()
            };
            Stats { upstreams: vec![u], ..stats(requests, 0) }
        };
        let t = Tally::new(&w, one(i, n, linked(10, 2, 1, 1000)));
        t.add(&t.epochs(), one(i, n, linked(50, 20, 3, 9000)));
        t.killed("tokyo", Ok(linked(60, 25, 3, 10_000)), 1.0);
        t.add(&t.epochs(), one(i, n, linked(5, 1, 1, 500)));
        let c = t.totals()[i].links["origin"];
        assert_eq!((c.warm, c.cold, c.opened, c.fetches), (23 + 1, 2 + 1, 2 + 1, 25 + 2));
        assert_eq!(c.bytes_in, 9000 + 500);
    }

    #[test]
    fn a_kill_without_a_last_reading_is_noted() {
        let (w, i) = tokyo();
        let n = w.edges.len();
        let t = Tally::new(&w, one(i, n, stats(0, 0)));
        t.add(&t.epochs(), one(i, n, stats(100, 10)));
        t.killed("tokyo", Err("no answer in time".into()), 12.34);
        t.add(&t.epochs(), one(i, n, stats(5, 1)));
        assert_eq!(t.totals()[i].requests, 105);
        let notes = t.notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(
                "edge tokyo was killed at 12.3 s without a last reading of its /stats (no answer in time)"
            )
        );
    }
}
