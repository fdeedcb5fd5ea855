//! The replication task of an origin site with peers: a replica polls
//! its primary's log (`GET /changes?after=N` on the primary's admin
//! listener) and applies what is due; a primary checks its peers' epochs
//! (`GET /replication`) before it takes writes and every
//! `check_interval` after, and follows a peer that is primary of a higher
//! epoch (fencing). A replica whose primary has been silent for
//! `promote_after × (rank + 1)` on the world clock looks for a newer
//! primary among its peers and, finding none, promotes itself.
//!
//! The polls run on the wall clock (they are the transport); whether a
//! change is due, and how long the primary has been silent, are decided
//! on the world clock, so tests drive both with a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use api::origin::{Changes, ReplicationStatus};
use runtime::Shutdown;

use crate::state::State;

/// Runs until `shutdown` fires (returns at once for a site without peers).
pub(crate) async fn run(st: Arc<State>, mut shutdown: Shutdown) {
    let r = &st.replication;
    if r.config().peers.is_empty() && r.config().follow.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(r.config().poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_check: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let check_due = last_check.is_none_or(|t| t.elapsed() >= r.config().check_interval);
        if r.is_primary() {
            if check_due {
                last_check = Some(Instant::now());
                if let Some((admin, epoch)) = newest_primary(&st).await
                    && epoch > r.epoch()
                {
                    r.follow(admin, epoch, st.clock.unix_ms());
                } else {
                    r.peers_checked();
                }
            }
        } else {
            step_replica(&st, check_due, &mut last_check).await;
        }
        r.apply_due(&st.versions, st.clock.unix_ms());
    }
}

async fn step_replica(st: &State, check_due: bool, last_check: &mut Option<Instant>) {
    let r = &st.replication;
    let Some(primary) = r.following() else { return };
    let path = format!("/changes?after={}", r.ask_after());
    match get_json::<Changes>(primary, &path, r.config().check_timeout).await {
        Ok(c) if c.primary => {
            // Version 1 dates from the primary's start everywhere (the
            // same Last-Modified from every site).
            st.versions.set_started(c.started);
            r.receive(&st.versions, c, st.clock.unix_ms());
            return;
        }
        // It answers but is no longer the primary (fenced, or demoted):
        // find the one that is.
        Ok(_) | Err(_) => {}
    }
    if !check_due {
        return;
    }
    *last_check = Some(Instant::now());
    let now = st.clock.unix_ms();
    if let Some((admin, epoch)) = newest_primary(st).await
        && admin != primary
        && epoch >= r.epoch()
    {
        tracing::info!(region = %r.config().region, %admin, epoch, "following the newest primary");
        r.follow(admin, epoch, now);
        return;
    }
    let Some(after) = r.config().promote_after else { return };
    let wait = after.as_millis() as u64 * (u64::from(r.config().rank) + 1);
    if r.silent_ms(now) >= wait {
        let epoch = peer_epochs(st).await.into_iter().map(|s| s.epoch).max().unwrap_or(0) + 1;
        match r.promote(&st.versions, epoch) {
            Ok(e) => {
                tracing::warn!(region = %r.config().region, epoch = e, silent_ms = r.silent_ms(now), "primary silent: promoted")
            }
            Err(e) => tracing::warn!(error = %e, "promotion refused"),
        }
    }
}

/// The status of every peer that answers.
pub(crate) async fn peer_epochs(st: &State) -> Vec<ReplicationStatus> {
    let cfg = st.replication.config();
    let mut out = Vec::new();
    for (_, admin) in &cfg.peers {
        if let Ok(s) = get_json::<ReplicationStatus>(*admin, "/replication", cfg.check_timeout).await {
            out.push(s);
        }
    }
    out
}

/// The peer that is primary of the highest epoch, if any answers.
async fn newest_primary(st: &State) -> Option<(SocketAddr, u64)> {
    let cfg = st.replication.config();
    let mut best: Option<(SocketAddr, u64)> = None;
    for (_, admin) in &cfg.peers {
        if let Ok(s) = get_json::<ReplicationStatus>(*admin, "/replication", cfg.check_timeout).await
            && s.role == "primary"
            && best.is_none_or(|(_, e)| s.epoch > e)
        {
            best = Some((*admin, s.epoch));
        }
    }
    best
}

async fn get_json<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    path: &str,
    timeout: std::time::Duration,
) -> Result<T, String> {
    let (status, body) = runtime::http_get::get(addr, path, timeout).await?;
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}
