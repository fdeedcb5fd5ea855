//! `cdn`: run a CDN on one machine. See `cdn --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// cdnlab: a CDN you can run on one machine.
#[derive(Debug, Parser)]
#[command(name = "cdn", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the origin and every edge of a world; Ctrl-C stops them.
    Up(scenarios::up::UpArgs),
    /// Start again an edge of a running `cdn up` that crashed or was killed.
    Restart(scenarios::restart::RestartArgs),
    /// Print every edge's traffic and bill, and the same traffic without the CDN.
    Stats(scenarios::stats::StatsArgs),
    /// Run one edge server (same as the `edge` binary).
    Edge(Box<edge::cli::Args>),
    /// Run a PoP cluster's balancer on its public address (`cdn up` starts
    /// one per PoP).
    Pop(scenarios::balancer::PopArgs),
    /// Run GeoDNS (same as the `geodns` binary).
    Geodns(geodns::cli::Args),
    /// Where would GeoDNS send a client at this address, and why?
    Resolve(ResolveArgs),
    /// Run the origin server (same as the `origin` binary).
    Origin(origin::cli::Args),
    /// Run a scenario: start its world, drive traffic, fire events, report.
    Run(scenarios::run::RunArgs),
    /// Purge every edge of a world (URL, prefix, tag or all; hard or soft)
    /// and report when each acknowledged.
    Purge(scenarios::purge::PurgeArgs),
    /// Promote an origin replica to primary (a world with `origin.replicas`):
    /// writes go to it from now on; the old primary is fenced by the new epoch.
    Promote(scenarios::origins::PromoteArgs),
    /// Replay a request trace against offline cache models (policies,
    /// sizes, Belady, a bound) and price the origin bytes.
    Replay(scenarios::replay::ReplayArgs),
}

/// Flags of `cdn resolve`.
#[derive(Debug, clap::Args)]
struct ResolveArgs {
    /// The client's address (IPv4 or IPv6).
    ip: std::net::IpAddr,
    /// World file (default: the built-in demo world).
    #[arg(long)]
    world: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // Before any thread: glibc's malloc settings for this process and the
    // edges it starts (docs/memory.md).
    runtime::malloc::reexec_with_defaults();
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Up(a) => scenarios::up::run(a).await,
        Cmd::Restart(a) => scenarios::restart::run(a).await,
        Cmd::Stats(a) => scenarios::stats::run(a).await,
        Cmd::Edge(a) => edge::cli::run(*a).await,
        Cmd::Pop(a) => scenarios::balancer::run(a).await,
        Cmd::Geodns(a) => geodns::cli::run(a).await,
        Cmd::Resolve(a) => match world::World::load_or_demo(a.world.as_deref()) {
            Ok(w) => geodns::resolve_command(&w, a.ip, a.json).await,
            Err(e) => Err(e.into()),
        },
        Cmd::Purge(a) => return scenarios::purge::main(a).await,
        Cmd::Replay(a) => scenarios::replay::main(a),
        Cmd::Promote(a) => scenarios::origins::promote(a).await,
        Cmd::Run(a) => match scenarios::run::main(a).await {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Cmd::Origin(a) => match origin::cli::run(a).await {
            Ok(()) => Ok(()),
            Err(e) => {
                eprintln!("origin: {e:#}");
                return origin::cli::exit_code(&e);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cdn: {e:#}");
            ExitCode::from(2)
        }
    }
}
