//! `POST /purge` on the admin listener.
//!
//! ```text
//! POST /purge
//! Authorization: Bearer <token>
//! {"url": "/obj/7?x=1"} | {"prefix": "/img/"} | {"tag": "product-42"} | {"all": true}   [+ "soft": true]
//!   [+ "id": "cdn-purge-…", "sent_unix_ms": 1795…]   the sender's name for the purge and its start
//!   [+ "seq": 1795…]   its world-wide purge sequence (crate::purge::order)
//!
//! 200 {"edge":"seoul","kind":"url","target":"/obj/7?x=1","soft":false,"seq":3,
//!      "objects":2,"keys":3,"inflight":0,"took_us":412,"persisted":true}
//! 507 {… the same, "persisted":false,
//!      "error":"applied in memory but not persisted: journal write: No space left on device (os error 28)"}
//! 400 {"error":"…"}   malformed JSON, unknown field, not exactly one kind, bad path or tag
//! 401 {"error":"…"}   missing or wrong token (WWW-Authenticate: Bearer)
//! 403 {"error":"…"}   the purge API is off: the edge has no token (its token file could not be written)
//!
//! GET /purge  →  {"keys":…, "responses":…, "tags":…, "seq":…, "hard_generation":…, …}
//! GET /purge/recent?after=SEQ  →  {"edge":"seoul","seq":4,"purges":[{"seq":4,"kind":"url",…,
//!                                  "received_unix_ms":…,"acked_unix_ms":…,"took_us":412,
//!                                  "id":"cdn-purge-…","sent_unix_ms":…}]}   (id, sent_unix_ms: when sent)
//! ```
//!
//! `/purge/recent` (no token needed, like `GET /purge`) lists the last
//! purges applied here, whoever sent them ([`crate::purge::recent`]): the
//! dashboard's purge timeline reads it, grouping one purge's records at
//! every edge by the sender's `id` and timing them from its `sent_unix_ms`.
//! With a control bus both travel in the published request (the log's
//! body), but the edges applying it from the log do not record them yet
//! (`control::follow` applies with `Purging::purge_many`, which knows no
//! sender): those purges are grouped the old way.
//!
//! A purge is always applied in memory. 507 (Insufficient Storage) says it
//! could not be persisted (a full disk): it holds for every later request,
//! but a restart before the journal is written again treats every disk
//! entry stored before as purged; `cdn purge` reports the edge as not
//! acknowledged. Retrying does not help until the disk has room.
//!
//! The token (the world's `admin_token`, or `CDNLAB_ADMIN_TOKEN`; without
//! either, the one the edge keeps in `{data_dir}/admin-token`) is compared
//! as SHA-256 digests in constant time. The purge API is never served
//! without a token.

use std::sync::Arc;

use api::edge::PurgeRequest;
pub use api::edge::PurgeResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::purge::recent::Sender;
use crate::purge::spec::PurgeSpec;
use crate::state::EdgeState;

/// Largest purge request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The answer for what `spec` did on edge `edge`.
pub fn response_of(edge: &str, spec: &PurgeSpec, p: &crate::purge::Purged) -> PurgeResponse {
    PurgeResponse {
        edge: edge.into(),
        kind: spec.target.kind().into(),
        target: spec.target.pattern().into(),
        soft: spec.soft,
        seq: p.seq,
        objects: p.objects,
        keys: p.keys,
        inflight: p.inflight,
        took_us: p.took.as_micros() as u64,
        persisted: p.not_persisted.is_none(),
        error: p.not_persisted.as_ref().map(|why| format!("applied in memory but not persisted: {why}")),
        bus_seq: None,
    }
}

fn answer(r: PurgeResponse) -> Response {
    let status = if r.persisted { StatusCode::OK } else { StatusCode::INSUFFICIENT_STORAGE };
    let mut resp = (status, axum::Json(r)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The purge routes (merged into the admin router).
pub fn router(st: Arc<EdgeState>) -> Router {
    Router::new()
        .route("/purge", post(purge).get(status))
        .route("/purge/recent", get(recent))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(st)
}

/// `GET /purge`: the index and journal at a glance (no token needed).
async fn status(State(st): State<Arc<EdgeState>>) -> axum::Json<crate::purge::Status> {
    axum::Json(st.purge.status())
}

/// `?after=SEQ` of `GET /purge/recent`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct After {
    #[serde(default)]
    after: u64,
}

/// `GET /purge/recent[?after=SEQ]`: the last purges applied here, with
/// their wall-clock arrival and acknowledgement times.
async fn recent(
    State(st): State<Arc<EdgeState>>,
    q: Result<axum::extract::Query<After>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let after = match q {
        Ok(q) => q.0.after,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad query: {e}")),
    };
    let r = crate::purge::recent::Recent {
        edge: st.name.clone(),
        seq: st.purge.status().seq,
        purges: st.purge.recent.after(after),
    };
    let mut resp = axum::Json(r).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": msg.into() });
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"cdnlab-edge\""));
    }
    r
}

async fn purge(State(st): State<Arc<EdgeState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(d) = runtime::auth::check_bearer(st.admin_token.as_deref(), &headers) {
        let why = match &st.token_source {
            crate::TokenSource::Off(e) => format!(
                "the purge API is off: this edge has no admin token (it could not write {e}); \
                 set CDNLAB_ADMIN_TOKEN or the world's admin_token"
            ),
            _ => d.reason().to_string(),
        };
        return error(d.status(), why);
    }
    let req: PurgeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid purge request: {e}")),
    };
    let spec = match PurgeSpec::try_from(&req) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sender = match Sender::of(&req) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    // Before the purge applies: from now on no fill of what it names from
    // an origin site that has not seen the write it is for (crate::origins).
    if let (Some(o), Some(p)) = (&st.origins, req.origin_seq) {
        o.raise_floor(&spec.target, p);
    }
    // With a control bus the purge goes into the world's log, so that
    // every edge applies it; never applied here alone (docs/bus.md).
    if let Some(relay) = &st.relay {
        return match relay.publish(&req).await {
            Ok(r) => {
                let mut resp = response_of(&st.name, &r.spec, &r.purged);
                resp.bus_seq = Some(r.bus_seq);
                answer(resp)
            }
            Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, format!("control bus: {why}")),
        };
    }
    match st.purging().purge_from(&spec, sender).await {
        Ok(p) => {
            // Applied: lower tiers' fills may say so to this edge's shield
            // (or, at a shield, may be answered from the cache again).
            if let Some(seq) = req.seq {
                st.order.applied_now(seq);
            }
            answer(response_of(&st.name, &spec, &p))
        }
        Err(e) => {
            tracing::error!(edge = %st.name, error = %e, "purge failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}
