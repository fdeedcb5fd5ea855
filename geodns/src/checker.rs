//! The health checks: each edge's admin `/healthz`, every interval, its
//! outcome recorded in [`crate::health::Health`] by the edge's slot.

use std::sync::Arc;
use std::time::Duration;

use crate::choice::Chooser;
use crate::health::State;

/// Checks every edge each `interval` (wall time) until `shutdown` fires:
/// the world file's from the start, and each edge that joins through the
/// bus from when it first appears (by its slot; a slot whose edge is not
/// present is not checked, and its address is read anew at every check,
/// so an edge that comes back elsewhere is checked there).
pub async fn run(chooser: Arc<Chooser>, interval: Duration, timeout: Duration, mut shutdown: runtime::Shutdown) {
    if !chooser.health.checking() {
        return;
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0;
    let mut look = tokio::time::interval(interval);
    loop {
        let known = chooser.routes().edges.len();
        for i in started..known {
            tasks.spawn(check_slot(chooser.clone(), i, interval, timeout, shutdown.clone()));
        }
        started = started.max(known);
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = look.tick() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn check_slot(
    chooser: Arc<Chooser>,
    i: usize,
    interval: Duration,
    timeout: Duration,
    mut shutdown: runtime::Shutdown,
) {
    let health = chooser.health.clone();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let edge = {
            let routes = chooser.routes();
            match (routes.edges.get(i), routes.present.get(i)) {
                (Some(e), Some(true)) => e.clone(),
                _ => continue,
            }
        };
        let t0 = std::time::Instant::now();
        let (ok, detail) = runtime::health::probe(edge.admin, timeout).await;
        if let Some(new) = health.record(i, ok, detail.clone(), t0.elapsed()) {
            if new == State::Down {
                tracing::warn!(edge = %edge.name, admin = %edge.admin, error = %detail, "edge is down");
            } else {
                tracing::info!(edge = %edge.name, admin = %edge.admin, "edge is {}", new.as_str());
            }
        }
    }
}
