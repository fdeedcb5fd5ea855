//! The `geodns` command (also `cdn geodns …`):
//!
//! ```text
//! geodns [--world FILE] [--mmdb FILE] [--dns ADDR | --listen ADDR] [--http ADDR] [--health check|off] [--bus URL]
//!        [--allow-non-loopback] [--log-json]
//! geodns build-mmdb [--world FILE] --out FILE
//! ```
//!
//! Without `--world` it serves the built-in demo world. On start it prints
//! one line on stdout, `cdnlab-ready geodns geodns dns=… http=…`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use world::World;

use crate::{Config, Mmdb, health};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "geodns", about = "cdnlab GeoDNS: routes every client to its nearest healthy edge")]
pub struct Args {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// World file (default: the built-in demo world).
    #[arg(long, global = true)]
    pub world: Option<PathBuf>,
    /// A GeoLite2/GeoIP2 City database instead of the demo one generated from the world.
    #[arg(long)]
    pub mmdb: Option<PathBuf>,
    /// DNS address, UDP and TCP (default: the world's geodns.dns).
    #[arg(long, visible_alias = "listen")]
    pub dns: Option<SocketAddr>,
    /// HTTP address (default: the world's geodns.http).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Health checks of the edges' /healthz: `check` (default) or `off`
    /// (every edge always answered).
    #[arg(long, value_enum)]
    pub health: Option<health::Mode>,
    /// UDP loop: `fast` (default) or `hickory` (hickory-server's own loop, for comparison).
    #[arg(long, value_enum)]
    pub udp_engine: Option<crate::udp::Engine>,
    /// Threads answering UDP with the fast engine (default: one per core, at most 4).
    #[arg(long)]
    pub udp_workers: Option<usize>,
    /// Send every answer as its own datagram, never grouped per client with UDP GSO.
    #[arg(long)]
    pub no_udp_gso: bool,
    /// Learn edges from this control bus's membership bucket besides the
    /// world file's (`nats://HOST:PORT`, docs/bus.md): an edge started
    /// with `--bus` on any host is answered once it is healthy.
    #[arg(long, value_name = "URL")]
    pub bus: Option<String>,
    /// Listen on addresses other than loopback too (DNS and HTTP then
    /// answer the network).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the demo GeoIP database generated from the world.
    BuildMmdb {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    crate::init_logging(args.log_json);
    let mut world = World::load_or_demo(args.world.as_deref())?;
    if let Some(Command::BuildMmdb { out }) = &args.command {
        let n = geoip::build::write(&world, out)?;
        println!("wrote {} ({n} bytes, {} regions) from world `{}`", out.display(), world.regions.len(), world.name);
        return Ok(());
    }
    if let Some(a) = args.dns {
        world.geodns.dns = a;
    }
    if let Some(a) = args.http {
        world.geodns.http = a;
    }
    for (flag, a) in [("--dns", world.geodns.dns), ("--http", world.geodns.http)] {
        world::listen::check(flag, a, args.allow_non_loopback).map_err(anyhow::Error::msg)?;
    }
    let mut config = Config::from_world(&world);
    if let Some(url) = args.bus {
        bus::server_addr(&url)?;
        config.bus = Some(url);
    }
    if let Some(p) = args.mmdb {
        config.mmdb = Mmdb::File(p);
    }
    if let Some(m) = args.health {
        config.health = m;
    }
    if let Some(e) = args.udp_engine {
        config.udp_engine = e;
    }
    if args.no_udp_gso {
        config.udp_gso = false;
    }
    if let Some(n) = args.udp_workers {
        config.udp_workers = n.max(1);
    }
    let bound = crate::bind(config).await?;
    let addrs = [("dns", bound.dns_addr), ("http", bound.http_addr)];
    println!("{}", runtime::server::ready_line("geodns", "geodns", &addrs));
    bound.serve(runtime::Shutdown::on(runtime::shutdown::ctrl_c_or_term())).await?;
    Ok(())
}
