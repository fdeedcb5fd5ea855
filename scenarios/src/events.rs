//! Firing a scenario's timeline: purges at every edge (reporting when the
//! last edge acknowledged), bumps and faults at the origin, edges killed and
//! restarted. Flash crowds are part of the workload ([`crate::workload`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

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

async fn fire(ctx: &Ctx, e: &Event) -> EventRow {
    let at_s = ctx.start.elapsed().as_secs_f64();
    let mut row = EventRow { at_s, kind: e.kind().into(), ..Default::default() };
    let token = ctx.world.admin_token();
    let origin_admin = format!("http://{}", ctx.world.origin.admin);
    match e {
        Event::Purge { url, prefix, tag, all, soft, .. } => {
            let req = edge::purge::PurgeRequest {
                url: url.clone(),
                prefix: prefix.clone(),
                tag: tag.clone(),
                all: all.then_some(true),
                soft: *soft,
            };
            let scope = match (url, prefix, tag) {
                (Some(u), _, _) => Scope::Url(u.clone()),
                (_, Some(p), _) => Scope::Prefix(p.clone()),
                (_, _, Some(t)) => Scope::Tag(t.clone()),
                _ => Scope::All,
            };
            row.detail = format!(
                "{}{} {}",
                if *soft { "soft " } else { "" },
                scope_kind(&scope),
                url.as_deref().or(prefix.as_deref()).or(tag.as_deref()).unwrap_or("")
            );
            let opts = FanOut { token, ..FanOut::default() };
            let rep = fan_out(&ctx.http, &EdgeTarget::of_world(&ctx.world), &req, &opts).await;
            if rep.complete() {
                ctx.versions.purged(scope, Instant::now());
            }
            row.effect = match rep.all_acknowledged_ms {
                Some(ms) => {
                    format!("all {} edges acknowledged in {ms:.1} ms, {} objects", rep.acknowledged, rep.objects)
                }
                None => format!("{} acknowledged; not: {}", rep.acknowledged, rep.failed.join(", ")),
            };
        }
        Event::Bump { path, prefix, .. } => {
            let body = match (path, prefix) {
                (Some(p), _) => json!({ "path": p }),
                (_, Some(p)) => json!({ "prefix": p }),
                _ => json!({}),
            };
            row.detail = body.to_string();
            let r = post(ctx, &format!("{origin_admin}/bump"), &token, body).await;
            if r.is_ok() {
                let scope = match (path, prefix) {
                    (Some(p), _) => Scope::Url(p.clone()),
                    (_, Some(p)) => Scope::Prefix(p.clone()),
                    _ => Scope::All,
                };
                ctx.versions.bumped(scope, Instant::now());
            }
            row.effect = r.unwrap_or_else(|e| e);
        }
        Event::OriginOutage { duration, mode, .. } => {
            let mode = mode.clone().unwrap_or_else(|| "reset".into());
            row.detail = format!("{mode} for {duration}");
            row.effect = fault_window(ctx, json!({ "outage": mode }), duration.0, &token).await;
        }
        Event::OriginSlow { duration, latency, .. } => {
            row.detail = format!("+{latency} for {duration}");
            row.effect =
                fault_window(ctx, json!({ "latency_ms": latency.0.as_millis() as u64 }), duration.0, &token).await;
        }
        Event::OriginErrors { duration, rate, .. } => {
            row.detail = format!("{:.0}% errors for {duration}", rate * 100.0);
            row.effect = fault_window(ctx, json!({ "error_rate": rate }), duration.0, &token).await;
        }
        Event::OriginCorrupt { duration, .. } => {
            row.detail = format!("corrupt bodies for {duration}");
            row.effect = fault_window(ctx, json!({ "corrupt": true }), duration.0, &token).await;
        }
        Event::EdgeKill { edge, restart_after, .. } => {
            let name = format!("edge {edge}");
            row.detail = match restart_after {
                Some(d) => format!("{edge}, restarted after {d}"),
                None => edge.clone(),
            };
            let args = ctx.sup.lock().await.kill_one(&name).await;
            row.effect = match (args, restart_after) {
                (None, _) => "was not running".into(),
                (Some(_), None) => "killed (SIGKILL)".into(),
                (Some(args), Some(d)) => {
                    tokio::time::sleep(d.0).await;
                    let t = Instant::now();
                    match ctx.sup.lock().await.start(&name, &args, Duration::from_secs(60)).await {
                        Ok(_) => format!("killed; back after {d} (ready in {} ms)", t.elapsed().as_millis()),
                        Err(e) => format!("killed; restart failed: {e}"),
                    }
                }
            };
        }
        Event::FlashCrowd { .. } => {}
    }
    row
}

fn scope_kind(s: &Scope) -> &'static str {
    match s {
        Scope::Url(_) => "url",
        Scope::Prefix(_) => "prefix",
        Scope::Tag(_) => "tag",
        Scope::All => "all",
    }
}

async fn fault_window(ctx: &Ctx, set: serde_json::Value, d: Duration, token: &Option<String>) -> String {
    let url = format!("http://{}/faults", ctx.world.origin.admin);
    if let Err(e) = post(ctx, &url, token, set).await {
        return e;
    }
    tokio::time::sleep(d).await;
    let mut req = ctx.http.delete(&url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => format!("applied, cleared after {}", world::Dur(d)),
        Ok(r) => format!("applied; clearing answered {}", r.status()),
        Err(e) => format!("applied; clearing failed: {e}"),
    }
}

async fn post(ctx: &Ctx, url: &str, token: &Option<String>, body: serde_json::Value) -> Result<String, String> {
    let mut req = ctx.http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(r.text().await.unwrap_or_default().trim().chars().take(120).collect()),
        Ok(r) => Err(format!("{} {}", r.status(), r.text().await.unwrap_or_default().trim())),
        Err(e) => Err(e.to_string()),
    }
}
