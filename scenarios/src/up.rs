//! `cdn up`: start a world's origin and edges as child processes, wait until
//! each is healthy, print where they are and what to try, stop them all on
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::sync::Mutex;
use world::World;

use crate::supervisor::{Supervisor, wait_healthy};

mod parts;
pub use parts::Parts;

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
    /// Freshness lifetime the edges give responses without one of their
    /// own (no max-age, no `Expires`), e.g. 5m, instead of the heuristic
    /// (10% of the time since `Last-Modified`); as `default_ttl` for every
    /// path in the world file.
    #[arg(long, value_name = "DUR", value_parser = world::units::parse_duration)]
    pub default_ttl: Option<Duration>,
    /// Empty every edge's cache before starting (disk tier and purge
    /// journal; admin tokens stay): needed when the data directories were
    /// filled from another origin, which the edges refuse otherwise.
    /// Restarts (`cdn restart`) keep what the edge stored since.
    #[arg(long)]
    pub fresh: bool,
    /// Do not show the components' log lines.
    #[arg(long)]
    pub quiet: bool,
    /// Start an edge that exits unexpectedly (crashed, or killed from
    /// outside) again after this long, e.g. 2s (default: report it and
    /// wait for `cdn restart NAME`).
    #[arg(long, value_name = "DELAY", value_parser = world::units::parse_duration)]
    pub restart_after: Option<Duration>,
    /// Run the world on a control bus (docs/bus.md): `--bus` alone starts
    /// a local nats-server with JetStream on 127.0.0.1:4222 (data in the
    /// world's data directory); `--bus nats://HOST:PORT` joins a running
    /// one. Edges then take purges from the bus's purge log.
    #[arg(long, value_name = "URL", num_args = 0..=1)]
    pub bus: Option<Option<String>>,
    /// Run only these parts of the world, comma-separated: `origin`,
    /// `geodns`, `edges` (all of them), `edge:NAME` (an edge; a PoP with
    /// its nodes and balancer; or one PoP node, `edge:seoul-2`),
    /// `pop:NAME` (a PoP's balancer alone) (e.g. `--only origin,geodns`
    /// here and `--only edge:tokyo` in another `cdn up`);
    /// the parts started elsewhere are expected at the world file's
    /// addresses. With a bus, the edges of every part meet in its log and
    /// membership (docs/scale-out.md).
    #[arg(long, value_name = "PARTS", value_parser = Parts::parse)]
    pub only: Option<Parts>,
    /// Send every response at loopback speed: the origin and edges do not
    /// pace by the world's network model (`--no-pacing` on each, as
    /// `[network] pacing = false` in the world does).
    #[arg(long)]
    pub no_pacing: bool,
    /// A GeoIP2/GeoLite2 City database: GeoDNS locates clients by it
    /// instead of the one it generates from the world, and the origin and
    /// edges pace a peer it places by the link from that place (`--mmdb`
    /// on each).
    #[arg(long, value_name = "FILE")]
    pub mmdb: Option<PathBuf>,
    #[command(flatten)]
    pub dashboard: DashboardArgs,
}

/// Dashboard flags of `cdn up` and `cdn run`.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// Serve the live dashboard here instead of the world's `[dashboard] listen`.
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<std::net::SocketAddr>,
    /// Do not serve the dashboard.
    #[arg(long, conflicts_with = "dashboard")]
    pub no_dashboard: bool,
}

impl DashboardArgs {
    /// Refuses a `--dashboard` address off loopback (its controls purge,
    /// bump and kill; world files take loopback addresses only too).
    pub fn check(&self) -> anyhow::Result<()> {
        match self.dashboard {
            Some(a) if !a.ip().is_loopback() => {
                anyhow::bail!("--dashboard {a}: not a loopback address; the dashboard listens on loopback only")
            }
            _ => Ok(()),
        }
    }

    /// Where to serve the dashboard in `w`, if at all.
    pub fn listen(&self, w: &World) -> Option<std::net::SocketAddr> {
        if self.no_dashboard || (!w.dashboard.enabled && self.dashboard.is_none()) {
            return None;
        }
        Some(self.dashboard.unwrap_or(w.dashboard.listen))
    }
}

/// Flags for every edge at its first start only (`--fresh`), and at every
/// start (`--default-ttl`).
#[derive(Debug, Clone, Default)]
pub struct EdgeFlags {
    /// Empty each edge's cache before its first start.
    pub fresh: bool,
    /// More flags for every start.
    pub always: Vec<String>,
    /// More flags for geodns (`--bus`).
    pub geodns: Vec<String>,
    /// More flags for the origin and its replicas (`--no-pacing`, `--mmdb`).
    pub origin: Vec<String>,
    /// The parts to run.
    pub parts: Parts,
}

impl EdgeFlags {
    /// `--mmdb FILE` for GeoDNS, the origin and every edge; the file is
    /// read here first, so a bad one stops before anything starts (with
    /// the error that names it).
    pub fn mmdb(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        geoip::GeoIp::open(path)?;
        let path = std::path::absolute(path)?.display().to_string();
        for flags in [&mut self.always, &mut self.geodns, &mut self.origin] {
            flags.extend(["--mmdb".to_string(), path.clone()]);
        }
        Ok(())
    }
}

/// Starts every component of the world; returns once all are healthy.
/// Every edge's data directory is checked first ([`check_data_dirs`]):
/// a refusal stops `cdn up` before any process starts.
pub async fn start_world(
    w: &World,
    world_file: Option<&PathBuf>,
    origin: Option<&str>,
    origin_host: Option<&str>,
    edge_flags: &EdgeFlags,
    sup: &mut Supervisor,
) -> anyhow::Result<()> {
    let world_args: Vec<String> =
        world_file.map(|p| vec!["--world".to_string(), p.display().to_string()]).unwrap_or_default();
    let parts = &edge_flags.parts;
    if let Some(url) = origin {
        world::uri::parse_origin_url(url)?;
    }
    // The edges run here (--only), each with the arguments it starts with.
    let edges = edge_args(w, world_file, origin, origin_host, &edge_flags.always, parts);
    if !edge_flags.fresh {
        check_data_dirs(&edges)?;
    }
    if origin.is_none() && parts.origin {
        let mut args = vec!["origin".to_string()];
        args.extend(world_args.iter().cloned());
        args.extend(edge_flags.origin.iter().cloned());
        sup.start("origin", &args, Duration::from_secs(30)).await?;
        wait_healthy(w.origin.admin, Duration::from_secs(10)).await?;
        // Its replicas (origin.replicas), each following it.
        for site in w.origin_sites().into_iter().filter(|s| !s.primary) {
            let mut args = vec!["origin".to_string()];
            args.extend(world_args.iter().cloned());
            args.extend(["--site".to_string(), site.region.clone()]);
            args.extend(edge_flags.origin.iter().cloned());
            sup.start(&format!("origin {}", site.region), &args, Duration::from_secs(30)).await?;
            wait_healthy(site.admin, Duration::from_secs(10)).await?;
        }
    }
    for (name, args) in edges {
        // A PoP's nodes run as edges of their own (`cdn edge --name seoul-2`).
        let admin = w.node_edge(&name).or_else(|| w.edge(&name).cloned()).map(|e| e.admin);
        let name = format!("edge {name}");
        if edge_flags.fresh {
            let first = [&args[..], &["--fresh".to_string()]].concat();
            sup.start(&name, &first, Duration::from_secs(60)).await?;
            sup.restart_with(&name, args);
        } else {
            sup.start(&name, &args, Duration::from_secs(60)).await?;
        }
        if let Some(a) = admin {
            wait_healthy(a, Duration::from_secs(10)).await?;
        }
    }
    // Each PoP's balancer, on the PoP's public and admin addresses, once
    // its nodes are up (crate::balancer).
    for e in w.edges.iter().filter(|e| e.pop.is_some() && parts.balancer(&e.name)) {
        let mut args = vec!["pop".to_string(), "--name".to_string(), e.name.clone()];
        args.extend(world_args.iter().cloned());
        sup.start(&format!("pop {}", e.name), &args, Duration::from_secs(30)).await?;
        wait_healthy(e.admin, Duration::from_secs(10)).await?;
    }
    if parts.geodns {
        let mut args = vec!["geodns".to_string()];
        args.extend(world_args.iter().cloned());
        args.extend(edge_flags.geodns.iter().cloned());
        sup.start("geodns", &args, Duration::from_secs(30)).await?;
        wait_healthy(w.geodns.http, Duration::from_secs(10)).await?;
    }
    Ok(())
}

/// The name of each edge of `parts` (each node of a PoP in its place) and
/// the arguments of `cdn edge` that start it, in world order.
fn edge_args(
    w: &World,
    world_file: Option<&PathBuf>,
    origin: Option<&str>,
    origin_host: Option<&str>,
    always: &[String],
    parts: &Parts,
) -> Vec<(String, Vec<String>)> {
    // A PoP runs as its nodes (and a balancer, started apart).
    let servers = w.edges.iter().flat_map(|e| match e.pop {
        None => parts.edge(&e.name).then(|| e.clone()).into_iter().collect(),
        Some(_) => world::pop::nodes_of(e)
            .iter()
            .filter(|n| parts.node(&e.name, &n.name))
            .filter_map(|n| w.node_edge(&n.name))
            .collect::<Vec<_>>(),
    });
    servers
        .map(|e| {
            let mut args = vec!["edge".to_string()];
            if let Some(p) = world_file {
                args.extend(["--world".to_string(), p.display().to_string()]);
            }
            args.extend(["--name".to_string(), e.name.clone()]);
            if let Some(url) = origin {
                args.extend(["--origin".to_string(), url.to_string()]);
            }
            if let Some(h) = origin_host {
                args.extend(["--origin-host".to_string(), h.to_string()]);
            }
            args.extend(always.iter().cloned());
            (e.name, args)
        })
        .collect()
}

/// Refuses, before anything starts, edges whose data directory holds
/// another origin's cache (or a cache with no record of its origin): each
/// edge's configuration is read from exactly the arguments it will be
/// started with, and its directory judged by the edge's own rule
/// ([`edge::Config::data_dir_refusal`]), so the answer is the one the
/// edge would give, for every edge at once, naming each. Anything else
/// (a bad flag, an unreadable directory) is left to the edge's start,
/// which reports it as before.
fn check_data_dirs(edges: &[(String, Vec<String>)]) -> anyhow::Result<()> {
    use edge::datadir::DataDirError;
    let mut refused = Vec::new();
    for (name, args) in edges {
        let Ok(config) = edge::cli::Args::try_parse_from(args).map_err(anyhow::Error::from).and_then(|a| a.config())
        else {
            continue;
        };
        match config.data_dir_refusal() {
            Err(DataDirError::OtherOrigin { dir, theirs, ours }) => refused.push(format!(
                "edge {name}: {} holds the cache of origin {theirs}; this edge's origin is {ours}",
                dir.display()
            )),
            Err(DataDirError::Unrecorded { dir, ours }) => refused.push(format!(
                "edge {name}: {} holds a cache but no record of the origin that filled it (written by an older \
                 cdnlab, or {} removed); this edge's origin is {ours}",
                dir.display(),
                edge::datadir::RECORD
            )),
            Ok(()) | Err(DataDirError::Io { .. }) => {}
        }
    }
    anyhow::ensure!(
        refused.is_empty(),
        "nothing started: the data directories of {} of {} edges hold a cache not filled from this run's origin, \
         and a cache's objects are never served for another origin:\n  {}\nStart with `cdn up --fresh` to empty every edge's cache first (the \
         admin tokens are kept), or give the edges other data directories (`data_dir` in a world file: \
         docs/worlds.md).",
        refused.len(),
        edges.len(),
        refused.join("\n  ")
    );
    Ok(())
}

/// The summary printed once everything is up.
pub fn summary(w: &World, origin: Option<&str>, dashboard: Option<&str>) -> String {
    summary_of(w, origin, dashboard, &Parts::all())
}

/// [`summary`] of the parts run here; the others are said to be elsewhere.
pub fn summary_of(w: &World, origin: Option<&str>, dashboard: Option<&str>, parts: &Parts) -> String {
    let mut s = format!("\ncdnlab is up: world `{}` ({})\n\n", w.name, w.source.display());
    s.push_str(&format!("  {:<16} {:<22} {:<22} {}\n", "component", "address", "admin", "region"));
    let elsewhere = |here: bool| if here { "" } else { "   (not here: --only)" };
    match origin {
        Some(url) => s.push_str(&format!("  {:<16} {:<22} {:<22} {}\n", "origin (yours)", url, "-", "-")),
        None => s.push_str(&format!(
            "  {:<16} {:<22} {:<22} {}{}\n",
            "origin",
            w.origin.listen,
            w.origin.admin,
            w.origin.region,
            elsewhere(parts.origin)
        )),
    }
    if origin.is_none() {
        for site in w.origin_sites().into_iter().filter(|s| !s.primary) {
            s.push_str(&format!(
                "  {:<16} {:<22} {:<22} {}   (replica, {} behind the primary){}\n",
                format!("origin {}", site.region),
                site.listen,
                site.admin,
                site.region,
                w.origin.replication_lag,
                elsewhere(parts.origin)
            ));
        }
    }
    for e in &w.edges {
        let pop = e.pop.as_ref().map(|p| format!("   (PoP: balancer, {} {} nodes)", p.nodes, p.policy.as_str()));
        s.push_str(&format!(
            "  {:<16} {:<22} {:<22} {}{}{}\n",
            format!("edge {}", e.name),
            e.listen,
            e.admin,
            e.region,
            elsewhere(parts.edge(&e.name)),
            pop.unwrap_or_default()
        ));
        for n in world::pop::nodes_of(e) {
            let peer = e.pop.as_ref().filter(|p| p.policy == world::config::PopPolicy::Hash).map(|_| n.peer);
            s.push_str(&format!(
                "  {:<16} {:<22} {:<22} {}{}\n",
                format!("  node {}", n.name),
                n.listen,
                n.admin,
                e.region,
                peer.map(|p| format!("   (peer fills on {p})")).unwrap_or_default()
            ));
        }
    }
    if let (Some(e), Some(l)) = (w.shield_edge(), w.shield_listen()) {
        let lower: Vec<&str> = w
            .edges
            .iter()
            .filter(|x| matches!(w.upstream_of(x), world::tiers::Upstream::Shield { .. }))
            .map(|x| x.name.as_str())
            .collect();
        s.push_str(&format!(
            "  {:<16} {:<22} {:<22} {}   (edge {} is the origin shield: {} fill from it)\n",
            "shield tier",
            l,
            e.admin,
            e.region,
            e.name,
            lower.join(", ")
        ));
    }
    s.push_str(&format!(
        "  {:<16} {:<22} {:<22} {}{}\n",
        "geodns",
        format!("dns {}", w.geodns.dns),
        format!("http {}", w.geodns.http),
        w.geodns.zone,
        elsewhere(parts.geodns)
    ));
    if let Some(url) = dashboard {
        s.push_str(&format!("  {:<16} {url}   (live; controls ask for the admin token)\n", "dashboard"));
    }
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
        let [dig, curl] = geodns_lines(w);
        s.push_str(&format!("  {dig}   # GeoDNS: the edge for a Tokyo client\n"));
        s.push_str(&format!("  {curl}   # the same, by HTTP redirect\n"));
        s.push_str(&format!("  cdn purge --url {path}          # purge every edge; cdn stats for the bill\n"));
    }
    s.push_str("\nCtrl-C stops everything.\n");
    s
}

/// Runs `cdn up`.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    args.dashboard.check()?;
    let w = World::load_or_demo(args.world.as_deref())?;
    let parts = args.only.clone().unwrap_or_default();
    parts.check(&w)?;
    let mut sup = Supervisor::new(args.quiet);
    if let Some(h) = &args.origin_host {
        world::uri::checked_host(h.clone())?;
    }
    let (origin, host) = (args.origin.as_deref(), args.origin_host.as_deref());
    if let Some(d) = args.default_ttl {
        anyhow::ensure!(d <= world::bounds::MAX_TTL, "--default-ttl {}: must be at most ten years", world::Dur(d));
    }
    let mut always = match args.default_ttl {
        Some(d) => vec!["--default-ttl".to_string(), format!("{}ms", d.as_millis())],
        None => Vec::new(),
    };
    // Before anything starts (the bus server included).
    if !args.fresh {
        check_data_dirs(&edge_args(&w, args.world.as_ref(), origin, host, &always, &parts))?;
    }
    // Dropped (and so killed) when `cdn up` returns, after the edges.
    let (bus_url, _nats) = match &args.bus {
        None => (None, None),
        Some(Some(url)) => {
            bus::server_addr(url)?;
            (Some(url.clone()), None)
        }
        Some(None) => {
            let nats = start_bus(&w).await?;
            (Some(nats.url()), Some(nats))
        }
    };
    let mut geodns = Vec::new();
    if let Some(url) = &bus_url {
        always.extend(["--bus".to_string(), url.clone()]);
        geodns.extend(["--bus".to_string(), url.clone()]);
    }
    let mut origin_flags = Vec::new();
    if args.no_pacing {
        always.push("--no-pacing".to_string());
        origin_flags.push("--no-pacing".to_string());
    }
    let mut edge_flags = EdgeFlags { fresh: args.fresh, always, geodns, origin: origin_flags, parts: parts.clone() };
    if let Some(p) = &args.mmdb {
        edge_flags.mmdb(p)?;
    }
    if let Err(e) = start_world(&w, args.world.as_ref(), origin, host, &edge_flags, &mut sup).await {
        sup.stop_all(Duration::from_secs(5)).await;
        return Err(e);
    }
    let mut exited = sup.take_exited();
    let sup = Arc::new(Mutex::new(sup));
    let ctx = Arc::new(crate::events::Ctx {
        world: Arc::new(w.clone()),
        http: reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build()?,
        sup: sup.clone(),
        versions: Default::default(),
        start: std::time::Instant::now(),
        announce: false,
        journal: Default::default(),
        origin_url: args.origin.clone(),
        tally: None,
        bus: None,
    });
    // Split with --only, the dashboard goes with GeoDNS (one per world).
    let listen = if parts.geodns { args.dashboard.listen(&w) } else { None };
    let dashboard = match listen {
        Some(addr) => match crate::dashboard::start(addr, ctx, None).await {
            Ok(d) => Some(d),
            Err(e) => {
                sup.lock().await.stop_all(Duration::from_secs(5)).await;
                return Err(e);
            }
        },
        None => None,
    };
    println!("{}", summary_of(&w, args.origin.as_deref(), dashboard.as_ref().map(|d| d.url()).as_deref(), &parts));
    if let Some(url) = &bus_url {
        println!("Control bus: {url} (docs/bus.md). For `cdn purge` through it: export {}={url}\n", bus::URL_ENV);
    }
    let shutdown = runtime::shutdown::ctrl_c_or_term();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(ex) = exited.recv() => {
                let mut s = sup.lock().await;
                if s.was_killed(&ex.name) {
                    eprintln!("cdn up: {} was killed on request", ex.name);
                    continue;
                }
                let reaped = s.reap(&ex.name).await;
                drop(s);
                eprintln!("cdn up: {} exited unexpectedly; its last lines:\n    {}", ex.name, ex.tail.join("\n    "));
                let Some(edge) = ex.name.strip_prefix("edge ").filter(|_| reaped) else { continue };
                match args.restart_after {
                    None => eprintln!("cdn up: `cdn restart {edge}` starts it again"),
                    Some(d) => {
                        eprintln!("cdn up: starting edge {edge} again in {d:?} (--restart-after)");
                        let (sup, name) = (sup.clone(), ex.name.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(d).await;
                            match sup.lock().await.restart(&name, Duration::from_secs(60)).await {
                                Ok(_) => eprintln!("cdn up: {name} is back"),
                                Err(e) => eprintln!("cdn up: {name} did not start again: {e:#}"),
                            }
                        });
                    }
                }
            }
        }
    }
    drop(dashboard);
    let mut sup = sup.lock().await;
    eprintln!("cdn up: stopping {} components", sup.procs().len());
    sup.stop_all(Duration::from_secs(10)).await;
    Ok(())
}

/// Starts a local nats-server with JetStream for world `w` on
/// [`bus::DEFAULT_URL`]'s address, its data next to the edges' (a child of
/// this process: it goes when `cdn up` goes).
async fn start_bus(w: &World) -> anyhow::Result<bus::server::NatsServer> {
    let listen: std::net::SocketAddr = bus::server_addr(bus::DEFAULT_URL)?.parse()?;
    start_bus_at(w, listen).await
}

/// [`start_bus`] on `listen` (port 0: a free port; `cdn run` with `bus =
/// true`), its data in `nats/` beside the edges' data directories.
pub(crate) async fn start_bus_at(w: &World, listen: std::net::SocketAddr) -> anyhow::Result<bus::server::NatsServer> {
    if !bus::server::installed() {
        anyhow::bail!("--bus: nats-server is not installed; {}", bus::server::INSTALL_HINT);
    }
    let dir = w
        .edges
        .first()
        .and_then(|e| w.data_dir_of(e).parent().map(|p| p.join("nats")))
        .unwrap_or_else(|| PathBuf::from("data").join(&w.name).join("nats"));
    // The clients' credentials (CDNLAB_BUS_TOKEN, …) are the server's too.
    let auth = bus::auth::Auth::from_env().map_err(|e| anyhow::anyhow!("--bus: {e}"))?;
    if auth.secret.is_some() && auth.server_block().is_none() {
        anyhow::bail!(
            "--bus: a local nats-server cannot require a credentials file ({}): start your own and join it with --bus nats://HOST:PORT",
            bus::auth::CREDS_ENV
        );
    }
    let config = bus::server::ServerConfig {
        listen,
        store_dir: dir,
        name: format!("cdnlab-{}", w.name),
        ready_within: Duration::from_secs(20),
        auth: Some(auth),
        tls: None,
    };
    bus::server::NatsServer::start(config).await.map_err(|e| anyhow::anyhow!("--bus: nats-server: {e}"))
}

/// The two lines `cdn up` prints to try geodns: a `dig` from a client
/// address of the world's second region (the first if there is one) and a
/// `curl -L` through `/r/` from the same address.
fn geodns_lines(world: &World) -> [String; 2] {
    let g = &world.geodns;
    let region = world.regions.get(1).or(world.regions.first());
    let client = region
        .and_then(|r| match r.clients.network() {
            std::net::IpAddr::V4(n) => Some(std::net::Ipv4Addr::from(u32::from(n) + 9).to_string()),
            std::net::IpAddr::V6(_) => None,
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    [
        format!("dig @{} -p {} -b {client} {} A +short", g.dns.ip(), g.dns.port(), g.zone),
        format!("curl --interface {client} -sIL http://{}/r/obj/1", g.http),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn geodns_lines_for_the_demo_world() {
        let w = world::World::demo().unwrap();
        assert_eq!(
            super::geodns_lines(&w),
            [
                "dig @127.0.0.1 -p 1053 -b 127.2.0.9 cdn.test A +short",
                "curl --interface 127.2.0.9 -sIL http://127.0.0.1:8053/r/obj/1",
            ]
        );
    }
}
