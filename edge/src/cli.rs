//! Command line of the `edge` binary (and of `cdn edge`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use runtime::pace::Fetching;
use world::config::EdgeOverrides;
use world::units::{ByteSize, parse_bytes, parse_duration};
use world::{EdgeSettings, World};

use crate::Config;

/// Runs one edge: from a world (`--world FILE --name seoul`) or standalone
/// in front of any HTTP server on loopback (`--origin URL --listen ADDR`).
#[derive(Debug, Parser)]
#[command(name = "edge", version, about = "cdnlab edge server: an HTTP cache in front of one origin")]
pub struct Args {
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Edge name in the world.
    #[arg(long)]
    pub name: Option<String>,
    /// The origin to front, e.g. http://127.0.0.1:9000 (loopback only): alone,
    /// a standalone edge; with --name, replaces the world's origin.
    #[arg(long)]
    pub origin: Option<String>,
    /// `Host` sent to the origin on every request, whatever clients send
    /// (default: the world's `origin.host`, else the --origin URL's
    /// authority, else the origin's address).
    #[arg(long)]
    pub origin_host: Option<String>,
    /// Public address (overrides the world's).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Admin address (overrides the world's; standalone default: public port + 1000).
    #[arg(long)]
    pub admin: Option<SocketAddr>,
    /// Data directory (overrides the world's).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Memory tier size, e.g. 64MiB.
    #[arg(long, value_parser = parse_bytes)]
    pub memory: Option<ByteSize>,
    /// Disk tier size, e.g. 1GiB (0: memory only).
    #[arg(long, value_parser = parse_bytes)]
    pub disk: Option<ByteSize>,
    /// Largest object stored, e.g. 8MiB.
    #[arg(long, value_parser = parse_bytes)]
    pub max_object: Option<ByteSize>,
    /// Memory eviction policy: lru, lfu, s3fifo, sieve, fifo.
    #[arg(long)]
    pub eviction: Option<String>,
    /// Disk tier write buffer, e.g. 16MiB (default and least: max-object +
    /// 256KiB, at least 4MiB); resident memory grows by up to three times it
    /// (docs/memory.md).
    #[arg(long, value_parser = parse_bytes)]
    pub disk_write_buffer: Option<ByteSize>,
    /// When a disk-tier hit is copied into the memory tier: reuse (its
    /// second disk hit, if its reuse fits the memory tier; the default),
    /// always, never (docs/disk.md).
    #[arg(long, value_name = "RULE")]
    pub disk_promotion: Option<String>,
    /// A what-if cache fed this edge's requests, `POLICY:SIZE` (e.g.
    /// sieve:256MiB; repeat for more; replaces the world's `shadow`).
    #[arg(long, value_name = "POLICY:SIZE", value_parser = world::policy::ShadowCache::parse)]
    pub shadow: Vec<world::policy::ShadowCache>,
    /// The share of keys the what-if caches follow, 0.001 to 1 (SHARDS
    /// sampling; 1: every key, exact; replaces the world's `shadow_sample`).
    #[arg(long, value_name = "RATE")]
    pub shadow_sample: Option<f64>,
    /// Idle connections to the origin kept for later fetches (0: every
    /// fetch opens its own; default 256).
    #[arg(long, value_name = "N")]
    pub upstream_pool: Option<u32>,
    /// Close a kept origin connection idle this long, e.g. 30s (the default).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub upstream_idle_timeout: Option<Duration>,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
    /// Log one JSON line per request (target `cdnlab::access`; implies --log-json).
    #[arg(long)]
    pub access_log: bool,
    /// Client connections served at once; one more is answered 503 and
    /// closed (default: half the open-file limit, 16 to 16384).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Close a client connection whose next request head is not complete
    /// this long after it opened or got its last response (idle keep-alive
    /// connections and slow clients), e.g. 10s.
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Freshness lifetime of responses without one of their own (no
    /// `Cache-Control` max-age, no `Expires`), e.g. 5m, instead of the
    /// heuristic (10% of the time since `Last-Modified`): the world's
    /// `default_ttl`, for every path (it overrides the `[[cache.rule]]`s').
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub default_ttl: Option<Duration>,
    /// Empty the data directory's cache (disk tier, purge journal; the
    /// admin token stays) before starting. Needed to start on a directory
    /// filled from another origin, which is refused otherwise.
    #[arg(long)]
    pub fresh: bool,
    /// Send responses at loopback speed: do not pace them by the world's
    /// network model (as `[network] pacing = false` does).
    #[arg(long)]
    pub no_pacing: bool,
    /// A GeoIP2/GeoLite2 City database (as geodns's --mmdb) that locates
    /// the clients this edge paces: a client it places takes the link from
    /// that place; one it does not know, the world's region networks.
    #[arg(long, value_name = "FILE")]
    pub mmdb: Option<PathBuf>,
    /// Listen on addresses other than loopback too (the public and admin
    /// listeners then answer the network: keep the admin token secret),
    /// and accept an --origin off loopback (another host).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Follow the world's control bus (NATS JetStream), e.g.
    /// nats://127.0.0.1:4222: purges come from its log, even those issued
    /// while this edge was down, and the edge registers itself there
    /// (docs/bus.md). Without it, purges come by HTTP only. (Not read from
    /// CDNLAB_BUS, which `cdn purge` and `cdn stats` read: exporting it must
    /// not put the edges of a world started without a bus on one.)
    #[arg(long, value_name = "URL")]
    pub bus: Option<String>,
    /// With --bus: the region of an edge the world file does not list
    /// (a node joining a running world; --listen and --admin required).
    #[arg(long, requires = "name")]
    pub region: Option<String>,
}

impl Args {
    /// The cache settings the flags set, as one layer of overrides: merged
    /// over the world's (or the defaults) by [`world::EdgeSettings::apply`],
    /// as a world's `[[edge]]` and a scenario's `[overrides]` are. A flag
    /// that cannot be read is a problem in `problems`.
    fn overrides(&self, problems: &mut Vec<String>) -> EdgeOverrides {
        let eviction = self.eviction.as_ref().and_then(|e| {
            let parsed = serde_json::from_value(serde_json::Value::String(e.clone()));
            parsed.map_err(|_| problems.push(format!("--eviction {e}: use lru, lfu, s3fifo, sieve or fifo"))).ok()
        });
        let disk_promotion = self.disk_promotion.as_ref().and_then(|p| {
            let parsed = serde_json::from_value(serde_json::Value::String(p.clone()));
            parsed.map_err(|_| problems.push(format!("--disk-promotion {p}: use reuse, always or never"))).ok()
        });
        EdgeOverrides {
            memory: self.memory,
            disk_promotion,
            disk: self.disk,
            max_object: self.max_object,
            eviction,
            disk_write_buffer: self.disk_write_buffer.map(Some),
            access_log: self.access_log.then_some(true),
            shadow: (!self.shadow.is_empty()).then(|| self.shadow.clone()),
            shadow_sample: self.shadow_sample,
            upstream_pool: self.upstream_pool,
            upstream_idle_timeout: self.upstream_idle_timeout.map(world::Dur),
            ..EdgeOverrides::default()
        }
    }

    /// The configuration these flags describe. Every problem of the flags
    /// is reported at once, one a line.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut problems = Vec::new();
        let flags = self.overrides(&mut problems);
        // Each branch: the configuration, and the settings it was made of
        // (the world's for this edge, or the defaults, with the flags over them).
        let merged = |w: &World, name: &str| {
            let e = w.node_edge(name).or_else(|| w.edge(name).cloned());
            let mut s = e.map(|e| w.settings_of(&e)).unwrap_or_default();
            s.apply(&flags);
            s
        };
        let (mut c, settings) = match (&self.origin, &self.name) {
            (Some(url), Some(name)) => {
                let w = self.world_with_joiner(name)?;
                let mut c = Config::from_world_with(&w, name, &flags)?;
                c.origin = self.origin_addr(url)?;
                c.origin_host = world::uri::origin_url_authority(url).to_string();
                // Your own server paces nothing: the edge applies the link
                // to the origin's region as it reads. (At the world's own
                // origin's address it is ours, which paces what it sends.)
                if c.origin != w.origin.listen
                    && let Some(region) = &c.region
                {
                    c.origin_unpaced = Fetching::new(&w, region, &w.origin.region, c.clock.clone());
                }
                (c, merged(&w, name))
            }
            (Some(url), None) => {
                let origin = self.origin_addr(url)?;
                let listen = self.listen.context("--origin needs --listen ADDR")?;
                let admin =
                    self.admin.unwrap_or_else(|| SocketAddr::new(listen.ip(), listen.port().wrapping_add(1000)));
                let dir = self
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("data/standalone-{}", listen.port())));
                let mut settings = EdgeSettings::default();
                settings.apply(&flags);
                let mut c = Config::standalone_with(origin, listen, admin, dir, &settings);
                c.origin_host = world::uri::origin_url_authority(url).to_string();
                (c, settings)
            }
            (None, Some(name)) => {
                let w = self.world_with_joiner(name)?;
                (Config::from_world_with(&w, name, &flags)?, merged(&w, name))
            }
            (None, None) => anyhow::bail!("say which edge: --name NAME (from the world) or --origin URL --listen ADDR"),
        };
        // The merged settings, checked as a world's are (each problem
        // named by the flag that sets its field).
        for (field, m) in settings.problems() {
            problems.push(format!("--{}: {m}", field.replace('_', "-")));
        }
        if let Some(a) = self.listen {
            // Fetches leave from the edge's own address only when it is
            // the one listened on (elsewhere, e.g. in a namespace, the
            // world's address may not be this host's).
            c.source = c.source.filter(|s| *s == a.ip());
            c.listen = a;
        }
        if let Some(a) = self.admin {
            c.admin = a;
        }
        if let Some(d) = &self.data_dir {
            c.store.dir = d.clone();
        }
        c.fresh = self.fresh;
        if self.no_pacing {
            c.pacing = runtime::pace::Pacing::off();
            c.origin_unpaced = Fetching::off();
        }
        if let Some(p) = &self.mmdb {
            match std::mem::take(&mut c.pacing).with_mmdb(p) {
                Ok(pacing) => c.pacing = pacing,
                Err(e) => problems.push(format!("--mmdb: {e}")),
            }
        }
        if let Some(d) = self.default_ttl {
            if d <= world::bounds::MAX_TTL {
                default_ttl_everywhere(&mut c.rules, d);
            } else {
                problems.push(format!(
                    "--default-ttl {}: must be at most {} (ten years)",
                    world::Dur(d),
                    world::Dur(world::bounds::MAX_TTL)
                ));
            }
        }
        if let Some(h) = &self.origin_host {
            c.origin_host = h.clone();
        }
        match world::uri::checked_host(std::mem::take(&mut c.origin_host)) {
            Ok(h) => c.origin_host = h,
            Err(e) => problems.push(e.to_string()),
        }
        match self.max_connections {
            Some(0) => problems.push("--max-connections must be at least 1".into()),
            Some(n) => c.limits.max_connections = n,
            None => {}
        }
        match self.idle_timeout {
            Some(t) if t.is_zero() => problems.push("--idle-timeout must be above zero".into()),
            Some(t) => c.limits.idle_timeout = t,
            None => {}
        }
        for (flag, a) in [("--listen", c.listen), ("--admin", c.admin)] {
            if let Err(m) = world::listen::check(flag, a, self.allow_non_loopback) {
                problems.push(m);
            }
        }
        if let Some(url) = &self.bus {
            match bus::server_addr(url) {
                Ok(_) => {
                    let world = World::load_or_demo(self.world.as_deref())?.name;
                    c.bus = Some(crate::control::BusConfig::new(url, &world));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
        Ok(c)
    }

    /// The origin's address: on loopback, or anywhere with --allow-non-loopback.
    fn origin_addr(&self, url: &str) -> anyhow::Result<SocketAddr> {
        match world::uri::parse_origin_url(url) {
            Ok(a) => Ok(a),
            Err(e) if self.allow_non_loopback => {
                let authority = world::uri::origin_url_authority(url);
                authority.parse().or_else(|_| format!("{authority}:80").parse()).map_err(|_| anyhow::anyhow!("{e}"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The world, with edge `name` added when it is not listed and
    /// `--region` says where it is (a node joining through the bus).
    fn world_with_joiner(&self, name: &str) -> anyhow::Result<World> {
        let mut w = World::load_or_demo(self.world.as_deref())?;
        let Some(region) = &self.region else { return Ok(w) };
        anyhow::ensure!(
            w.edge(name).is_none(),
            "--region: edge `{name}` is in the world file already (in {}); drop --region",
            w.edge(name).map_or("", |e| e.region.as_str())
        );
        anyhow::ensure!(
            w.regions.iter().any(|r| &r.name == region),
            "--region {region}: no such region in world `{}` (regions: {})",
            w.name,
            w.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        anyhow::ensure!(bus::names::valid(name), "--name {name}: must be letters, digits, `-` or `_`");
        let (Some(listen), Some(admin)) = (self.listen, self.admin) else {
            anyhow::bail!("--region (an edge the world file does not list) needs --listen ADDR and --admin ADDR");
        };
        w.edges.push(world::Edge::at(name, region, listen, admin));
        Ok(w)
    }
}

/// `--default-ttl`: every rule's `default_ttl`, and a rule for `/` with it
/// when none covers every path, as `default_ttl` under `[[cache.rule]]
/// prefix = "/"` in a world file would.
fn default_ttl_everywhere(rules: &mut Vec<world::CacheRule>, ttl: Duration) {
    for r in rules.iter_mut() {
        r.default_ttl = Some(world::Dur(ttl));
    }
    if !rules.iter().any(|r| r.prefix == "/") {
        rules.push(world::CacheRule { prefix: "/".into(), default_ttl: Some(world::Dur(ttl)), ..Default::default() });
    }
}

/// Runs the edge until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let c = args.config()?;
    runtime::logging::init(args.log_json || c.access_log);
    let name = c.name.clone();
    let (origin, origin_host, data) = (c.origin, c.origin_host.clone(), c.store.dir.clone());
    let bound = crate::bind(c).await?;
    let (p, a) = (bound.public_addr, bound.admin_addr);
    tracing::info!(edge = %name, public = %p, admin = %a, origin = %origin, origin_host = %origin_host, data = %data.display(), "edge starting");
    match bound.token() {
        (Some(t), crate::TokenSource::Generated(path)) => println!(
            "edge {name}: admin token {t} (generated once; kept in {} with mode 0600, where `cdn purge` reads it)",
            path.display()
        ),
        (_, crate::TokenSource::File(path)) => {
            tracing::info!(edge = %name, file = %path.display(), "admin token from the data directory")
        }
        (_, crate::TokenSource::Off(why)) => {
            tracing::error!(edge = %name, error = %why, "no admin token: the purge API is off")
        }
        _ => {}
    }
    println!("{}", runtime::server::ready_line("edge", &name, &[("public", p), ("admin", a)]));
    bound.serve(runtime::Shutdown::on(runtime::shutdown::ctrl_c_or_term())).await?;
    tracing::info!(edge = %name, "edge stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(flags: &[&str]) -> anyhow::Result<Config> {
        Args::try_parse_from(std::iter::once("edge").chain(flags.iter().copied()))?.config()
    }

    const STANDALONE: [&str; 4] = ["--origin", "http://localhost:3000/app", "--listen", "127.0.0.1:9100"];

    #[test]
    fn the_upstream_pool_is_set_by_flags_over_the_world_and_checked() {
        let d = config(&STANDALONE).unwrap().pool;
        assert_eq!((d.max_idle, d.idle_timeout), (256, Duration::from_secs(30)));
        let set = [&STANDALONE[..], &["--upstream-pool", "0", "--upstream-idle-timeout", "5s"]].concat();
        let p = config(&set).unwrap().pool;
        assert_eq!((p.max_idle, p.idle_timeout), (0, Duration::from_secs(5)));
        let in_world = config(&["--name", "seoul", "--upstream-pool", "8"]).unwrap().pool;
        assert_eq!(in_world.max_idle, 8);
        for bad in [&["--upstream-pool", "70000"][..], &["--upstream-idle-timeout", "0s"]] {
            let e = config(&[&STANDALONE[..], bad].concat()).unwrap_err().to_string();
            assert!(e.contains(&bad[0][2..]), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_origin_host_is_the_url_authority_unless_set() {
        assert_eq!(config(&STANDALONE).unwrap().origin_host, "localhost:3000");
        let set = [&STANDALONE[..], &["--origin-host", "www.example"]].concat();
        assert_eq!(config(&set).unwrap().origin_host, "www.example");
        for bad in ["a b", "", "user@host", "a/b"] {
            let flags = [&STANDALONE[..], &["--origin-host", bad]].concat();
            let e = config(&flags).unwrap_err().to_string();
            assert!(e.contains("origin host"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_world_edge_sends_the_worlds_origin_host_or_its_address() {
        assert_eq!(config(&["--name", "seoul"]).unwrap().origin_host, "127.0.0.1:8080");
        let mut w = World::load_or_demo(None).unwrap();
        w.origin.host = Some("origin.example".into());
        assert_eq!(Config::from_world(&w, "seoul").unwrap().origin_host, "origin.example");
        w.origin.host = Some("bad host".into());
        assert!(Config::from_world(&w, "seoul").is_err());
        let replaced = config(&["--name", "seoul", "--origin", "http://127.0.0.1:3000"]).unwrap();
        assert_eq!(replaced.origin_host, "127.0.0.1:3000", "--origin replaces the world's origin and its host");
    }

    #[test]
    fn the_disk_write_buffer_follows_the_largest_object_unless_set() {
        let room = |m: u64| m + (256 << 10);
        assert_eq!(config(&STANDALONE).unwrap().store.write_buffer, room(8 << 20), "the default 8 MiB object");
        let set = [&STANDALONE[..], &["--disk-write-buffer", "32MiB"]].concat();
        assert_eq!(config(&set).unwrap().store.write_buffer, 32 << 20);
        let big = [&STANDALONE[..], &["--max-object", "40MiB"]].concat();
        assert_eq!(config(&big).unwrap().store.write_buffer, room(40 << 20), "raised to hold a 40 MiB object");
        let small = [&STANDALONE[..], &["--disk-write-buffer", "4MiB"]].concat();
        let e = config(&small).unwrap_err().to_string();
        assert!(e.contains("--disk-write-buffer") && e.contains("between 8448KiB"), "{e}");
    }

    #[test]
    fn default_ttl_applies_to_every_path_and_is_bounded() {
        let rule = |c: &Config, path: &str| {
            c.rules.iter().filter(|r| path.starts_with(&r.prefix)).max_by_key(|r| r.prefix.len()).cloned()
        };
        let c = config(&[&STANDALONE[..], &["--default-ttl", "5m"]].concat()).unwrap();
        assert_eq!(rule(&c, "/any/path").and_then(|r| r.default_ttl), Some(world::Dur::secs(300)));
        assert!(config(&STANDALONE).unwrap().rules.is_empty(), "no flag, no rule");
        let e = config(&[&STANDALONE[..], &["--default-ttl", "3651d"]].concat()).unwrap_err().to_string();
        assert!(e.contains("--default-ttl") && e.contains("ten years"), "{e}");
        // a world's rules keep their other settings and get the flag's default
        let mut rules = vec![world::CacheRule {
            prefix: "/api".into(),
            default_ttl: Some(world::Dur::secs(1)),
            max_ttl: Some(world::Dur::secs(60)),
            ..Default::default()
        }];
        default_ttl_everywhere(&mut rules, Duration::from_secs(30));
        assert_eq!(rules.len(), 2);
        assert_eq!((rules[0].default_ttl, rules[0].max_ttl), (Some(world::Dur::secs(30)), Some(world::Dur::secs(60))));
        assert_eq!((rules[1].prefix.as_str(), rules[1].default_ttl), ("/", Some(world::Dur::secs(30))));
    }

    #[test]
    fn connection_limits_come_from_flags() {
        let d = config(&STANDALONE).unwrap().limits;
        assert_eq!(d, runtime::serve::ConnLimits::default());
        let flags = [&STANDALONE[..], &["--max-connections", "7", "--idle-timeout", "2s"]].concat();
        let c = config(&flags).unwrap().limits;
        assert_eq!((c.max_connections, c.idle_timeout), (7, Duration::from_secs(2)));
        for bad in [&["--max-connections", "0"][..], &["--idle-timeout", "0s"]] {
            assert!(config(&[&STANDALONE[..], bad].concat()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shadow_sample_comes_from_its_flag_and_is_bounded() {
        assert_eq!(config(&STANDALONE).unwrap().shadow_sample, 1.0);
        let c = config(&[&STANDALONE[..], &["--shadow", "lru:1MiB", "--shadow-sample", "0.1"]].concat()).unwrap();
        assert_eq!((c.shadow.len(), c.shadow_sample), (1, 0.1));
        for bad in ["0", "1.5", "NaN", "0.0001"] {
            let e = config(&[&STANDALONE[..], &["--shadow-sample", bad]].concat()).unwrap_err().to_string();
            assert!(e.contains("--shadow-sample") && e.contains("0.001 to 1"), "{bad}: {e}");
        }
    }

    /// Issue 13: the flags are one layer of overrides, merged as a world's
    /// `[[edge]]` settings are: the same flags and the same settings in the
    /// world file make the same edge (the slice size follows a smaller
    /// `max_object`, the write buffer a larger one).
    #[test]
    fn flags_merge_like_a_worlds_edge_settings() {
        let flags = [
            "--name",
            "seoul",
            "--memory",
            "32MiB",
            "--max-object",
            "512KiB",
            "--eviction",
            "lru",
            "--shadow",
            "sieve:64MiB",
            "--disk-promotion",
            "never",
        ];
        let by_flags = config(&flags).unwrap();
        let mut w = World::load_or_demo(None).unwrap();
        let e = w.edges.iter_mut().find(|e| e.name == "seoul").unwrap();
        e.memory = Some(ByteSize::mib(32));
        e.max_object = Some(ByteSize::kib(512));
        e.eviction = Some(world::Eviction::Lru);
        e.disk_promotion = Some(world::Promotion::Never);
        e.shadow = Some(vec![world::policy::ShadowCache::parse("sieve:64MiB").unwrap()]);
        let by_world = Config::from_world(&w, "seoul").unwrap();
        assert_eq!(format!("{:?}", by_flags.store), format!("{:?}", by_world.store));
        assert_eq!(by_flags.slice_size, 512 << 10, "slices no larger than the largest object");
        assert_eq!(by_flags.slice_size, by_world.slice_size);
        assert_eq!(by_flags.shadow, by_world.shadow);
        assert_eq!(by_flags.shadow.len(), 1);
    }

    /// Every problem of the flags at once, one a line, each naming its flag.
    #[test]
    fn every_problem_of_the_flags_is_reported_at_once() {
        let bad = [
            "--memory",
            "1KiB",
            "--eviction",
            "random",
            "--disk-promotion",
            "sometimes",
            "--disk-write-buffer",
            "1KiB",
            "--max-connections",
            "0",
            "--idle-timeout",
            "0s",
            "--default-ttl",
            "3651d",
            "--origin-host",
            "a b",
            "--admin",
            "0.0.0.0:9080",
        ];
        let e = config(&[&STANDALONE[..], &bad].concat()).unwrap_err().to_string();
        for flag in [
            "--memory: memory 1KiB must be between",
            "--eviction random: use lru",
            "--disk-promotion sometimes: use reuse, always or never",
            "--disk-write-buffer: disk_write_buffer 1KiB must be between",
            "--max-connections must be at least 1",
            "--idle-timeout must be above zero",
            "--default-ttl 315446400s: must be at most",
            "origin host `a b`",
            "--admin 0.0.0.0:9080: not a loopback address",
        ] {
            assert!(e.contains(flag), "{flag:?} missing from:\n{e}");
        }
        assert_eq!(e.lines().count(), 9, "{e}");
    }
}
