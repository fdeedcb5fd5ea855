//! The command line, shared by the `origin` binary and `cdn origin`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use runtime::Shutdown;
use runtime::server::ready_line;
use runtime::shutdown::ctrl_c_or_term;
use world::World;

use crate::Config;

/// Flags of `origin`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "origin", about = "cdnlab origin: synthetic catalog, real files, faults and bumps")]
pub struct Args {
    /// World file (default: the built-in demo world).
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Serve real files from this directory (paths outside /obj/ and /echo/).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Which origin site of a replicated world to run: the primary's
    /// region (the default) or a replica's (`origin.replicas`); its
    /// addresses are the site's unless --listen/--admin say otherwise.
    #[arg(long, value_name = "REGION")]
    pub site: Option<String>,
    /// Public address (default: the world's origin.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Admin address (default: the world's origin.admin).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Listen on addresses other than loopback too (the admin API then
    /// answers the network: keep its token secret).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Send responses at loopback speed: do not pace them by the world's
    /// network model (as `[network] pacing = false` does).
    #[arg(long)]
    pub no_pacing: bool,
    /// A GeoIP2/GeoLite2 City database (as geodns's --mmdb) that locates
    /// the peers this origin paces: a peer it places takes the link from
    /// that place; one it does not know, the world's region networks.
    #[arg(long, value_name = "FILE")]
    pub mmdb: Option<PathBuf>,
}

/// A problem with the flags or the world: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Runs the origin until Ctrl-C or SIGTERM. Prints the ready line on stdout
/// once both listeners are bound.
pub async fn run(args: Args) -> anyhow::Result<()> {
    runtime::logging::init(args.log_json);
    let world = World::load_or_demo(args.world.as_deref())?;
    let region = args.site.clone().unwrap_or_else(|| world.origin.region.clone());
    let mut config = Config::for_site(&world, &region).map_err(ConfigError)?;
    config.root = args.root.clone();
    if args.no_pacing {
        config.pacing = runtime::pace::Pacing::off();
    }
    if let Some(p) = &args.mmdb {
        config.pacing = std::mem::take(&mut config.pacing).with_mmdb(p).map_err(|e| ConfigError(e.to_string()))?;
    }
    config.validate().map_err(|e| ConfigError(e.to_string()))?;
    let site = world.origin_site(&region).ok_or_else(|| ConfigError(format!("no origin site in `{region}`")))?;
    let public_addr = args.listen.unwrap_or(site.listen);
    let admin_addr = args.admin.unwrap_or(site.admin);
    for (flag, a) in [("--listen", public_addr), ("--admin", admin_addr)] {
        world::listen::check(flag, a, args.allow_non_loopback).map_err(ConfigError)?;
    }
    let bound = crate::bind(config, public_addr, admin_addr).await?;
    let name = if site.primary { "origin".to_string() } else { format!("origin-{region}") };
    let line = ready_line("origin", &name, &[("public", bound.public_addr), ("admin", bound.admin_addr)]);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    bound.serve(Shutdown::on(ctrl_c_or_term())).await;
    Ok(())
}

/// The exit code for an error from [`run`]: 2 for a bad world or flags,
/// 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    if e.is::<world::FileError>() || e.is::<ConfigError>() { ExitCode::from(2) } else { ExitCode::FAILURE }
}
