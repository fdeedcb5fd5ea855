//! `cdn up`: start a world's origin and edges as child processes, wait until
//! each is healthy, print where they are and what to try, stop them all on
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use world::World;

use crate::supervisor::{Supervisor, wait_healthy};

/// Flags of `cdn up`.
#[derive(Debug, Parser)]
pub struct UpArgs {
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Put your own server (on loopback) behind the edges instead of the
    /// synthetic origin, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    pub origin: Option<String>,
    /// `Host` the edges send the origin, whatever clients send (default:
    /// the --origin URL's authority, or the world's `origin.host`).
    #[arg(long)]
    pub origin_host: Option<String>,
    /// Do not show the components' log lines.
    #[arg(long)]
    pub quiet: bool,
}

/// Starts every component of the world; returns once all are healthy.
pub async fn start_world(
    w: &World,
    world_file: Option<&PathBuf>,
    origin: Option<&str>,
    origin_host: Option<&str>,
    sup: &mut Supervisor,
) -> anyhow::Result<()> {
    let world_args: Vec<String> =
        world_file.map(|p| vec!["--world".to_string(), p.display().to_string()]).unwrap_or_default();
    if let Some(url) = origin {
        edge::parse_origin_url(url)?;
    } else {
        let mut args = vec!["origin".to_string()];
        args.extend(world_args.iter().cloned());
        sup.start("origin", &args, Duration::from_secs(30)).await?;
        wait_healthy(w.origin.admin, Duration::from_secs(10)).await?;
    }
    for e in &w.edges {
        let mut args = vec!["edge".to_string()];
        args.extend(world_args.iter().cloned());
        args.extend(["--name".to_string(), e.name.clone()]);
        if let Some(url) = origin {
            args.extend(["--origin".to_string(), url.to_string()]);
        }
        if let Some(h) = origin_host {
            args.extend(["--origin-host".to_string(), h.to_string()]);
        }
        sup.start(&format!("edge {}", e.name), &args, Duration::from_secs(60)).await?;
        wait_healthy(e.admin, Duration::from_secs(10)).await?;
    }
    let mut args = vec!["geodns".to_string()];
    args.extend(world_args.iter().cloned());
    sup.start("geodns", &args, Duration::from_secs(30)).await?;
    wait_healthy(w.geodns.http, Duration::from_secs(10)).await?;
    Ok(())
}

/// The summary printed once everything is up.
pub fn summary(w: &World, origin: Option<&str>) -> String {
    let mut s = format!("\ncdnlab is up: world `{}` ({})\n\n", w.name, w.source.display());
    s.push_str(&format!("  {:<16} {:<22} {:<22} {}\n", "component", "address", "admin", "region"));
    match origin {
        Some(url) => s.push_str(&format!("  {:<16} {:<22} {:<22} {}\n", "origin (yours)", url, "-", "-")),
        None => s.push_str(&format!(
            "  {:<16} {:<22} {:<22} {}\n",
            "origin", w.origin.listen, w.origin.admin, w.origin.region
        )),
    }
    for e in &w.edges {
        s.push_str(&format!("  {:<16} {:<22} {:<22} {}\n", format!("edge {}", e.name), e.listen, e.admin, e.region));
    }
    s.push_str(&format!(
        "  {:<16} {:<22} {:<22} {}\n",
        "geodns",
        format!("dns {}", w.geodns.dns),
        format!("http {}", w.geodns.http),
        w.geodns.zone
    ));
    if let Some(first) = w.edges.first() {
        let path = if origin.is_some() { "/" } else { "/obj/1" };
        s.push_str("\nTry:\n");
        s.push_str(&format!(
            "  curl -si http://{}{path}   # first time: Cache-Status: … fwd=uri-miss … stored\n",
            first.listen
        ));
        s.push_str(&format!(
            "  curl -si http://{}{path}   # again: Cache-Status: … hit … detail=memory\n",
            first.listen
        ));
        s.push_str(&format!("  curl -s http://{}/stats    # the {} edge's counters\n", first.admin, first.name));
        let [dig, curl] = geodns::tour_lines(w);
        s.push_str(&format!("  {dig}   # GeoDNS: the edge for a Tokyo client\n"));
        s.push_str(&format!("  {curl}   # the same, by HTTP redirect\n"));
        s.push_str("  cdn purge --url /obj/1          # purge every edge; cdn stats for the bill\n");
    }
    s.push_str("\nCtrl-C stops everything.\n");
    s
}

/// Runs `cdn up`.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let w = World::load_or_demo(args.world.as_deref())?;
    let mut sup = Supervisor::new(args.quiet);
    if let Some(h) = &args.origin_host {
        edge::checked_host(h.clone())?;
    }
    let (origin, host) = (args.origin.as_deref(), args.origin_host.as_deref());
    if let Err(e) = start_world(&w, args.world.as_ref(), origin, host, &mut sup).await {
        sup.stop_all(Duration::from_secs(5)).await;
        return Err(e);
    }
    println!("{}", summary(&w, args.origin.as_deref()));
    let shutdown = world::serve::ctrl_c_or_term();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(ex) = sup.exited.recv() => {
                eprintln!("cdn up: {} exited unexpectedly; its last lines:\n    {}", ex.name, ex.tail.join("\n    "));
            }
        }
    }
    eprintln!("cdn up: stopping {} components", sup.procs().len());
    sup.stop_all(Duration::from_secs(10)).await;
    Ok(())
}
