//! A replicated origin from the CLI's side: which site is the primary now
//! (the one of the highest epoch that answers), the position a purge must
//! carry (`origin_seq`, so no edge refills from a replica that has not
//! seen the write the purge is for), `cdn promote`, and the per-site
//! table of `cdn stats` (docs/topology.md, "Replicated origin").

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use api::origin::{ReplicationStatus, StatsSnapshot};
use serde::{Deserialize, Serialize};
use world::World;
use world::replicas::Site;

/// How long one site's admin API may take to answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Flags of `cdn promote`.
#[derive(Debug, clap::Parser)]
pub struct PromoteArgs {
    /// The region of the replica to promote (one of `origin.replicas`).
    pub region: String,
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
}

/// One site's state as its admin API says, or why it did not.
#[derive(Debug, Clone)]
pub struct SiteState {
    /// The site.
    pub site: Site,
    /// Its `/replication` and `/stats`.
    pub status: Result<(ReplicationStatus, StatsSnapshot), String>,
}

async fn get_json<T: serde::de::DeserializeOwned>(addr: SocketAddr, path: &str) -> Result<T, String> {
    let (status, body) = runtime::http_get::get(addr, path, TIMEOUT).await?;
    if !status.is_success() {
        return Err(format!("{path}: status {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{path}: {e}"))
}

/// Every site of the world, asked.
pub async fn sites(w: &World) -> Vec<SiteState> {
    let mut out = Vec::new();
    for site in w.origin_sites() {
        let status = async {
            let r = get_json::<ReplicationStatus>(site.admin, "/replication").await?;
            let s = get_json::<StatsSnapshot>(site.admin, "/stats").await?;
            Ok((r, s))
        }
        .await;
        out.push(SiteState { site, status });
    }
    out
}

/// The primary now: the site answering as primary with the highest
/// epoch; its admin address and state.
pub async fn primary(w: &World) -> Option<(SocketAddr, ReplicationStatus)> {
    let mut best: Option<(SocketAddr, ReplicationStatus)> = None;
    for site in w.origin_sites() {
        if let Ok(r) = get_json::<ReplicationStatus>(site.admin, "/replication").await
            && r.role == "primary"
            && best.as_ref().is_none_or(|(_, b)| r.epoch > b.epoch)
        {
            best = Some((site.admin, r));
        }
    }
    best
}

/// The admin address writes go to: the primary now, or the world file's
/// when none answers (a world with one origin: always it).
pub async fn write_admin(w: &World) -> SocketAddr {
    if !w.is_replicated() {
        return w.origin.admin;
    }
    primary(w).await.map_or(w.origin.admin, |(a, _)| a)
}

/// Gives a purge the primary's position (`origin_seq`) in a replicated
/// world, unless it has one. Without an answering primary the purge goes
/// without (and says so in the log): the edges' floors stay as they were.
pub async fn stamp(w: &World, req: &mut api::edge::PurgeRequest) {
    if !w.is_replicated() || req.origin_seq.is_some() {
        return;
    }
    match primary(w).await {
        Some((_, r)) => req.origin_seq = Some(r.position),
        None => tracing::warn!("no origin site answers as primary: the purge carries no origin position"),
    }
}

/// `cdn promote REGION`: asks that replica to become the primary.
pub async fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let w = World::load_or_demo(args.world.as_deref())?;
    if !w.is_replicated() {
        anyhow::bail!("world `{}` has no origin replicas (origin.replicas)", w.name);
    }
    let Some(site) = w.origin_site(&args.region) else {
        let names: Vec<String> = w.origin_sites().into_iter().map(|s| s.region).collect();
        anyhow::bail!("no origin site in `{}` (sites: {})", args.region, names.join(", "));
    };
    let token = w
        .admin_token()
        .ok_or_else(|| anyhow::anyhow!("no admin token: set CDNLAB_ADMIN_TOKEN or the world's admin_token"))?;
    let c = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build()?;
    let r = c.post(format!("http://{}/promote", site.admin)).bearer_auth(token).send().await?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("origin {} answered {status}: {}", args.region, text.trim());
    }
    let s: ReplicationStatus = serde_json::from_str(&text)?;
    println!(
        "origin {} is the primary now: epoch {}, {} changes applied (position {}); writes go to {}",
        s.region, s.epoch, s.applied, s.position, site.admin
    );
    Ok(())
}

/// One site's row of the `cdn stats` table (and of `cdn stats --json`:
/// `origin_sites`), as its admin API answered, or why it did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRow {
    /// Its region.
    pub site: String,
    /// Its public address.
    pub address: String,
    /// `primary`, `replica`, or `down` when its admin API did not answer.
    pub role: String,
    /// The highest epoch it knows.
    pub epoch: u64,
    /// Requests it answered (edges' fills and anyone else's).
    pub requests: u64,
    /// Bytes it sent (socket).
    pub bytes_out: u64,
    /// The last change it applied.
    pub applied: u64,
    /// The primary's last change as it last saw it.
    pub head: u64,
    /// Changes received and not applied yet (the lag).
    pub pending: u64,
    /// How long the oldest change not applied here has been on the primary, ms.
    pub lag_ms: u64,
    /// Whether it takes writes now.
    pub writable: bool,
    /// Why its admin API did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The rows of [`sites`]' answers, in the world's order of sites.
pub fn rows(states: &[SiteState]) -> Vec<SiteRow> {
    states
        .iter()
        .map(|st| {
            let (site, address) = (st.site.region.clone(), st.site.listen.to_string());
            match &st.status {
                Ok((r, o)) => SiteRow {
                    site,
                    address,
                    role: r.role.clone(),
                    epoch: r.epoch,
                    requests: o.requests,
                    bytes_out: o.bytes_out,
                    applied: r.applied,
                    head: r.head,
                    pending: r.pending,
                    lag_ms: r.lag_ms,
                    writable: r.writable,
                    error: None,
                },
                Err(e) => SiteRow {
                    site,
                    address,
                    role: "down".into(),
                    epoch: 0,
                    requests: 0,
                    bytes_out: 0,
                    applied: 0,
                    head: 0,
                    pending: 0,
                    lag_ms: 0,
                    writable: false,
                    error: Some(e.clone()),
                },
            }
        })
        .collect()
}

/// The `cdn stats` table of a replicated origin: each site's role, epoch,
/// requests, how far it has applied the log, and its lag.
pub fn render(rows: &[SiteRow]) -> String {
    let mut s = String::from("\nOrigin sites\n");
    let _ = writeln!(
        s,
        "  {:<10} {:<8} {:>5} {:>10} {:>12} {:>9} {:>8} {:>8}  address",
        "site", "role", "epoch", "requests", "applied/head", "pending", "lag ms", "writes"
    );
    for r in rows {
        match &r.error {
            None => {
                let _ = writeln!(
                    s,
                    "  {:<10} {:<8} {:>5} {:>10} {:>12} {:>9} {:>8} {:>8}  {}",
                    r.site,
                    r.role,
                    r.epoch,
                    r.requests,
                    format!("{}/{}", r.applied, r.head),
                    r.pending,
                    r.lag_ms,
                    if r.writable { "yes" } else { "no" },
                    r.address
                );
            }
            Some(e) => {
                let _ = writeln!(s, "  {:<10} {:<8} {e}", r.site, "down");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cdn stats --json` and the text table come from the same rows: a
    /// site that answered, and one that did not (its error kept).
    #[test]
    fn site_rows_carry_what_each_site_said_or_why_not() {
        let site = |region: &str, k: u8, primary| Site {
            region: region.into(),
            listen: SocketAddr::from(([127, k, 0, 100], 8080)),
            admin: SocketAddr::from(([127, k, 0, 100], 9080)),
            primary,
        };
        let r = ReplicationStatus {
            region: "tokyo".into(),
            role: "primary".into(),
            epoch: 2,
            applied: 7,
            head: 7,
            writable: true,
            ..ReplicationStatus::default()
        };
        let o = StatsSnapshot { requests: 1234, bytes_out: 5_000_000, ..StatsSnapshot::default() };
        let states = [
            SiteState { site: site("newyork", 0, true), status: Err("connection refused".into()) },
            SiteState { site: site("tokyo", 2, false), status: Ok((r, o)) },
        ];
        let rows = rows(&states);
        let json = serde_json::to_value(&rows).unwrap();
        assert_eq!(json[0]["role"], "down");
        assert_eq!(json[0]["error"], "connection refused");
        assert_eq!((json[1]["role"].as_str(), json[1]["epoch"].as_u64()), (Some("primary"), Some(2)));
        assert_eq!((json[1]["requests"].as_u64(), json[1]["bytes_out"].as_u64()), (Some(1234), Some(5_000_000)));
        assert!(json[1].get("error").is_none(), "{json}");
        let text = render(&rows);
        assert!(text.contains("newyork    down     connection refused"), "{text}");
        assert!(text.contains("tokyo      primary      2       1234          7/7"), "{text}");
    }
}
