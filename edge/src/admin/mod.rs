//! The admin listener (axum): `/healthz` (`ok` or `degraded` and why,
//! [`crate::health`]; 200 either way: a degraded edge still serves),
//! `/stats` (JSON, [`crate::stats`]), `/metrics` (Prometheus,
//! [`crate::metrics`]), and `POST /purge` ([`purge`]).

pub mod purge;

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::EdgeState;
pub use crate::stats::{Requests, Stats};

/// The admin routes.
pub fn router(st: Arc<EdgeState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/stats", get(stats))
        .route("/metrics", get(crate::metrics::handler))
        .with_state(st.clone())
        .merge(purge::router(st))
}

async fn healthz(State(st): State<Arc<EdgeState>>) -> String {
    st.health.report().text()
}

async fn stats(State(st): State<Arc<EdgeState>>) -> Json<Stats> {
    Json(crate::stats::of(&st))
}
