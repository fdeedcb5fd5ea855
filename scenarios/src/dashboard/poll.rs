//! One round of reading the world's admin APIs, all at once: every edge's
//! `/stats` (the same reading `cdn stats` makes) and `/healthz`, the
//! origin's `/stats`, `/healthz` and `/faults`, GeoDNS's `/edges` (its
//! health table) and `/metrics` (answers per edge), and, with no load driver
//! to measure clients, every edge's `/metrics` for its latency histogram.
//!
//! One round runs per second for the whole dashboard, whatever the number
//! of pages open.

use std::time::Duration;

use api::edge::Stats;
use api::origin::{Faults, StatsSnapshot};
use futures_util::future::join_all;
use world::World;

/// How a `/healthz` answered: status and body, or why it did not.
pub type Probe = Result<(u16, String), String>;

/// Everything one round read.
pub struct Readings {
    /// Per edge, in world order: `/stats`.
    pub edges: Vec<(String, Result<Stats, String>)>,
    /// Per edge: `/healthz`.
    pub edge_health: Vec<Probe>,
    /// Per edge: `/metrics` (only when asked for).
    pub edge_metrics: Vec<Option<String>>,
    /// Per edge: `/purge/recent` after the cursor asked for.
    pub edge_purges: Vec<Option<api::edge::RecentPurges>>,
    /// The origin's `/stats`.
    pub origin: Option<StatsSnapshot>,
    /// The origin's `/healthz`.
    pub origin_health: Probe,
    /// The origin's faults in force.
    pub origin_faults: Option<Faults>,
    /// GeoDNS `/healthz`.
    pub geodns_health: Probe,
    /// GeoDNS `/edges`.
    pub geodns_edges: Option<serde_json::Value>,
    /// GeoDNS `/metrics`.
    pub geodns_metrics: Option<String>,
}

/// The HTTP client of the poller: short timeouts (a dead node must not
/// hold the round up), no proxy.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(800)).build()?)
}

async fn text(http: &reqwest::Client, url: String) -> Result<(u16, String), String> {
    let r = http.get(&url).send().await.map_err(|e| crate::stats::short(&e))?;
    let status = r.status().as_u16();
    let body = r.text().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

async fn ok_text(http: &reqwest::Client, url: String) -> Option<String> {
    match text(http, url).await {
        Ok((200, b)) => Some(b),
        _ => None,
    }
}

/// Whether your own origin accepts a TCP connection (`Ok`), or why not.
/// No HTTP request is sent: your origin's logs and request counts (which
/// runs compare) see nothing of the dashboard.
async fn accepts(url: &str) -> Probe {
    let addr = world::uri::parse_origin_url(url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_millis(800), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok((200, String::new())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 800 ms".into()),
    }
}

/// Reads everything once; `purges_after`: per edge, the last purge
/// already read from its `/purge/recent`; `origin_url`: your own origin
/// (it has no admin API: only whether it accepts a connection is read
/// here; its answers are judged from the edges' `/stats`).
pub async fn round(
    http: &reqwest::Client,
    w: &World,
    edge_metrics: bool,
    purges_after: &[u64],
    origin_url: Option<&str>,
) -> Readings {
    let stats = crate::stats::collect_with(http, w);
    let health = join_all(w.edges.iter().map(|e| text(http, format!("http://{}/healthz", e.admin))));
    let metrics = join_all(w.edges.iter().map(|e| async move {
        if edge_metrics { ok_text(http, format!("http://{}/metrics", e.admin)).await } else { None }
    }));
    let purges = join_all(w.edges.iter().enumerate().map(|(i, e)| async move {
        let after = purges_after.get(i).copied().unwrap_or(0);
        let b = ok_text(http, format!("http://{}/purge/recent?after={after}", e.admin)).await?;
        serde_json::from_str::<api::edge::RecentPurges>(&b).ok()
    }));
    let origin_health = async {
        match origin_url {
            Some(u) => accepts(u).await,
            None => text(http, format!("http://{}/healthz", w.origin.admin)).await,
        }
    };
    let origin_faults = async {
        if origin_url.is_some() {
            return None;
        }
        let b = ok_text(http, format!("http://{}/faults", w.origin.admin)).await?;
        serde_json::from_str::<Faults>(&b).ok()
    };
    let geodns_health = text(http, format!("http://{}/healthz", w.geodns.http));
    let geodns_edges = async {
        let b = ok_text(http, format!("http://{}/edges", w.geodns.http)).await?;
        serde_json::from_str::<serde_json::Value>(&b).ok()
    };
    let geodns_metrics = ok_text(http, format!("http://{}/metrics", w.geodns.http));
    let (
        (edges, origin),
        edge_health,
        edge_metrics,
        edge_purges,
        origin_health,
        origin_faults,
        geodns_health,
        geodns_edges,
        geodns_metrics,
    ) = tokio::join!(
        stats,
        health,
        metrics,
        purges,
        origin_health,
        origin_faults,
        geodns_health,
        geodns_edges,
        geodns_metrics
    );
    Readings {
        edges,
        edge_health,
        edge_metrics,
        edge_purges,
        origin,
        origin_health,
        origin_faults,
        geodns_health,
        geodns_edges,
        geodns_metrics,
    }
}
