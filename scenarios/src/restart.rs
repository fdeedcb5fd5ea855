//! `cdn restart NAME`: starts again an edge of a running `cdn up` that
//! crashed or was killed, through the control API of `cdn up`'s live page
//! (`POST /api/edges/{name}/restart`, behind the world's admin token), so
//! the edge comes back as `cdn up`'s own child with its own data directory.
//! A PoP's name restarts its balancer, a node's name (`seoul-2`) that node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use world::World;

/// Flags of `cdn restart`.
#[derive(Debug, Parser)]
pub struct RestartArgs {
    /// The edge (`tokyo`), PoP balancer (`seoul`) or PoP node (`seoul-2`).
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
    process_of(&w, &args.name).map_err(anyhow::Error::msg)?;
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

/// The name `cdn up` runs server `name` under (`edge tokyo`, `edge
/// seoul-2` for a PoP's node, `pop seoul` for its balancer), or why there
/// is none, listing the names there are.
pub fn process_of(w: &World, name: &str) -> Result<String, String> {
    use world::pop::Server;
    match w.server(name) {
        Some(Server::Edge(_) | Server::Node(..)) => Ok(format!("edge {name}")),
        Some(Server::Pop(_)) => Ok(format!("pop {name}")),
        None => Err(format!(
            "no edge `{name}` in world `{}` (edges, PoP balancers and PoP nodes: {})",
            w.name,
            w.server_names().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::process_of;

    #[test]
    fn edges_pop_balancers_and_nodes_have_processes_and_other_names_are_listed() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/worlds/cluster.toml");
        let w = world::World::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(process_of(&w, "tokyo").as_deref(), Ok("edge tokyo"));
        assert_eq!(process_of(&w, "seoul").as_deref(), Ok("pop seoul"));
        assert_eq!(process_of(&w, "seoul-3").as_deref(), Ok("edge seoul-3"));
        let e = process_of(&w, "seoul-9").unwrap_err();
        assert!(
            e.contains("no edge `seoul-9`") && e.contains("seoul, seoul-1, seoul-2, seoul-3, seoul-4, tokyo"),
            "{e}"
        );
    }
}
