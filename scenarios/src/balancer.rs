//! A PoP's balancer (`cdn pop --name seoul`, started by `cdn up` for every
//! PoP of the world): it listens on the PoP's public address (the region's
//! `127.k.0.1:8080`, where GeoDNS sends clients) and hands each client
//! connection to one node, as a TCP (layer 4) proxy: it picks the node
//! when the connection opens and copies bytes both ways until it closes.
//! The policy picks the node (`round-robin`, `least-connections`,
//! `random`; a hashed PoP's balancer goes round-robin, and the nodes send
//! each miss to the key's owner, Fastly style: docs/topology.md, "PoP
//! clusters"). A node the balancer's checks find down (its admin
//! `/healthz`, the health logic GeoDNS uses, [`runtime::health`]) gets no
//! new connection; one that refuses a connection is skipped for the next.
//!
//! A hashed PoP may be the origin shield: the balancer then listens on
//! the shield's tier address too (`127.k.0.2:8080`) and hands each lower
//! tier's connection to a node's peer listener, where the node fills the
//! key, or asks its owner (docs/topology.md, "A PoP as the shield").
//!
//! Its admin address (the PoP's: `127.k.0.1:9080`) answers `/healthz`
//! (up while a node is), `/stats` (the nodes' counters as one edge's,
//! [`crate::pop_stats`]) and `/pop` (the balancer's view: each node's
//! state, open and total connections).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use runtime::health::{Checked, State, Thresholds};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use world::World;
use world::config::PopPolicy;
use world::price::Prices;

/// Give up connecting to a node after this long (and try the next).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// One node as the balancer sees it.
pub struct Slot {
    /// Its name (`seoul-2`).
    pub name: String,
    /// Its public address: where client connections go.
    pub listen: SocketAddr,
    /// Its admin address (`/healthz`, `/stats`).
    pub admin: SocketAddr,
    /// Its peer listener: where lower tiers' connections go when the PoP
    /// is the shield.
    pub peer: SocketAddr,
    /// Its health as the balancer's checks see it.
    pub health: Checked,
    /// Client connections open to it now.
    open: AtomicU64,
    /// Client connections handed to it.
    total: AtomicU64,
    /// Connections to it that failed (then the next node was tried).
    failed: AtomicU64,
}

/// A PoP's balancer: its nodes, its policy, its counters.
pub struct Balancer {
    /// The PoP's name (`seoul`).
    pub pop: String,
    /// How it picks a node.
    pub policy: PopPolicy,
    /// The nodes, in order.
    pub nodes: Vec<Slot>,
    next: AtomicUsize,
    rng: AtomicU64,
    interval: Duration,
    timeout: Duration,
    thresholds: Thresholds,
    prices: Prices,
}

/// One node's line in `/pop`.
#[derive(Debug, Serialize)]
pub struct SlotView {
    /// Its name.
    pub name: String,
    /// Its public address.
    pub listen: String,
    /// `up`, `down` or `unknown`.
    pub state: String,
    /// Client connections open to it now.
    pub open: u64,
    /// Client connections handed to it.
    pub connections: u64,
    /// Connections to it that failed.
    pub failed: u64,
}

/// The balancer's `/pop`.
#[derive(Debug, Serialize)]
pub struct PopView {
    /// The PoP.
    pub pop: String,
    /// Its policy.
    pub policy: String,
    /// Its nodes.
    pub nodes: Vec<SlotView>,
}

impl Balancer {
    /// The balancer of PoP `name` in world `w`.
    pub fn from_world(w: &World, name: &str) -> anyhow::Result<Balancer> {
        let e = w.edge(name).with_context(|| format!("no edge named `{name}` in world `{}`", w.name))?;
        let pop =
            e.pop.as_ref().with_context(|| format!("edge `{name}` is not a PoP (it has no [edge.{name}.pop])"))?;
        let nodes = world::pop::nodes_of(e)
            .into_iter()
            .map(|n| Slot {
                name: n.name,
                listen: n.listen,
                admin: n.admin,
                peer: n.peer,
                health: Checked::default(),
                open: AtomicU64::new(0),
                total: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            })
            .collect();
        Ok(Balancer {
            pop: e.name.clone(),
            policy: pop.policy,
            nodes,
            next: AtomicUsize::new(0),
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            interval: pop.health.interval.0,
            timeout: pop.health.timeout.0,
            thresholds: Thresholds::new(pop.health.rise, pop.health.fall),
            prices: w.prices_in(&e.region),
        })
    }

    /// The nodes to try for a new connection, the policy's pick first:
    /// among the nodes not known down (all of them if every one is).
    pub fn order(&self) -> Vec<usize> {
        let mut up: Vec<usize> =
            (0..self.nodes.len()).filter(|i| self.nodes[*i].health.state() != State::Down).collect();
        if up.is_empty() {
            up = (0..self.nodes.len()).collect();
        }
        let n = up.len().max(1);
        let start = match self.policy {
            PopPolicy::RoundRobin | PopPolicy::Hash => self.next.fetch_add(1, Ordering::Relaxed) % n,
            PopPolicy::Random => (self.random() % n as u64) as usize,
            PopPolicy::LeastConnections => {
                // Fewest open; ties go round-robin, so an idle PoP still spreads.
                let r = self.next.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .min_by_key(|j| (self.nodes[up[*j]].open.load(Ordering::Relaxed), (j + n - r % n) % n))
                    .unwrap_or(0)
            }
        };
        let last = up.len().saturating_sub(1);
        up.rotate_left(start.min(last));
        up
    }

    /// splitmix64 over an atomic counter: a random node per connection.
    fn random(&self) -> u64 {
        let mut z = self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Hands a connection to a node (its public listener for a client's,
    /// its peer listener for a lower tier's) and copies both ways until
    /// either side closes; a node that refuses is skipped for the next.
    pub async fn proxy(self: Arc<Self>, mut client: TcpStream, to: To) {
        for i in self.order() {
            let slot = &self.nodes[i];
            let addr = match to {
                To::Public => slot.listen,
                To::Peer => slot.peer,
            };
            match runtime::net::connect(addr, CONNECT_TIMEOUT).await {
                Ok(mut node) => {
                    let _ = node.set_nodelay(true);
                    let _ = client.set_nodelay(true);
                    slot.total.fetch_add(1, Ordering::Relaxed);
                    slot.open.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
                    slot.open.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    slot.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(node = %slot.name, error = %e, "node refused: trying the next");
                }
            }
        }
        tracing::warn!(pop = %self.pop, "no node took the connection");
    }

    /// One check of every node's `/healthz`.
    pub async fn check(&self) {
        let checks = self.nodes.iter().map(|s| async move {
            let t0 = std::time::Instant::now();
            let (ok, detail) = runtime::health::probe(s.admin, self.timeout).await;
            if let Some(new) = s.health.record(self.thresholds, ok, detail, t0.elapsed()) {
                tracing::warn!(pop = %self.pop, node = %s.name, "node is {}", new.as_str());
            }
        });
        futures_util::future::join_all(checks).await;
    }

    /// The balancer's view of its nodes.
    pub fn view(&self) -> PopView {
        PopView {
            pop: self.pop.clone(),
            policy: self.policy.as_str().into(),
            nodes: self
                .nodes
                .iter()
                .map(|s| SlotView {
                    name: s.name.clone(),
                    listen: s.listen.to_string(),
                    state: s.health.state().as_str().into(),
                    open: s.open.load(Ordering::Relaxed),
                    connections: s.total.load(Ordering::Relaxed),
                    failed: s.failed.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

/// Which listener of a node a connection goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    /// Its public listener: a client's connection.
    Public,
    /// Its peer listener: a lower tier's, the PoP being the shield.
    Peer,
}

/// Accepts a connection on `tier`, or waits forever without one.
async fn accept_tier(tier: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match tier {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Accepts client connections on `listener` (and lower tiers' on `tier`,
/// a shield PoP's tier address) until `shutdown` fires, each handed to a
/// node; checks the nodes every health interval.
pub async fn serve(
    b: Arc<Balancer>,
    listener: TcpListener,
    tier: Option<TcpListener>,
    admin: TcpListener,
    mut shutdown: runtime::Shutdown,
) {
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build().ok();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/pop", get(|AxState(b): AxState<Ctx>| async move { Json(b.0.view()) }))
        .route("/stats", get(stats))
        .with_state(Ctx(b.clone(), http));
    let admin_task = tokio::spawn({
        let sd = shutdown.clone();
        async move {
            let _ = axum::serve(admin, router).with_graceful_shutdown(sd.stopped()).await;
        }
    });
    let mut tick = tokio::time::interval(b.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tick.tick() => b.check().await,
            a = listener.accept() => match a {
                Ok((s, _)) => { tokio::spawn(b.clone().proxy(s, To::Public)); }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            a = accept_tier(tier.as_ref()) => match a {
                Ok((s, _)) => { tokio::spawn(b.clone().proxy(s, To::Peer)); }
                Err(e) => tracing::warn!(error = %e, "accept failed on the tier address"),
            },
        }
    }
    let _ = admin_task.await;
}

/// What the admin handlers share.
#[derive(Clone)]
struct Ctx(Arc<Balancer>, Option<reqwest::Client>);

async fn healthz(AxState(Ctx(b, _)): AxState<Ctx>) -> (StatusCode, String) {
    match b.nodes.iter().filter(|s| s.health.state() != State::Down).count() {
        0 => (StatusCode::SERVICE_UNAVAILABLE, format!("pop {}: every node is down\n", b.pop)),
        n => (StatusCode::OK, format!("ok: pop {} with {n} of {} nodes up\n", b.pop, b.nodes.len())),
    }
}

async fn stats(AxState(Ctx(b, http)): AxState<Ctx>) -> Result<Json<api::edge::Stats>, (StatusCode, String)> {
    let Some(http) = http else { return Err((StatusCode::INTERNAL_SERVER_ERROR, "no HTTP client".into())) };
    let reads = b.nodes.iter().map(|s| {
        let http = http.clone();
        async move {
            let r = http.get(format!("http://{}/stats", s.admin)).send().await.ok()?;
            r.json::<api::edge::Stats>().await.ok()
        }
    });
    let got: Vec<_> = futures_util::future::join_all(reads).await.into_iter().flatten().collect();
    crate::pop_stats::merge(&b.pop, &got, &b.prices)
        .map(Json)
        .ok_or((StatusCode::BAD_GATEWAY, format!("pop {}: no node answered /stats", b.pop)))
}

/// Flags of `cdn pop`.
#[derive(Debug, clap::Args)]
pub struct PopArgs {
    /// The PoP (an edge with a `[edge.NAME.pop]` table).
    #[arg(long)]
    pub name: String,
    /// World file (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<std::path::PathBuf>,
}

/// `cdn pop`: runs a PoP's balancer on its public and admin addresses
/// until Ctrl-C (or its parent `cdn up` is gone).
pub async fn run(a: PopArgs) -> anyhow::Result<()> {
    runtime::logging::init(false);
    let w = World::load_or_demo(a.world.as_deref())?;
    let b = Arc::new(Balancer::from_world(&w, &a.name)?);
    let e = w.edge(&a.name).context("no such edge")?;
    let public = runtime::net::bind(&format!("pop {} public", a.name), e.listen).await?;
    let admin = runtime::net::bind(&format!("pop {} admin", a.name), e.admin).await?;
    // The shield PoP: lower tiers fill through here too.
    let tier = match w.shield_listen().filter(|_| w.is_shield(e)) {
        Some(at) => Some(runtime::net::bind(&format!("pop {} tier", a.name), at).await?),
        None => None,
    };
    let mut addrs = vec![("public", public.local_addr()?), ("admin", admin.local_addr()?)];
    if let Some(t) = &tier {
        addrs.push(("tier", t.local_addr()?));
    }
    println!("{}", runtime::server::ready_line("pop", &a.name, &addrs));
    serve(b, public, tier, admin, runtime::Shutdown::on(runtime::shutdown::ctrl_c_or_term())).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn balancer(policy: &str) -> Balancer {
        let text = format!("extends = \"demo\"\nname = \"b\"\n[edge.seoul.pop]\nnodes = 3\npolicy = \"{policy}\"\n");
        let w = World::parse("b.toml", &text).unwrap();
        Balancer::from_world(&w, "seoul").unwrap()
    }

    fn mark_down(b: &Balancer, i: usize) {
        b.nodes[i].health.record(b.thresholds, false, "refused".into(), Duration::ZERO);
        b.nodes[i].health.record(b.thresholds, false, "refused".into(), Duration::ZERO);
        assert_eq!(b.nodes[i].health.state(), State::Down);
    }

    #[test]
    fn round_robin_takes_each_node_in_turn_and_skips_one_down() {
        let b = balancer("round-robin");
        let firsts: Vec<usize> = (0..6).map(|_| b.order()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        assert_eq!(b.order().len(), 3, "the others follow, to try when the first refuses");
        mark_down(&b, 1);
        let firsts: Vec<usize> = (0..4).map(|_| b.order()[0]).collect();
        assert!(!firsts.contains(&1) && firsts.contains(&0) && firsts.contains(&2), "{firsts:?}");
    }

    #[test]
    fn least_connections_takes_the_node_with_fewest_open() {
        let b = balancer("least-connections");
        b.nodes[0].open.store(5, Ordering::Relaxed);
        b.nodes[1].open.store(1, Ordering::Relaxed);
        b.nodes[2].open.store(3, Ordering::Relaxed);
        assert!((0..5).all(|_| b.order()[0] == 1));
    }

    #[test]
    fn random_reaches_every_node_and_all_down_still_tries_them_all() {
        let b = balancer("random");
        let mut seen = [0; 3];
        for _ in 0..300 {
            seen[b.order()[0]] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
        for i in 0..3 {
            mark_down(&b, i);
        }
        assert_eq!(b.order().len(), 3);
    }
}
