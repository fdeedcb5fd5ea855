//! cdnlab's control bus: what the nodes of a world tell each other through
//! NATS JetStream, so that a purge reaches every edge, including one that
//! was down or cut off when it was issued, and a node started on another
//! host joins a running world without editing a file.
//!
//! ```text
//! cdn purge ──publish──▶ stream cdnlab-<world>-purge (subject cdnlab.<world>.purge)
//!                              │ one durable pull consumer per node (node-<name>)
//!                              ▼
//!                        edge: apply (journal, fsync) ─▶ JetStream ack (AckAll)
//!                              └─▶ cdnlab.<world>.ack.<seq> ──▶ cdn purge gathers the acks
//! every node ──put every second──▶ KV cdnlab-<world>-members (entries expire: heartbeat TTL)
//! every node ──publish──▶ cdnlab.<world>.stats.<node>   (its /stats, periodically)
//! ```
//!
//! - [`names`]: every subject, stream, bucket and consumer name, in one place;
//! - [`purge`]: the purge log: publishing with acknowledgement gathering
//!   ([`purge::PurgeLog`]) and a node's durable feed ([`purge::NodeFeed`]),
//!   with the checks that tell a node it may have missed purges;
//! - [`members`]: the membership bucket ([`members::Member`], heartbeats, listing);
//! - [`stats`]: periodic counters on the bus;
//! - [`auth`]: credentials and TLS, from the environment;
//! - [`server`]: a local `nats-server` child with JetStream (for `cdn up
//!   --bus` and the tests); [`testing`]: one per test.
//!
//! Payloads are JSON. The purge body is opaque here (the edge's purge
//! request): this crate carries it, the edge interprets it. The semantics
//! (what a node does before it serves again) are in docs/bus.md.
//!
//! Entry point: [`Bus::connect`].

pub mod auth;
pub mod members;
pub mod names;
pub mod purge;
pub mod server;
pub mod stats;
pub mod testing;

use std::time::Duration;

use async_nats::jetstream;

pub use names::Names;

/// The default address of a local bus (`cdn up --bus` starts one there).
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
/// Environment variable naming the bus for every cdnlab command of a host.
pub const URL_ENV: &str = "CDNLAB_BUS";

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A name cannot be used in a subject, stream or bucket name.
    #[error("{what} `{name}`: must be letters, digits, `-` or `_` (1 to 63)")]
    Name {
        /// What it names.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The bus URL is not usable.
    #[error("bus URL `{0}`: {1}")]
    Url(String, String),
    /// The server could not be reached.
    #[error("cannot reach the bus at {url}: {why}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        why: String,
    },
    /// A request to the server failed (or timed out).
    #[error("bus: {what}: {why}")]
    Request {
        /// What was asked.
        what: String,
        /// Why it failed.
        why: String,
    },
    /// A message could not be encoded or decoded.
    #[error("bus: {what}: {why}")]
    Payload {
        /// Which message.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// A local nats-server could not be started.
    #[error(transparent)]
    Server(#[from] server::ServerError),
}

impl BusError {
    /// A failed request, with what was asked.
    pub fn request(what: impl Into<String>, why: impl std::fmt::Display) -> BusError {
        BusError::Request { what: what.into(), why: why.to_string() }
    }
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Keep trying in the background when the server is not there at
    /// start (nodes: they must start and serve without a bus); otherwise
    /// fail at once (commands: `cdn purge` says the bus is unreachable).
    pub retry: bool,
    /// How often the client pings the server: two unanswered pings in a
    /// row mean the connection is lost (a cut link is noticed within about
    /// two intervals, not the default two minutes).
    pub ping_interval: Duration,
    /// Timeout of requests (JetStream API calls, publishes).
    pub request_timeout: Duration,
    /// Credentials and TLS; `None`: from the environment ([`auth::Auth::from_env`]).
    pub auth: Option<auth::Auth>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            retry: false,
            ping_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(3),
            auth: None,
        }
    }
}

/// A connection to the bus of one world.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    names: Names,
    url: String,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("url", &self.url).field("world", &self.names.world()).finish()
    }
}

/// `nats://host:port` → `host:port` (also accepts `host:port`).
pub fn server_addr(url: &str) -> Result<String, BusError> {
    let rest = url.strip_prefix("nats://").unwrap_or(url);
    if rest.contains('@') {
        // Not echoed: the part before `@` is a secret.
        return Err(BusError::Url(
            "nats://…@…".into(),
            format!(
                "credentials do not go in the URL (it shows in `ps` and logs): use {} or {} and {} (docs/bus.md)",
                auth::TOKEN_ENV,
                auth::USER_ENV,
                auth::PASSWORD_ENV
            ),
        ));
    }
    if rest.is_empty() || rest.contains('/') || !rest.contains(':') {
        return Err(BusError::Url(url.into(), "expected nats://HOST:PORT".into()));
    }
    Ok(rest.to_string())
}

impl Bus {
    /// Connects to the bus at `url` as `who` (a node or command name, shown
    /// by the server) for world `world`.
    pub async fn connect(url: &str, world: &str, who: &str, o: &ConnectOptions) -> Result<Bus, BusError> {
        let names = Names::new(world)?;
        let addr = server_addr(url)?;
        let mut opts = async_nats::ConnectOptions::new()
            .name(format!("cdnlab-{world}-{who}"))
            .ping_interval(o.ping_interval)
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(o.request_timeout))
            // Back off up to 1 s between reconnection attempts (the default
            // goes to 4 s): a node back from a partition catches up sooner.
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(1000)));
        if o.retry {
            opts = opts.retry_on_initial_connect();
        }
        let auth = match &o.auth {
            Some(a) => a.clone(),
            None => auth::Auth::from_env()?,
        };
        let opts = auth.apply(opts).await?;
        let client =
            opts.connect(addr.as_str()).await.map_err(|e| BusError::Connect { url: url.into(), why: e.to_string() })?;
        let js = jetstream::ContextBuilder::new().timeout(o.request_timeout).build(client.clone());
        Ok(Bus { client, js, names, url: url.into() })
    }

    /// The names of this world's subjects, stream and bucket.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The URL connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Whether the connection is up now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Sends everything buffered (publishes are buffered by the client).
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client.flush().await.map_err(|e| BusError::request("flush", e))
    }
}
