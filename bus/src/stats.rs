//! Counters on the bus: each node publishes its `/stats` document on
//! `cdnlab.<world>.stats.<node>` every [`INTERVAL`]; a reader subscribes
//! and keeps the newest from each node, instead of polling every node's
//! admin address (which it may not be able to reach from another host).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::{Bus, BusError};

/// How often a node publishes its counters.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Publishes `node`'s counters (a JSON document).
pub async fn publish(bus: &Bus, node: &str, body: Bytes) -> Result<(), BusError> {
    bus.client().publish(bus.names().stats_subject(node), body).await.map_err(|e| BusError::request("publish stats", e))
}

/// The newest counters of each node heard within `wait`, by node name;
/// returns early once every node of `expect` has been heard.
pub async fn collect(
    bus: &Bus,
    expect: &[String],
    wait: Duration,
) -> Result<BTreeMap<String, serde_json::Value>, BusError> {
    let prefix = format!("cdnlab.{}.stats.", bus.names().world());
    let mut sub =
        bus.client().subscribe(bus.names().stats_wildcard()).await.map_err(|e| BusError::request("subscribe", e))?;
    let mut out = BTreeMap::new();
    let until = tokio::time::Instant::now() + wait;
    while expect.is_empty() || !expect.iter().all(|n| out.contains_key(n)) {
        let Ok(Some(m)) = tokio::time::timeout_at(until, sub.next()).await else { break };
        let Some(node) = m.subject.as_str().strip_prefix(&prefix) else { continue };
        match serde_json::from_slice(&m.payload) {
            Ok(v) => {
                out.insert(node.to_string(), v);
            }
            Err(e) => tracing::warn!(node, error = %e, "undecodable stats ignored"),
        }
    }
    let _ = sub.unsubscribe().await;
    Ok(out)
}
