//! Membership: every node of a world puts its record in the world's
//! key-value bucket (`cdnlab-<world>-members`, key = node name) every
//! [`HEARTBEAT`]; the bucket's entries expire [`TTL`] after their last put,
//! so a node that stops (or is cut off) drops out by itself, and one
//! started later on any host is listed as soon as it has put its record.
//! GeoDNS and `cdn stats` read the list.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::{kv, stream};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::{Bus, BusError};

/// How often a node puts its record.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a record lives after its last put.
pub const TTL: Duration = Duration::from_secs(5);

/// One node's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Node name (unique in the world).
    pub node: String,
    /// `edge` (later also `shield`, …).
    pub role: String,
    /// Its region (GeoDNS ranks it by that region's distances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Public address (clients).
    pub public: SocketAddr,
    /// Admin address (`/healthz`, `/stats`, `/purge`).
    pub admin: SocketAddr,
    /// `up` (in step with the purge log), `syncing` (serving only what it
    /// stored since it lost step) or `stopping`.
    pub status: String,
    /// The purge sequence it has applied.
    pub applied: u64,
    /// When it put this record, Unix ms.
    pub at_ms: u64,
}

/// The world's membership bucket.
pub struct Membership {
    kv: kv::Store,
}

impl Membership {
    /// Opens the bucket, creating it (entries live [`TTL`]) if needed.
    pub async fn open(bus: &Bus) -> Result<Membership, BusError> {
        Membership::open_with(bus, TTL).await
    }

    /// [`Membership::open`] with entries living `ttl` (when it creates the bucket).
    pub async fn open_with(bus: &Bus, ttl: Duration) -> Result<Membership, BusError> {
        let name = bus.names().members_bucket();
        let js = bus.jetstream();
        if js.get_key_value(&name).await.is_err() {
            // The bucket's stream as async-nats' `create_key_value` makes it;
            // made here because that call first asks for the account's
            // info, which async-nats 0.52 cannot read from nats-server 2.9.
            js.get_or_create_stream(stream::Config {
                name: format!("KV_{name}"),
                description: Some(format!("cdnlab world `{}`: its nodes", bus.names().world())),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_age: ttl,
                storage: stream::StorageType::Memory,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::request(format!("create bucket {name}"), e))?;
        }
        let kv = js.get_key_value(&name).await.map_err(|e| BusError::request(format!("open bucket {name}"), e))?;
        Ok(Membership { kv })
    }

    /// Puts (or refreshes) a node's record.
    pub async fn put(&self, m: &Member) -> Result<(), BusError> {
        crate::names::check("node name", &m.node)?;
        let body = serde_json::to_vec(m).map_err(|e| BusError::Payload { what: "member", why: e.to_string() })?;
        self.kv.put(&m.node, body.into()).await.map_err(|e| BusError::request(format!("put member {}", m.node), e))?;
        Ok(())
    }

    /// Removes a node's record (a clean stop).
    pub async fn remove(&self, node: &str) -> Result<(), BusError> {
        self.kv.delete(node).await.map_err(|e| BusError::request(format!("remove member {node}"), e))
    }

    /// Every live node, by name.
    pub async fn list(&self) -> Result<Vec<Member>, BusError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| BusError::request("list members", e))?
            .try_collect()
            .await
            .map_err(|e| BusError::request("list members", e))?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let Some(v) = self.kv.get(&k).await.map_err(|e| BusError::request(format!("member {k}"), e))? else {
                continue; // expired meanwhile
            };
            match serde_json::from_slice::<Member>(&v) {
                Ok(m) => out.push(m),
                Err(e) => tracing::warn!(key = %k, error = %e, "undecodable member record ignored"),
            }
        }
        out.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(out)
    }
}
