//! The admin listener: health, stats, metrics, faults and bumps.
//!
//! | route | auth | what |
//! | --- | --- | --- |
//! | `GET /healthz` | – | `ok` |
//! | `GET /stats` | – | [`StatsSnapshot`](crate::StatsSnapshot) as JSON |
//! | `GET /stats/path?path=/obj/1` | – | `{"path": …, "requests": N}` |
//! | `GET /metrics` | – | Prometheus text |
//! | `GET /faults` | – | the [`Faults`] in force |
//! | `POST /faults` | bearer | a [`FaultsPatch`]; answers the new [`Faults`] |
//! | `DELETE /faults` | bearer | clears every fault |
//! | `POST /bump` | bearer | a [`Bump`]; answers [`Bumped`](crate::Bumped) |
//! | `GET /version?path=/obj/7` | – | `{"path": …, "version": N, "since": unix_secs}` |
//! | `POST /bump?epoch=N` | bearer | a bump only if this primary's epoch is `N` (fencing: 409 otherwise) |
//! | `GET /changes?after=N` | – | its change log after `N` ([`Changes`](api::origin::Changes), one page) |
//! | `GET /replication` | – | role, epoch, position, lag ([`ReplicationStatus`](api::origin::ReplicationStatus)) |
//! | `POST /promote` | bearer | a replica becomes the primary of a new epoch (409 on a primary) |
//!
//! A replica answers `/bump` 409 (writes go to the primary), as does a
//! primary fenced by a peer of a higher epoch.
//!
//! Mutating routes need `Authorization: Bearer <token>`; the token is
//! compared as SHA-256 digests in constant time. With no token configured
//! they are off: 403 with the reason (`cdn run` gives its origin a token
//! when the world has none). Errors are JSON `{"error": "…"}`.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::body::Body;
use crate::faults::{Faults, FaultsPatch};
use crate::reject::Reject;
use crate::state::State;
use crate::versions::Bump;

/// Largest admin request body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Answers one admin request.
pub(crate) async fn handle(st: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut resp = route(&st, &parts, body).await.unwrap_or_else(Reject::into_json);
    resp.headers_mut().insert(header::DATE, st.clock.http_date());
    tracing::debug!(status = resp.status().as_u16(), "answered");
    resp
}

async fn route(st: &State, parts: &Parts, body: Incoming) -> Result<Response<Body>, Reject> {
    let m = &parts.method;
    let get = m == Method::GET || m == Method::HEAD;
    match parts.uri.path() {
        "/healthz" if get => Ok(text("ok\n", "text/plain; charset=utf-8")),
        "/stats" if get => json(&st.snapshot()),
        "/stats/path" if get => {
            let path = query(parts, "path")?;
            json(&serde_json::json!({ "path": path, "requests": st.stats.requests_for(&path) }))
        }
        "/metrics" if get => {
            Ok(text(crate::stats::prometheus(&st.snapshot()), "text/plain; version=0.0.4; charset=utf-8"))
        }
        "/version" if get => {
            let path = query(parts, "path")?;
            let v = st.versions.of(&path);
            json(&serde_json::json!({ "path": path, "version": v.n, "since": v.since }))
        }
        "/faults" if get => json(&st.faults.get()),
        "/faults" if m == Method::POST => {
            authorize(st, &parts.headers)?;
            let patch: FaultsPatch = read_json(body).await?;
            let f = st.faults.patch(&patch).map_err(Reject::bad_request)?;
            tracing::info!(faults = ?f, "faults changed");
            json(&f)
        }
        "/faults" if m == Method::DELETE => {
            authorize(st, &parts.headers)?;
            let f = st.faults.set(Faults::default()).map_err(Reject::bad_request)?;
            tracing::info!("faults cleared");
            json(&f)
        }
        "/bump" if m == Method::POST => {
            authorize(st, &parts.headers)?;
            let claimed = match parts.uri.query().is_some_and(|q| q.contains("epoch=")) {
                true => Some(
                    query(parts, "epoch")?
                        .parse::<u64>()
                        .map_err(|_| Reject::bad_request("`epoch` must be a number"))?,
                ),
                false => None,
            };
            let b: Bump = read_json(body).await?;
            let done = st.replication.write(&st.versions, &b, st.clock.now(), claimed).map_err(write_refused)?;
            tracing::info!(bump = ?b, version = ?done.version, "bumped");
            json(&done)
        }
        "/changes" if get => {
            let after = match parts.uri.query().is_some_and(|q| q.contains("after=")) {
                true => query(parts, "after")?
                    .parse::<u64>()
                    .map_err(|_| Reject::bad_request("`after` must be a number"))?,
                false => 0,
            };
            let mut c = st.replication.changes(after);
            c.started = st.versions.started();
            json(&c)
        }
        "/replication" if get => json(&st.replication.status(st.clock.unix_ms())),
        "/promote" if m == Method::POST => {
            authorize(st, &parts.headers)?;
            // Above every epoch any peer that answers knows.
            let seen = crate::follow::peer_epochs(st).await.into_iter().map(|s| s.epoch).max().unwrap_or(0);
            st.replication.promote(&st.versions, seen + 1).map_err(|e| Reject::new(StatusCode::CONFLICT, e))?;
            json(&st.replication.status(st.clock.unix_ms()))
        }
        "/healthz" | "/stats" | "/stats/path" | "/metrics" | "/version" | "/changes" | "/replication" => {
            Err(Reject::method_not_allowed("GET, HEAD"))
        }
        "/promote" => Err(Reject::method_not_allowed("POST")),
        "/faults" => Err(Reject::method_not_allowed("GET, HEAD, POST, DELETE")),
        "/bump" => Err(Reject::method_not_allowed("POST")),
        _ => Err(Reject::not_found()),
    }
}

/// A refused write: 409 for a replica or a fenced primary (the writer
/// must find the primary), 400 for a bad bump, 507 for a full table.
pub(crate) fn write_refused(e: crate::replication::WriteError) -> Reject {
    use crate::replication::WriteError as W;
    let status = match &e {
        W::Bump(crate::BumpError::NotAbsolute(_)) => StatusCode::BAD_REQUEST,
        W::Bump(crate::BumpError::Full(..)) | W::Full => StatusCode::INSUFFICIENT_STORAGE,
        W::Replica { .. } | W::Fenced { .. } => StatusCode::CONFLICT,
        W::Checking(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Reject::new(status, e.to_string())
}

/// Checks the bearer token; without one configured, mutating routes are off.
fn authorize(st: &State, headers: &HeaderMap) -> Result<(), Reject> {
    runtime::auth::check_bearer(st.admin_token.as_deref(), headers).map_err(|d| {
        let r = Reject::new(d.status(), d.reason());
        if d.status() == StatusCode::UNAUTHORIZED {
            r.with(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"cdnlab-origin\""))
        } else {
            r
        }
    })
}

/// A query parameter, percent-decoded; 400 when missing.
fn query(parts: &Parts, name: &str) -> Result<String, Reject> {
    parts
        .uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
        .ok_or_else(|| Reject::bad_request(format!("missing query parameter `{name}`")))
}

async fn read_json<T: DeserializeOwned>(body: Incoming) -> Result<T, Reject> {
    let bytes: Bytes = match Limited::new(body, MAX_ADMIN_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Reject::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
        }
        Err(_) => return Err(Reject::bad_request("request body ended early")),
    };
    serde_json::from_slice(&bytes).map_err(|e| Reject::bad_request(format!("invalid JSON: {e}")))
}

fn json<T: Serialize>(v: &T) -> Result<Response<Body>, Reject> {
    let s = serde_json::to_string(v).map_err(Reject::internal)?;
    Ok(text(s + "\n", "application/json"))
}

fn text(s: impl Into<Bytes>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(s));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
