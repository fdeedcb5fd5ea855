//! `POST /purge` on an edge that follows the bus: the purge goes into the
//! world's log (so every edge applies it, including those down now), and
//! the answer waits until this edge has applied it from there.

use std::time::Duration;

use bus::purge::PurgeLog;

use super::Link;
use crate::purge::relay::PurgeRelayed;
use crate::purge::spec::PurgeRequest;

/// How long the answer waits for this edge to apply the purge.
const APPLIED_WITHIN: Duration = Duration::from_secs(5);

/// Appends `req` to the log and returns this edge's result once applied
/// here. Errors say why (the bus unreachable: not published, loudly).
pub(super) async fn publish_purge(link: &Link, req: &PurgeRequest) -> Result<PurgeRelayed, String> {
    let Some(b) = link.bus.get() else { return Err("not connected to the control bus yet".into()) };
    if !b.connected() {
        return Err(format!("the control bus at {} is unreachable", link.config.url));
    }
    let body = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    let log = PurgeLog::open(b).await.map_err(|e| e.to_string())?;
    let seq = log.publish(body.into()).await.map_err(|e| e.to_string())?;
    let mut applied = link.applied.subscribe();
    match tokio::time::timeout(APPLIED_WITHIN, applied.wait_for(|a| *a >= seq)).await {
        Ok(Ok(_)) => link
            .result(seq)
            .ok_or_else(|| format!("purge {seq} is in the log and applied here, but its result was not kept")),
        _ => Err(format!("purge {seq} is in the log but was not applied here within {APPLIED_WITHIN:?}")),
    }
}
