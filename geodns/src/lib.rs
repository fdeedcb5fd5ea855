//! geodns: cdnlab's request routing. A real DNS server (UDP and TCP, built
//! on `hickory-server`) authoritative for the CDN name, answering every
//! client with its nearest healthy edge, and an HTTP side that shows and
//! applies the same decision.
//!
//! ```text
//! query ─▶ dns (hickory handler) ─┐                    ┌─▶ geoip crate (maxminddb: tree walk, record)
//!                                  ├─▶ choice::Chooser ─┼─▶ Routes (rankings by modelled RTT)
//! GET  ─▶ http (/resolve, /r/…) ──┘                    └─▶ health (checks of each edge's /healthz)
//! ```
//!
//! - [`dns`]: the zone and the `hickory-server` request handler;
//! - [`choice`]: locations → rankings → the first healthy edge;
//! - the `geoip` crate: the MaxMind database, the demo one generated from
//!   the world, and the rule that places a record in the world (shared
//!   with the servers' pacing);
//! - [`health`]: edge health; [`checker`]: the checks;
//! - [`members`]: edges learned from the control bus's membership bucket (`--bus`);
//! - [`http`]: `/resolve`, `/r/{path}`, `/edges`, `/metrics`;
//! - [`metrics`]: counters; [`cli`]: the `geodns` command; [`resolve`]: `cdn resolve`.
//!
//! Entry points: the server shape every cdnlab server has ([`bind`] →
//! [`Bound`] → [`Bound::serve`] or [`Bound::spawn`] → [`Handle`]), [`spawn`]
//! to bind and run in-process (tests), [`cli::run`] for the binary.

pub mod checker;
pub mod choice;
pub mod cli;
pub mod dns;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod members;
pub mod metrics;
pub mod resolve;
pub mod udp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime::Shutdown;
use tokio::net::{TcpListener, UdpSocket};
use world::{Clock, World};

pub use error::{Error, Result};
pub use resolve::resolve_command;

/// How long a TCP DNS client may stay idle between queries.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// Where the GeoIP database comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mmdb {
    /// Generated from the world at start ([`geoip::build`]).
    Generated,
    /// A GeoLite2/GeoIP2 City file.
    File(PathBuf),
}

/// Everything geodns needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The world: regions, edges, origin, zone, TTL, health settings.
    pub world: World,
    /// The GeoIP database.
    pub mmdb: Mmdb,
    /// The world's clock (health intervals and TTLs are simulated time).
    pub clock: Clock,
    /// Whether edges are health-checked.
    pub health: health::Mode,
    /// Which loop serves UDP.
    pub udp_engine: udp::Engine,
    /// Threads answering UDP (the fast engine).
    pub udp_workers: usize,
    /// Whether the fast engine sends answers to the same client in one
    /// segmented message (UDP GSO) where the kernel allows.
    pub udp_gso: bool,
    /// The control bus whose membership adds edges to the world file's
    /// ([`members`]); `None`: the world file's edges only.
    pub bus: Option<String>,
}

impl Config {
    /// A world's configuration: generated GeoIP database, the world's
    /// clock, health checks on.
    pub fn from_world(w: &World) -> Config {
        Config {
            world: w.clone(),
            mmdb: Mmdb::Generated,
            clock: Clock::for_scale(w.time_scale),
            health: health::Mode::Check,
            udp_engine: udp::Engine::Fast,
            udp_workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            udp_gso: true,
            bus: None,
        }
    }
}

/// The DNS answer path for `config`, serving as the server at `dns_addr`.
/// Fails when the GeoIP database cannot be used or the zone is not a DNS
/// name.
pub(crate) fn build_dns(config: &Config, dns_addr: SocketAddr) -> Result<Arc<dns::Dns>> {
    let w = &config.world;
    let geoip = match &config.mmdb {
        Mmdb::Generated => {
            geoip::GeoIp::from_bytes(geoip::build::build(w)?, &format!("generated from world `{}`", w.name))?
        }
        Mmdb::File(p) => geoip::GeoIp::open(p)?,
    };
    let h = &w.geodns.health;
    // With a bus, room for the edges that join through it.
    let routes = match config.bus {
        Some(_) => members::Known::new(w).routes(),
        None => choice::Routes::new(w),
    };
    let health = Arc::new(health::Health::new(routes.capacity, config.health, h.rise, h.fall));
    let metrics = Arc::new(metrics::Metrics::new(routes.capacity, w.regions.len()));
    let chooser = Arc::new(choice::Chooser::new(geoip, routes, health));
    let ttl = config.clock.to_wall(w.geodns.ttl.0).as_secs_f64().round() as u32;
    let zone = dns::Zone::new(w, dns_addr, ttl)?;
    Ok(Arc::new(dns::Dns { chooser, zone, metrics }))
}

/// A geodns with its sockets bound and its configuration checked, not
/// answering yet (so the binary can print its ready line in between).
pub struct Bound {
    config: Config,
    dns: Arc<dns::Dns>,
    udp: UdpSocket,
    tcp: TcpListener,
    http: TcpListener,
    /// The DNS address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// The HTTP address.
    pub http_addr: SocketAddr,
}

/// Binds the world's DNS and HTTP addresses (port 0 is fine) and builds
/// the answer path.
pub async fn bind(config: Config) -> Result<Bound> {
    let (udp, tcp) = bind_dns(config.world.geodns.dns).await?;
    let http = runtime::net::bind("geodns http", config.world.geodns.http).await?;
    let (dns_addr, http_addr) = (udp.local_addr()?, http.local_addr()?);
    let dns = build_dns(&config, dns_addr)?;
    Ok(Bound { config, dns, udp, tcp, http, dns_addr, http_addr })
}

impl Bound {
    /// Serves in a task of this process; the handle stops it.
    pub fn spawn(self) -> Handle {
        let (dns, http) = (self.dns_addr, self.http_addr);
        Handle { dns, http, server: runtime::Handle::spawn(|shutdown| self.serve(shutdown)) }
    }

    /// Answers until `shutdown` fires.
    pub async fn serve(self, shutdown: Shutdown) -> Result<()> {
        let Bound { config, dns, udp, tcp, http, dns_addr, http_addr } = self;
        let (w, clock) = (&config.world, &config.clock);
        tracing::info!(
            dns = %dns_addr,
            http = %http_addr,
            zone = %w.geodns.zone,
            geoip = %dns.chooser.geoip.source(),
            health = %dns.chooser.health.mode(),
            udp = ?config.udp_engine,
            "geodns serving"
        );
        // Everything below stops on `inner`: when `shutdown` fires, or when
        // the DNS server stops by itself.
        let (stop, inner) = runtime::shutdown::channel();
        let mut server = hickory_server::Server::new(dns::Handler(dns.clone()));
        let udp_task = match config.udp_engine {
            udp::Engine::Fast => {
                Some(tokio::spawn(udp::serve(dns.clone(), udp, config.udp_workers, config.udp_gso, inner.clone())))
            }
            udp::Engine::Hickory => {
                server.register_socket(udp);
                None
            }
        };
        server.register_listener(tcp, TCP_IDLE, 64);
        let dns_stop = server.shutdown_token().clone();

        let checks = tokio::spawn(checker::run(
            dns.chooser.clone(),
            clock.to_wall(w.geodns.health.interval.0),
            clock.to_wall(w.geodns.health.timeout.0),
            inner.clone(),
        ));
        let membership = config.bus.clone().map(|url| {
            let known = members::Known::new(w);
            tokio::spawn(members::follow(dns.chooser.clone(), known, url, Default::default(), inner.clone()))
        });
        let router = http::router(Arc::new(http::App { dns, trusted: w.geodns.trusted_proxies.clone() }));
        let http_task = tokio::spawn(runtime::serve::serve_http(
            http,
            Arc::new(runtime::metered::Traffic::default()),
            move |peer| http::service(router.clone(), peer),
            inner,
        ));

        // hickory's server stops on its own token: cancelled when ours fires.
        let result = tokio::select! {
            _ = shutdown.stopped() => Ok(()),
            r = server.block_until_done() => r.map_err(|e| Error::Io(format!("DNS server stopped: {e}"))),
        };
        stop.stop();
        dns_stop.cancel();
        let _ = server.block_until_done().await;
        if let Some(t) = udp_task {
            let _ = t.await;
        }
        let _ = checks.await;
        if let Some(m) = membership {
            let _ = m.await;
        }
        let _ = http_task.await;
        tracing::info!("geodns stopped");
        result
    }
}

/// Default log filter: hickory-server logs every request at `info`, which
/// would cost more than answering it.
pub const DEFAULT_LOG_FILTER: &str = "info,hickory_server=warn,hickory_net=warn,hickory_proto=warn";

/// Sets up logging (`RUST_LOG` overrides [`DEFAULT_LOG_FILTER`]).
pub fn init_logging(json: bool) {
    runtime::logging::init_with_default(json, DEFAULT_LOG_FILTER);
}

/// Binds UDP and TCP on the same address; with port 0 both get the same
/// (ephemeral) port. The UDP socket has `SO_REUSEPORT`, so the UDP loop can
/// give each thread its own socket on the same port ([`udp`]); the TCP
/// listener has not, so a second geodns on the same address still fails
/// to start.
pub async fn bind_dns(addr: SocketAddr) -> Result<(UdpSocket, TcpListener)> {
    for _ in 0..20 {
        let udp = udp::bind_reuse_port(addr)
            .map_err(|e| Error::Io(format!("geodns dns: cannot listen on {addr}/udp: {e}")))?;
        let bound = udp.local_addr()?;
        match runtime::net::bind("geodns dns", bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(Error::Io(format!("{e} (tcp)"))),
        }
    }
    Err(Error::Io(format!("geodns dns: no port free for both UDP and TCP on {}", addr.ip())))
}

/// A geodns running in this process.
pub struct Handle {
    /// DNS address (UDP and TCP).
    pub dns: SocketAddr,
    /// HTTP address.
    pub http: SocketAddr,
    server: runtime::Handle<Error>,
}

impl Handle {
    /// Stops it and waits until it has stopped.
    pub async fn shutdown(self) -> Result<()> {
        self.server.shutdown().await
    }
}

/// Binds the world's DNS and HTTP addresses (port 0 is fine) and runs
/// geodns in a task; checks the configuration before returning.
pub async fn spawn(config: Config) -> Result<Handle> {
    Ok(bind(config).await?.spawn())
}
