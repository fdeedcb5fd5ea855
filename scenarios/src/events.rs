//! Firing a scenario's timeline: purges at every edge (reporting when the
//! last edge acknowledged), bumps and faults at the origin, edges killed and
//! restarted. Flash crowds are part of the workload ([`crate::workload`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;
use world::World;

use crate::driver::{Scope, Versions};
use crate::purge::{EdgeTarget, FanOut, fan_out};
use crate::report::EventRow;
use crate::scenario::Event;
use crate::supervisor::Supervisor;

/// What events act on.
pub struct Ctx {
    /// The world.
    pub world: Arc<World>,
    /// Admin API client.
    pub http: reqwest::Client,
    /// The running components.
    pub sup: Arc<Mutex<Supervisor>>,
    /// Purge and bump bookkeeping shared with the driver.
    pub versions: Arc<Versions>,
    /// When traffic started.
    pub start: Instant,
    /// Print events as they fire.
    pub announce: bool,
    /// What was done to the world, for the dashboard.
    pub journal: Arc<Journal>,
    /// Your own origin (`cdn up --origin URL`, a scenario's `[origin] url`):
    /// no cdnlab origin and no origin admin API.
    pub origin_url: Option<String>,
    /// During `cdn run`: the run's edge counters, which an edge about to be
    /// killed is read into first ([`kill_edge`]).
    pub tally: Option<Arc<crate::tally::Tally>>,
    /// During `cdn run` with `bus = true`: the world's control bus, which
    /// purge events are published to (once, as `cdn purge --bus` does).
    pub bus: Option<bus::Bus>,
}

/// Who did something to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The scenario's timeline.
    Scenario,
    /// A control on the dashboard.
    Dashboard,
    /// Seen happening (GeoDNS moving a region's clients).
    Observed,
}

/// One thing done to the world: an event fired or a control used.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Position in the journal, from 1.
    pub seq: u64,
    /// Journal revision of its last change.
    pub rev: u64,
    /// When it started, Unix milliseconds.
    pub at_unix_ms: u64,
    /// Who did it.
    pub source: Source,
    /// `purge`, `bump`, `origin-outage`, `edge-kill`, `edge-restart`, …
    pub kind: String,
    /// What was asked.
    pub detail: String,
    /// What happened.
    pub effect: String,
    /// Whether it worked (so far).
    pub ok: bool,
    /// Whether it is over (a fault window or a kill with restart is not,
    /// until it is cleared or the edge is back).
    pub done: bool,
    /// For a purge: every edge's acknowledgement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge: Option<crate::purge::Report>,
}

/// Everything done to the world since it started, in order: scenario
/// events and dashboard controls write here, the dashboard reads it.
#[derive(Debug, Default)]
pub struct Journal {
    inner: parking_lot::Mutex<JournalInner>,
}

#[derive(Debug, Default)]
struct JournalInner {
    entries: Vec<Entry>,
    rev: u64,
}

impl Journal {
    /// Starts an entry (effect still empty); returns its `seq`.
    pub fn begin(&self, source: Source, kind: &str, detail: &str) -> u64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.begin_at(source, kind, detail, now.as_millis() as u64)
    }

    /// Starts an entry for something that started at `at_unix_ms` (seen
    /// after the fact, like a purge read from the edges).
    pub fn begin_at(&self, source: Source, kind: &str, detail: &str, at_unix_ms: u64) -> u64 {
        let mut j = self.inner.lock();
        j.rev += 1;
        let (seq, rev) = (j.entries.len() as u64 + 1, j.rev);
        j.entries.push(Entry {
            seq,
            rev,
            at_unix_ms,
            source,
            kind: kind.into(),
            detail: detail.into(),
            effect: String::new(),
            ok: true,
            done: false,
            purge: None,
        });
        seq
    }

    /// Says what entry `seq` did (called again when it changes, e.g. once
    /// a fault is applied and again once it is cleared).
    pub fn finish(&self, seq: u64, ok: bool, done: bool, effect: String, purge: Option<crate::purge::Report>) {
        let mut j = self.inner.lock();
        j.rev += 1;
        let rev = j.rev;
        if let Some(e) = j.entries.get_mut(seq.saturating_sub(1) as usize) {
            e.rev = rev;
            e.ok = ok;
            e.effect = effect;
            e.done = done;
            if purge.is_some() {
                e.purge = purge;
            }
        }
    }

    /// Entries changed after revision `rev`, and the current revision.
    pub fn changed_since(&self, rev: u64) -> (Vec<Entry>, u64) {
        let j = self.inner.lock();
        (j.entries.iter().filter(|e| e.rev > rev).cloned().collect(), j.rev)
    }
}

/// Fires every event at its time; returns what each did. Events after
/// `end` are skipped.
pub async fn run(ctx: Arc<Ctx>, events: Vec<Event>, end: Duration) -> Vec<EventRow> {
    let mut rows = Vec::new();
    let mut tasks = Vec::new();
    let mut events = events;
    events.sort_by_key(|e| e.at());
    for e in events {
        if e.at().0 >= end || matches!(e, Event::FlashCrowd { .. }) {
            if let Event::FlashCrowd { at, duration, rate, path, prefix, .. } = &e {
                rows.push(EventRow {
                    at_s: at.0.as_secs_f64(),
                    kind: e.kind().into(),
                    detail: format!(
                        "{} extra requests/s for {}",
                        rate,
                        path.as_deref().or(prefix.as_deref()).unwrap_or("")
                    ),
                    effect: format!("for {duration}"),
                });
            }
            continue;
        }
        tokio::time::sleep_until((ctx.start + e.at().0).into()).await;
        let ctx2 = ctx.clone();
        tasks.push(tokio::spawn(async move { fire(&ctx2, &e).await }));
    }
    for t in tasks {
        if let Ok(r) = t.await {
            if ctx.announce {
                eprintln!("event at {:.1}s: {} {} → {}", r.at_s, r.kind, r.detail, r.effect);
            }
            rows.push(r);
        }
    }
    rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    rows
}

/// What an event asks, as one line.
fn detail(e: &Event) -> String {
    match e {
        Event::Purge { .. } => e.purge_request().map(|r| purge_detail(&r)).unwrap_or_default(),
        Event::Bump { path, prefix, .. } => match (path, prefix) {
            (Some(p), _) => p.clone(),
            (_, Some(p)) => format!("prefix {p}"),
            _ => "everything".into(),
        },
        Event::OriginOutage { duration, mode, .. } => {
            format!("{} for {duration}", mode.as_deref().unwrap_or("reset"))
        }
        Event::OriginSlow { duration, latency, .. } => format!("+{latency} for {duration}"),
        Event::OriginErrors { duration, rate, .. } => format!("{:.0}% errors for {duration}", rate * 100.0),
        Event::OriginCorrupt { duration, .. } => format!("corrupt bodies for {duration}"),
        Event::EdgeKill { edge, restart_after, .. } => match restart_after {
            Some(d) => format!("{edge}, restarted after {d}"),
            None => edge.clone(),
        },
        Event::OriginKill { site, restart_after, .. } => {
            let s = site.as_deref().map_or("the primary".to_string(), |s| format!("origin {s}"));
            match restart_after {
                Some(d) => format!("{s}, restarted after {d}"),
                None => s,
            }
        }
        Event::FlashCrowd { .. } => String::new(),
    }
}

async fn fire(ctx: &Ctx, e: &Event) -> EventRow {
    let at_s = ctx.start.elapsed().as_secs_f64();
    let row = EventRow { at_s, kind: e.kind().into(), detail: detail(e), effect: String::new() };
    let seq = ctx.journal.begin(Source::Scenario, &row.kind, &row.detail);
    let mut purge_report = None;
    let (ok, effect) = match e {
        Event::Purge { .. } => {
            let req = e.purge_request().unwrap_or_default();
            let rep = purge(ctx, &req).await;
            let done = (rep.complete(), purge_effect(&rep));
            purge_report = Some(rep);
            done
        }
        Event::Bump { path, prefix, .. } => match bump(ctx, path.as_deref(), prefix.as_deref()).await {
            Ok(r) => (true, r),
            Err(e) => (false, e),
        },
        Event::OriginOutage { duration, mode, .. } => {
            let mode = mode.clone().unwrap_or_else(|| "reset".into());
            fault_window(ctx, seq, json!({ "outage": mode }), duration.0).await
        }
        Event::OriginSlow { duration, latency, .. } => {
            fault_window(ctx, seq, json!({ "latency_ms": latency.0.as_millis() as u64 }), duration.0).await
        }
        Event::OriginErrors { duration, rate, .. } => {
            fault_window(ctx, seq, json!({ "error_rate": rate }), duration.0).await
        }
        Event::OriginCorrupt { duration, .. } => fault_window(ctx, seq, json!({ "corrupt": true }), duration.0).await,
        Event::EdgeKill { edge, restart_after, .. } => match (kill_edge(ctx, edge).await, restart_after) {
            (Err(e), _) => (false, e),
            (Ok(k), None) => (true, format!("killed (SIGKILL){}", k.unread())),
            (Ok(k), Some(d)) => {
                ctx.journal.finish(seq, true, false, format!("killed; restarting after {d}{}", k.unread()), None);
                tokio::time::sleep(d.0).await;
                match restart_edge(ctx, edge).await {
                    Ok(ready) => {
                        (true, format!("killed; back after {d} (ready in {} ms){}", ready.as_millis(), k.unread()))
                    }
                    Err(e) => (false, format!("killed; restart failed: {e}{}", k.unread())),
                }
            }
        },
        Event::OriginKill { site, restart_after, .. } => {
            let name = match site.as_deref() {
                Some(s) if ctx.world.origin_site(s).is_some_and(|x| !x.primary) => format!("origin {s}"),
                _ => "origin".to_string(),
            };
            let killed = ctx.sup.lock().await.kill_one(&name).await.is_some();
            match (killed, restart_after) {
                (false, _) => (false, format!("{name} was not running")),
                (true, None) => (true, "killed (SIGKILL)".into()),
                (true, Some(d)) => {
                    ctx.journal.finish(seq, true, false, format!("killed; restarting after {d}"), None);
                    tokio::time::sleep(d.0).await;
                    let t = Instant::now();
                    match ctx.sup.lock().await.restart(&name, Duration::from_secs(60)).await {
                        Ok(_) => (true, format!("killed; back after {d} (ready in {} ms)", t.elapsed().as_millis())),
                        Err(e) => (false, format!("killed; restart failed: {e:#}")),
                    }
                }
            }
        }
        Event::FlashCrowd { .. } => (true, String::new()),
    };
    ctx.journal.finish(seq, ok, true, effect.clone(), purge_report);
    EventRow { effect, ..row }
}

/// `soft url /obj/1`: a purge as one line.
pub fn purge_detail(req: &api::edge::PurgeRequest) -> String {
    let scope = purge_scope(req);
    format!(
        "{}{} {}",
        if req.soft { "soft " } else { "" },
        scope_kind(&scope),
        req.url.as_deref().or(req.prefix.as_deref()).or(req.tag.as_deref()).unwrap_or("")
    )
}

/// What a purge fan-out did, as one line.
pub fn purge_effect(rep: &crate::purge::Report) -> String {
    let acks = match rep.all_acknowledged_ms {
        Some(ms) => {
            format!(
                "all {} edges acknowledged in {ms:.1} ms, {}",
                rep.acknowledged,
                crate::purge::count(rep.objects, "object")
            )
        }
        None => format!("{} acknowledged; not: {}", rep.acknowledged, rep.failed.join(", ")),
    };
    // Edges on a bus answer with the purge's place in the log: one place
    // when it was published once (`cdn purge --bus`, a run's `bus = true`).
    let seqs: std::collections::BTreeSet<u64> =
        rep.edges.iter().filter_map(|e| e.response.as_ref().and_then(|r| r.bus_seq)).collect();
    match seqs.len() {
        0 => acks,
        1 => format!("{acks}; through the control bus (purge {} of its log)", seqs.iter().sum::<u64>()),
        n => format!("{acks}; in the control bus's log {n} times (one per edge asked: use the bus)"),
    }
}

fn purge_scope(req: &api::edge::PurgeRequest) -> Scope {
    match (&req.url, &req.prefix, &req.tag) {
        (Some(u), _, _) => Scope::Url(u.clone()),
        (_, Some(p), _) => Scope::Prefix(p.clone()),
        (_, _, Some(t)) => Scope::Tag(t.clone()),
        _ => Scope::All,
    }
}

/// Purges every edge of the world (the fan-out `cdn purge` does) and, when
/// every edge acknowledged, tells the driver's integrity check.
pub async fn purge(ctx: &Ctx, req: &api::edge::PurgeRequest) -> crate::purge::Report {
    let mut req = req.clone();
    crate::origins::stamp(&ctx.world, &mut req).await;
    let req = &req;
    let opts = FanOut { token: ctx.world.admin_token(), ..FanOut::default() };
    let rep = match &ctx.bus {
        // Not published: every edge is reported as not acknowledging, with why.
        Some(b) => crate::purge::on_bus(b, &ctx.world, req, opts.deadline).await.unwrap_or_else(|e| {
            let targets = EdgeTarget::of_world(&ctx.world);
            crate::purge::Report::not_published(req, &targets, &format!("{e:#}"))
        }),
        None => fan_out(&ctx.http, &EdgeTarget::of_world(&ctx.world), req, &opts).await,
    };
    if rep.complete() {
        ctx.versions.purged(purge_scope(req), Instant::now());
    }
    rep
}

fn bump_body(path: Option<&str>, prefix: Option<&str>) -> serde_json::Value {
    match (path, prefix) {
        (Some(p), _) => json!({ "path": p }),
        (_, Some(p)) => json!({ "prefix": p }),
        _ => json!({}),
    }
}

/// The origin's answer to a bump ([`api::origin::Bumped`]) in words:
/// `/obj/1 is now version 2, Last-Modified Wed, 25 Nov 2026 18:03:10 GMT`.
pub fn bump_effect(answer: &str) -> String {
    let Ok(b) = serde_json::from_str::<api::origin::Bumped>(answer) else { return answer.to_string() };
    let when = world::clock::httpdate_fmt(std::time::UNIX_EPOCH + Duration::from_secs(b.at));
    match (&b.path, &b.prefix, b.version) {
        (Some(p), _, Some(v)) => format!("{p} is now version {v}, Last-Modified {when}"),
        (_, Some(p), _) => {
            format!(
                "every object under {p} has a new version ({}), Last-Modified {when}",
                crate::purge::count(b.bumps, "bump")
            )
        }
        _ => format!("every object has a new version ({}), Last-Modified {when}", crate::purge::count(b.bumps, "bump")),
    }
}

/// Bumps the version of one object (`path`), of every object under
/// `prefix`, or of everything, at the origin; what it did, in words.
pub async fn bump(ctx: &Ctx, path: Option<&str>, prefix: Option<&str>) -> Result<String, String> {
    // To the primary now (a replica promoted after a failover takes them).
    let url = format!("http://{}/bump", crate::origins::write_admin(&ctx.world).await);
    let r = post(ctx, &url, bump_body(path, prefix)).await.map(|a| bump_effect(&a));
    if r.is_ok() {
        let scope = match (path, prefix) {
            (Some(p), _) => Scope::Url(p.into()),
            (_, Some(p)) => Scope::Prefix(p.into()),
            _ => Scope::All,
        };
        ctx.versions.bumped(scope, Instant::now());
    }
    r
}

/// Sets origin faults (a `FaultsPatch` as JSON: `{"outage": "reset"}`, …).
pub async fn set_faults(ctx: &Ctx, patch: serde_json::Value) -> Result<String, String> {
    post(ctx, &format!("http://{}/faults", ctx.world.origin.admin), patch).await
}

/// Clears every origin fault.
pub async fn clear_faults(ctx: &Ctx) -> Result<String, String> {
    let mut req = ctx.http.delete(format!("http://{}/faults", ctx.world.origin.admin));
    if let Some(t) = ctx.world.admin_token() {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok("cleared".into()),
        Ok(r) => Err(format!("clearing answered {}", r.status())),
        Err(e) => Err(format!("clearing failed: {e}")),
    }
}

/// An edge killed by [`kill_edge`].
#[derive(Debug)]
pub struct Killed {
    /// Why its `/stats` could not be read just before the kill, when the
    /// run wanted it and it failed.
    pub unread: Option<String>,
}

impl Killed {
    /// `; its /stats could not be read first (…)…`, or nothing.
    pub fn unread(&self) -> String {
        match &self.unread {
            Some(why) => {
                format!("; its /stats could not be read first ({why}): the report misses up to a second of its counts")
            }
            None => String::new(),
        }
    }
}

/// Kills an edge at once (SIGKILL, like a crash). During `cdn run` its
/// `/stats` is read just before (waiting at most
/// [`crate::tally::LAST_READING_WAIT`]), so that the run's report counts
/// everything it served, not only what the last once-a-second reading saw;
/// a failed reading is noted in the report.
pub async fn kill_edge(ctx: &Ctx, edge: &str) -> Result<Killed, String> {
    let name = crate::restart::process_of(&ctx.world, edge)?;
    // Held from the reading to the kill: no restart or other kill between.
    let mut sup = ctx.sup.lock().await;
    if !sup.procs().iter().any(|p| p.name == name) {
        return Err("was not running".into());
    }
    // A PoP's balancer or node: its counters are the nodes' (the
    // balancer adds them up), not reset by a balancer's restart.
    let last = match (&ctx.tally, ctx.world.edge(edge).filter(|e| e.pop.is_none())) {
        (Some(_), Some(e)) => Some(crate::tally::read(&ctx.http, e.admin, crate::tally::LAST_READING_WAIT).await),
        _ => None,
    };
    if sup.kill_one(&name).await.is_none() {
        return Err("was not running".into());
    }
    drop(sup);
    let unread = last.as_ref().and_then(|r| r.as_ref().err().cloned());
    if let (Some(t), Some(last)) = (&ctx.tally, last) {
        t.killed(edge, last, ctx.start.elapsed().as_secs_f64());
    }
    Ok(Killed { unread })
}

/// Starts an edge killed by [`kill_edge`] again; how long it took to be ready.
pub async fn restart_edge(ctx: &Ctx, edge: &str) -> Result<Duration, String> {
    let t = Instant::now();
    ctx.sup
        .lock()
        .await
        .restart(&crate::restart::process_of(&ctx.world, edge)?, Duration::from_secs(60))
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(t.elapsed())
}

fn scope_kind(s: &Scope) -> &'static str {
    match s {
        Scope::Url(_) => "url",
        Scope::Prefix(_) => "prefix",
        Scope::Tag(_) => "tag",
        Scope::All => "all",
    }
}

async fn fault_window(ctx: &Ctx, seq: u64, set: serde_json::Value, d: Duration) -> (bool, String) {
    if let Err(e) = set_faults(ctx, set).await {
        return (false, e);
    }
    ctx.journal.finish(seq, true, false, format!("applied; clearing after {}", world::Dur(d)), None);
    tokio::time::sleep(d).await;
    match clear_faults(ctx).await {
        Ok(_) => (true, format!("applied, cleared after {}", world::Dur(d))),
        Err(e) => (false, format!("applied; {e}")),
    }
}

async fn post(ctx: &Ctx, url: &str, body: serde_json::Value) -> Result<String, String> {
    let mut req = ctx.http.post(url).json(&body);
    if let Some(t) = ctx.world.admin_token() {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(r.text().await.unwrap_or_default().trim().chars().take(120).collect()),
        Ok(r) => Err(format!("{} {}", r.status(), r.text().await.unwrap_or_default().trim())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_told_in_words() {
        assert_eq!(
            bump_effect(r#"{"path":"/obj/1","version":2,"bumps":1,"at":1795637480}"#),
            "/obj/1 is now version 2, Last-Modified Wed, 25 Nov 2026 20:11:20 GMT"
        );
        assert_eq!(
            bump_effect(r#"{"prefix":"/obj/","bumps":1,"at":0}"#),
            "every object under /obj/ has a new version (1 bump), Last-Modified Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(bump_effect("not json"), "not json");
        assert_eq!(
            (crate::purge::count(1, "object"), crate::purge::count(3, "object")),
            ("1 object".to_string(), "3 objects".to_string())
        );
    }

    #[test]
    fn the_journal_reports_entries_new_or_changed_since_a_revision() {
        let j = Journal::default();
        let a = j.begin(Source::Scenario, "origin-outage", "reset for 6s");
        let (all, r1) = j.changed_since(0);
        assert_eq!((all.len(), all[0].seq, all[0].done), (1, a, false));
        j.finish(a, true, false, "applied; clearing after 6s".into(), None);
        let b = j.begin(Source::Dashboard, "bump", "{\"path\":\"/obj/1\"}");
        let (changed, r2) = j.changed_since(r1);
        assert_eq!(changed.iter().map(|e| e.seq).collect::<Vec<_>>(), [a, b]);
        j.finish(a, true, true, "applied, cleared after 6s".into(), None);
        let (changed, _) = j.changed_since(r2);
        assert_eq!(changed.len(), 1);
        assert_eq!(
            (changed[0].seq, changed[0].done, changed[0].effect.as_str()),
            (a, true, "applied, cleared after 6s")
        );
        assert_eq!(changed[0].source, Source::Scenario);
    }
}
