//! The edge's presence on the bus: its membership record, put every
//! [`bus::members::HEARTBEAT`] (it expires when the edge stops putting
//! it), and its `/stats` on `cdnlab.<world>.stats.<name>`.

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use bus::members::{HEARTBEAT, Member, Membership};

use super::Link;
use crate::state::EdgeState;

/// Puts the record and publishes the stats every heartbeat until aborted.
pub(super) async fn beacon(st: Arc<EdgeState>, link: Arc<Link>, b: Bus) {
    let mut members: Option<Membership> = None;
    let mut tick = tokio::time::interval(HEARTBEAT.min(bus::stats::INTERVAL));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !b.connected() {
            continue;
        }
        if members.is_none() {
            members = Membership::open(&b).await.ok();
        }
        let Some((public, admin)) = link.addrs.get().copied() else { continue };
        let m = Member {
            node: st.name.clone(),
            role: "edge".into(),
            region: st.region.clone(),
            public,
            admin,
            status: if link.in_step() && !st.purge.out_of_step() { "up" } else { "syncing" }.into(),
            applied: link.applied(),
            at_ms: st.now_ms(),
        };
        if let Some(kv) = &members
            && let Err(e) = kv.put(&m).await
        {
            tracing::debug!(edge = %st.name, error = %e, "membership record not put");
            members = None;
        }
        if let Ok(body) = serde_json::to_vec(&crate::stats::of(&st))
            && let Err(e) = bus::stats::publish(&b, &st.name, body.into()).await
        {
            tracing::debug!(edge = %st.name, error = %e, "stats not published");
        }
    }
}

/// A clean stop: the record goes at once rather than when it expires.
pub(super) async fn leave(st: &EdgeState, b: &Bus) {
    if let Ok(kv) = Membership::open(b).await {
        let _ = kv.remove(&st.name).await;
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), b.flush()).await;
}
