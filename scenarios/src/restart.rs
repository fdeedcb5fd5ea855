//! `cdn restart NAME`: starts again an edge of a running `cdn up` that
//! crashed or was killed, through the control API of `cdn up`'s live page
//! (`POST /api/edges/{name}/restart`, behind the world's admin token), so
//! the edge comes back as `cdn up`'s own child with its own data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use world::World;

/// Flags of `cdn restart`.
#[derive(Debug, Parser)]
pub struct RestartArgs {
    /// The edge (`tokyo`).
    pub name: String,
    /// World file of the running `cdn up` (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Where `cdn up` serves its dashboard, if not the world's `[dashboard] listen`.
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<SocketAddr>,
}

/// Runs `cdn restart`.
pub async fn run(args: RestartArgs) -> anyhow::Result<()> {
    let w = World::load_or_demo(args.world.as_deref())?;
    if w.edge(&args.name).is_none() {
        let names: Vec<&str> = w.edges.iter().map(|e| e.name.as_str()).collect();
        bail!("no edge `{}` in world `{}` (edges: {})", args.name, w.name, names.join(", "));
    }
    let at = args.dashboard.unwrap_or(w.dashboard.listen);
    let token = w.admin_token().context("the world has no admin token (set CDNLAB_ADMIN_TOKEN to cdn up's)")?;
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(70)).build()?;
    let url = format!("http://{at}/api/edges/{}/restart", args.name);
    let r = http.post(&url).bearer_auth(token).send().await.with_context(|| {
        format!("no `cdn up` answered at {at} (its dashboard; --dashboard ADDR if it serves it elsewhere)")
    })?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("edge {}: {} ({status})", args.name, body["error"].as_str().unwrap_or("refused"));
    }
    println!("edge {}: started again, {}", args.name, body["effect"].as_str().unwrap_or("ready"));
    Ok(())
}
