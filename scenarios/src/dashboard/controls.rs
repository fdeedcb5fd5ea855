//! The page's controls: `POST /api/purge`, `/api/bump`,
//! `/api/edges/{name}/kill` and `/restart`, `POST`/`DELETE
//! /api/origin/outage`, and `POST /api/auth` to check a token.
//!
//! Bump and origin outage act on cdnlab's own origin through its admin
//! API: with your own origin (`--origin URL`) they are refused (409, with
//! the reason), as the page says beside them.
//!
//! Every control needs `Authorization: Bearer <token>` with the world's
//! admin token (without one the controls are off: 403), checked like every admin API
//! ([`runtime::auth::check_bearer`]); the token is never logged. Each one
//! calls the function scenario events use ([`crate::events`]): a purge is
//! the fan-out of `cdn purge`, with the run's integrity bookkeeping. What
//! it did is written to the journal, which the page shows.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::dashboard::Hub;
use crate::events::{self, Source};

/// A JSON error `{"error": …}`.
pub fn error(status: StatusCode, msg: String) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// A control refused: status and reason, answered as [`error`].
#[derive(Debug)]
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn authorize(hub: &Hub, headers: &HeaderMap) -> Result<(), Refusal> {
    runtime::auth::check_bearer(hub.world.admin_token().as_deref(), headers)
        .map_err(|d| Refusal(d.status(), d.reason().to_string()))
}

/// Refuses a control of cdnlab's origin when the origin is yours: it has
/// no admin API to bump or fail, and cdnlab does not change your server.
fn cdnlabs_origin(hub: &Hub, what: &str) -> Result<(), Refusal> {
    match &hub.ctx.origin_url {
        Some(url) => Err(Refusal(
            StatusCode::CONFLICT,
            format!(
                "{what} acts on cdnlab's own origin; this world runs with your origin ({url}, --origin), which cdnlab \
                 does not change: change or stop your server itself"
            ),
        )),
        None => Ok(()),
    }
}

/// `POST /api/auth`: 204 when the token is right.
pub async fn auth(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Result<StatusCode, Refusal> {
    authorize(&hub, &headers)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads a JSON body, refusing it with a reason.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

/// `POST /api/purge` with a purge request (`{"url": "/obj/1", "soft": true}`,
/// `{"prefix": …}`, `{"tag": …}`, `{"all": true}`): every edge's answer.
pub async fn purge(State(hub): State<Arc<Hub>>, headers: HeaderMap, b: axum::body::Bytes) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    let req: api::edge::PurgeRequest = body(&b)?;
    api::purge::PurgeSpec::try_from(&req).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e.to_string()))?;
    let detail = events::purge_detail(&req);
    let seq = hub.ctx.journal.begin(Source::Dashboard, "purge", &detail);
    let rep = events::purge(&hub.ctx, &req).await;
    let ok = rep.complete();
    hub.ctx.journal.finish(seq, ok, true, events::purge_effect(&rep), Some(rep.clone()));
    let status = if ok { StatusCode::OK } else { StatusCode::BAD_GATEWAY };
    Ok((status, Json(rep)).into_response())
}

/// `POST /api/bump` with `{"path": "/obj/7"}` or `{"prefix": "/obj/"}`.
pub async fn bump(State(hub): State<Arc<Hub>>, headers: HeaderMap, b: axum::body::Bytes) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    cdnlabs_origin(&hub, "bump")?;
    let what: api::origin::Bump = body(&b)?;
    let (path, prefix) = match &what {
        api::origin::Bump::Path(p) => (Some(p.as_str()), None),
        api::origin::Bump::Prefix(p) => (None, Some(p.as_str())),
    };
    let detail = serde_json::to_string(&what).unwrap_or_default();
    let seq = hub.ctx.journal.begin(Source::Dashboard, "bump", &detail);
    let r = events::bump(&hub.ctx, path, prefix).await;
    Ok(done(&hub, seq, r))
}

fn done(hub: &Hub, seq: u64, r: Result<String, String>) -> Response {
    match r {
        Ok(effect) => {
            hub.ctx.journal.finish(seq, true, true, effect.clone(), None);
            Json(json!({ "ok": true, "effect": effect })).into_response()
        }
        Err(e) => {
            hub.ctx.journal.finish(seq, false, true, e.clone(), None);
            error(StatusCode::BAD_GATEWAY, e)
        }
    }
}

/// An edge, a PoP (its balancer) or a PoP's node ([`crate::restart::process_of`]).
fn known_edge(hub: &Hub, name: &str) -> Result<(), Refusal> {
    crate::restart::process_of(&hub.world, name).map(|_| ()).map_err(|e| Refusal(StatusCode::NOT_FOUND, e))
}

/// `POST /api/edges/{name}/kill`: SIGKILL, like a crash.
pub async fn kill(
    State(hub): State<Arc<Hub>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    known_edge(&hub, &name)?;
    let seq = hub.ctx.journal.begin(Source::Dashboard, "edge-kill", &name);
    let r = events::kill_edge(&hub.ctx, &name).await.map(|k| format!("killed (SIGKILL){}", k.unread()));
    Ok(done(&hub, seq, r))
}

/// `POST /api/edges/{name}/restart`: starts an edge killed from here or by a scenario.
pub async fn restart(
    State(hub): State<Arc<Hub>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    known_edge(&hub, &name)?;
    let seq = hub.ctx.journal.begin(Source::Dashboard, "edge-restart", &name);
    let r = events::restart_edge(&hub.ctx, &name).await.map(|d| format!("ready in {} ms", d.as_millis()));
    Ok(done(&hub, seq, r))
}

/// Body of `POST /api/origin/outage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageRequest {
    /// `reset`, `hang` or `status`.
    pub mode: api::origin::Outage,
}

/// `POST /api/origin/outage` with `{"mode": "reset"}`: until stopped.
pub async fn outage_start(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    b: axum::body::Bytes,
) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    cdnlabs_origin(&hub, "an origin outage")?;
    let req: OutageRequest = body(&b)?;
    if req.mode == api::origin::Outage::Off {
        let why = "mode must be reset, hang or status (DELETE stops an outage)";
        return Err(Refusal(StatusCode::BAD_REQUEST, why.into()));
    }
    let seq = hub.ctx.journal.begin(Source::Dashboard, "origin-outage", req.mode.as_str());
    Ok(match events::set_faults(&hub.ctx, json!({ "outage": req.mode })).await {
        Ok(_) => {
            hub.ctx.journal.finish(seq, true, false, "applied; until stopped".into(), None);
            let replaced = hub.open_outage.lock().replace(seq);
            if let Some(prev) = replaced {
                hub.ctx.journal.finish(prev, true, true, "replaced by a new outage".into(), None);
            }
            Json(json!({ "ok": true, "effect": "applied" })).into_response()
        }
        Err(e) => done(&hub, seq, Err(e)),
    })
}

/// `DELETE /api/origin/outage`: clears every origin fault.
pub async fn outage_stop(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Result<Response, Refusal> {
    authorize(&hub, &headers)?;
    cdnlabs_origin(&hub, "an origin outage")?;
    let r = events::clear_faults(&hub.ctx).await;
    let open = hub.open_outage.lock().take();
    Ok(match open {
        Some(seq) => done(&hub, seq, r.map(|_| "applied, then stopped from the page".into())),
        None => {
            let seq = hub.ctx.journal.begin(Source::Dashboard, "origin-faults-cleared", "");
            done(&hub, seq, r)
        }
    })
}
