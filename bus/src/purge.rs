//! The purge log: one JetStream stream per world (`cdnlab-<world>-purge`),
//! one message per purge, numbered by the stream: that number is the
//! purge's world-wide sequence. Publishers ([`PurgeLog`]) append and gather
//! the nodes' acknowledgements; each node reads the log in order through
//! its own durable consumer ([`NodeFeed`]).
//!
//! **In order, without holes.** A node hands purges to its owner strictly
//! in stream order: a delivered message past the next expected sequence
//! means messages were lost in flight (a connection dropped mid-delivery);
//! the missing ones are read from the stream directly before the later one
//! is handed over. Only then is the consumer acknowledged, with
//! `AckPolicy::All` (one acknowledgement covers every earlier message), so
//! the consumer's ack floor is exactly "every purge up to here is applied".
//! A redelivered message at or below the applied sequence is acknowledged
//! and skipped.
//!
//! **What a node cannot know.** A purge the stream no longer holds (its
//! limits dropped it, or the stream was deleted and created anew) cannot
//! be replayed: [`Binding::lost`] and [`Batch::lost`] say so, and the node
//! must treat everything it stored before as purged (a hard purge-all).
//! The stream keeps [`MAX_PURGES`] purges; a node away for longer than
//! that many purges takes the purge-all.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, stream};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};

use crate::{Bus, BusError};

/// Purges the stream keeps (then the oldest are dropped).
pub const MAX_PURGES: i64 = 1_000_000;
/// A publisher's retry of the same purge (same message id) within this
/// window is not appended twice.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long the server waits for a node's acknowledgement before it
/// delivers the message again.
pub const ACK_WAIT: Duration = Duration::from_secs(5);
/// Messages a node's pull requests ask for at once.
pub const PULL_BATCH: usize = 1000;

/// Where the stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The oldest sequence it still holds (0: it never held any).
    pub first: u64,
    /// The newest sequence (0: nothing published yet).
    pub last: u64,
    /// When the stream was created (ns since the Unix epoch): a stream
    /// deleted and created again starts its sequences over.
    pub created_ns: i128,
}

/// A node's acknowledgement of one purge, on `cdnlab.<world>.ack.<seq>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgeAck {
    /// The node.
    pub node: String,
    /// The purge's sequence.
    pub seq: u64,
    /// Applied and persisted (false: applied in memory only, or refused).
    pub ok: bool,
    /// The node's own answer (for an edge: what `POST /purge` answers).
    pub detail: serde_json::Value,
}

/// One node's acknowledgement as a publisher saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acked {
    /// The acknowledgement.
    pub ack: PurgeAck,
    /// From the start of the publish to its arrival, ms.
    pub latency_ms: f64,
}

/// What one publish gathered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gathered {
    /// The purge's sequence in the stream.
    pub seq: u64,
    /// From the start of the publish to the stream's acknowledgement, ms.
    pub stored_ms: f64,
    /// Acknowledgements, in arrival order (at most one per node).
    pub acks: Vec<Acked>,
    /// Expected nodes that did not acknowledge before the deadline.
    pub missing: Vec<String>,
}

async fn open_stream(bus: &Bus) -> Result<stream::Stream, BusError> {
    let n = bus.names();
    bus.jetstream()
        .get_or_create_stream(stream::Config {
            name: n.purge_stream(),
            description: Some(format!("cdnlab world `{}`: every purge, in order", n.world())),
            subjects: vec![n.purge_subject()],
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            max_messages: MAX_PURGES,
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::request(format!("open stream {}", n.purge_stream()), e))
}

async fn position(s: &stream::Stream) -> Result<Position, BusError> {
    let i = s.get_info().await.map_err(|e| BusError::request("stream info", e))?;
    Ok(Position {
        first: i.state.first_sequence,
        last: i.state.last_sequence,
        created_ns: i.created.unix_timestamp_nanos(),
    })
}

static MSG_IDS: AtomicU64 = AtomicU64::new(0);

/// A message id unique to this publish (deduplicates a retried publish).
fn message_id() -> String {
    let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{ns}-{}", std::process::id(), MSG_IDS.fetch_add(1, Ordering::Relaxed))
}

/// The publishing side of the log.
pub struct PurgeLog {
    bus: Bus,
    stream: stream::Stream,
}

impl PurgeLog {
    /// Opens the world's purge stream, creating it if needed.
    pub async fn open(bus: &Bus) -> Result<PurgeLog, BusError> {
        Ok(PurgeLog { bus: bus.clone(), stream: open_stream(bus).await? })
    }

    /// Where the stream stands now (one request).
    pub async fn position(&self) -> Result<Position, BusError> {
        position(&self.stream).await
    }

    /// Appends one purge; returns its sequence once the stream has stored it.
    pub async fn publish(&self, body: Bytes) -> Result<u64, BusError> {
        let n = self.bus.names();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", message_id().as_str());
        let ack = self
            .bus
            .jetstream()
            .publish_with_headers(n.purge_subject(), headers, body)
            .await
            .map_err(|e| BusError::request("publish purge", e))?
            .await
            .map_err(|e| BusError::request("publish purge (stream acknowledgement)", e))?;
        Ok(ack.sequence)
    }

    /// Appends one purge and gathers the acknowledgements of `expect`
    /// (node names) until each has acknowledged or `deadline` has passed
    /// since the start. Acknowledgements from nodes not expected are kept
    /// too. Fails only when the purge could not be appended.
    pub async fn publish_gathering(
        &self,
        body: Bytes,
        expect: &[String],
        deadline: Duration,
    ) -> Result<Gathered, BusError> {
        let start = Instant::now();
        // Subscribe before publishing: an acknowledgement can beat the
        // stream's own answer back to us.
        let mut sub = self
            .bus
            .client()
            .subscribe(self.bus.names().ack_wildcard())
            .await
            .map_err(|e| BusError::request("subscribe to acknowledgements", e))?;
        self.bus.flush().await?;
        let seq = self.publish(body).await?;
        let stored_ms = start.elapsed().as_secs_f64() * 1000.0;
        let mut acks: Vec<Acked> = Vec::new();
        let until = tokio::time::Instant::from_std(start + deadline);
        while !expect.iter().all(|e| acks.iter().any(|a| &a.ack.node == e)) {
            let msg = match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => break,
            };
            let Ok(ack) = serde_json::from_slice::<PurgeAck>(&msg.payload) else {
                tracing::warn!(subject = %msg.subject, "undecodable purge acknowledgement ignored");
                continue;
            };
            if ack.seq != seq || acks.iter().any(|a| a.ack.node == ack.node) {
                continue;
            }
            acks.push(Acked { ack, latency_ms: start.elapsed().as_secs_f64() * 1000.0 });
        }
        let _ = sub.unsubscribe().await;
        let missing = expect.iter().filter(|e| !acks.iter().any(|a| &a.ack.node == *e)).cloned().collect();
        Ok(Gathered { seq, stored_ms, acks, missing })
    }
}

/// One purge from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// Its world-wide sequence.
    pub seq: u64,
    /// Its body, as published.
    pub body: Bytes,
}

/// Purges to apply, in order.
#[derive(Debug, Default)]
pub struct Batch {
    /// The purges, sequences strictly increasing, the first right after
    /// the node's applied sequence (or after `lost`).
    pub purges: Vec<Logged>,
    /// Purges between the applied sequence and the first of `purges` that
    /// the stream no longer holds: apply a hard purge-all first.
    pub lost: Option<String>,
    /// The delivered message to acknowledge (AckAll) once applied.
    ack: Option<jetstream::Message>,
    /// The sequence the node has applied once this batch is.
    through: u64,
}

impl Batch {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.purges.is_empty() && self.lost.is_none()
    }
}

/// What binding a node's feed found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The consumer was created now (the node is new to this log).
    pub created: bool,
    /// The node's applied sequence per the log (its consumer's ack floor).
    pub applied: u64,
    /// The stream then.
    pub position: Position,
    /// Purges the node may have missed that the log no longer holds: why.
    /// The node must treat everything it stored before as purged.
    pub lost: Option<String>,
}

/// The node's record of which stream it follows (`bus-feed.json` in its
/// data directory): a stream created anew is a different log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FeedMark {
    stream: String,
    created_ns: i128,
}

/// One node's durable, ordered feed of the purge log.
pub struct NodeFeed {
    bus: Bus,
    node: String,
    stream: stream::Stream,
    consumer: PullConsumer,
    messages: Option<pull::Stream>,
    /// Received, not handed over yet (kept across a cancelled call).
    pending: Vec<jetstream::Message>,
    applied: u64,
}

fn is_not_found(e: &stream::RawMessageError) -> bool {
    match e.kind() {
        stream::RawMessageErrorKind::NoMessageFound => true,
        stream::RawMessageErrorKind::JetStream(j) => j.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND,
        _ => false,
    }
}

impl NodeFeed {
    /// Binds `node` to its durable consumer (creating it, from the start of
    /// the log, when new). `mark_dir`: the node's data directory, where it
    /// remembers which stream it follows (`None`: a node that keeps
    /// nothing across restarts).
    pub async fn bind(bus: &Bus, node: &str, mark_dir: Option<&Path>) -> Result<(NodeFeed, Binding), BusError> {
        crate::names::check("node name", node)?;
        let n = bus.names();
        let stream = open_stream(bus).await?;
        let name = n.consumer(node);
        let (consumer, created) = match stream.get_consumer::<pull::Config>(&name).await {
            Ok(c) => (c, false),
            Err(_) => {
                let c = stream
                    .get_or_create_consumer(
                        &name,
                        pull::Config {
                            durable_name: Some(name.clone()),
                            description: Some(format!("cdnlab node `{node}`: the purges it applied")),
                            ack_policy: AckPolicy::All,
                            deliver_policy: DeliverPolicy::All,
                            ack_wait: ACK_WAIT,
                            filter_subject: n.purge_subject(),
                            max_ack_pending: 10 * PULL_BATCH as i64,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| BusError::request(format!("create consumer {name}"), e))?;
                (c, true)
            }
        };
        let info = consumer.get_info().await.map_err(|e| BusError::request(format!("consumer {name}"), e))?;
        let position = position(&stream).await?;
        let mut applied = info.ack_floor.stream_sequence;
        let mut lost = None;
        // A different stream than the one this node followed: its purges are gone.
        let mark_path = mark_dir.map(|d| d.join("bus-feed.json"));
        let mark = FeedMark { stream: n.purge_stream(), created_ns: position.created_ns };
        if let Some(p) = &mark_path
            && let Some(old) = read_mark(p)
            && old != mark
        {
            lost = Some(format!(
                "the purge log was replaced (stream {} created at {} ns, this node followed one created at {} ns)",
                mark.stream, mark.created_ns, old.created_ns
            ));
        }
        // Purges after the applied sequence that the stream dropped.
        if position.first > applied + 1 && lost.is_none() {
            lost = Some(format!(
                "purges {}..{} left the log before this node applied them{}",
                applied + 1,
                position.first - 1,
                if created { " (its feed is new)" } else { "" }
            ));
        }
        if lost.is_some() {
            applied = position.first.saturating_sub(1).max(applied);
        }
        if let Some(p) = &mark_path {
            write_mark(p, &mark)?;
        }
        let feed = NodeFeed {
            bus: bus.clone(),
            node: node.into(),
            stream,
            consumer,
            messages: None,
            pending: Vec::new(),
            applied,
        };
        Ok((feed, Binding { created, applied, position, lost }))
    }

    /// The sequence this node has applied (every purge up to it).
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Where the stream stands now (one request).
    pub async fn position(&self) -> Result<Position, BusError> {
        position(&self.stream).await
    }

    async fn messages(&mut self) -> Result<(), BusError> {
        if self.messages.is_none() {
            let m = self
                .consumer
                .stream()
                .max_messages_per_batch(PULL_BATCH)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(30))
                .messages()
                .await
                .map_err(|e| BusError::request("pull purges", e))?;
            self.messages = Some(m);
        }
        Ok(())
    }

    /// The next purges delivered, in order (at most about `max`), waiting
    /// up to `wait` for the first; an empty batch when none came. Gaps in
    /// what was delivered are filled from the stream. Cancel-safe.
    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Batch, BusError> {
        if self.pending.is_empty() {
            self.messages().await?;
            let Some(msgs) = self.messages.as_mut() else { return Err(BusError::request("pull purges", "no stream")) };
            match tokio::time::timeout(wait, msgs.next()).await {
                Err(_) => return Ok(Batch { through: self.applied, ..Batch::default() }),
                Ok(Some(Ok(m))) => self.pending.push(m),
                Ok(Some(Err(e))) => {
                    tracing::debug!(node = %self.node, error = %e, "purge feed");
                    return Ok(Batch { through: self.applied, ..Batch::default() });
                }
                Ok(None) => {
                    self.messages = None;
                    return Err(BusError::request("pull purges", "the feed ended"));
                }
            }
            while self.pending.len() < max {
                match msgs.next().now_or_never() {
                    Some(Some(Ok(m))) => self.pending.push(m),
                    _ => break,
                }
            }
        }
        let mut batch = Batch { through: self.applied, ..Batch::default() };
        let delivered = std::mem::take(&mut self.pending);
        let mut keep = Vec::new();
        for m in delivered {
            let Ok(seq) = m.info().map(|i| i.stream_sequence) else { continue };
            if seq <= batch.through {
                batch.ack = Some(m); // a redelivery of what is applied
                continue;
            }
            keep.push((seq, m));
        }
        keep.sort_by_key(|(s, _)| *s);
        for (seq, m) in keep {
            if seq <= batch.through {
                continue;
            }
            if seq > batch.through + 1 {
                match self.read_range(batch.through + 1, seq - 1).await {
                    Ok((purges, lost)) => {
                        if lost.is_some() && !batch.purges.is_empty() {
                            // End this batch before the hole: the next one starts with it.
                            self.pending.push(m);
                            break;
                        }
                        batch.lost = batch.lost.or(lost);
                        batch.purges.extend(purges);
                        batch.through = seq - 1;
                    }
                    Err(e) => {
                        self.pending.push(m);
                        if batch.purges.is_empty() && batch.lost.is_none() {
                            return Err(e);
                        }
                        break;
                    }
                }
            }
            batch.purges.push(Logged { seq, body: m.payload.clone() });
            batch.through = seq;
            batch.ack = Some(m);
        }
        Ok(batch)
    }

    /// Purges `from..=to` read from the stream directly (not delivered):
    /// holes in a delivery, or a feed that is behind the stream. Sequences
    /// the stream no longer holds are skipped and reported (the first).
    async fn read_range(&self, from: u64, to: u64) -> Result<(Vec<Logged>, Option<String>), BusError> {
        let mut out = Vec::new();
        let mut lost = None;
        for seq in from..=to {
            match self.stream.get_raw_message(seq).await {
                Ok(m) => out.push(Logged { seq, body: m.payload }),
                Err(e) if is_not_found(&e) => {
                    lost.get_or_insert_with(|| format!("purge {seq} left the log before this node applied it"));
                }
                Err(e) => return Err(BusError::request(format!("read purge {seq}"), e)),
            }
        }
        Ok((out, lost))
    }

    /// Purges after the applied sequence up to `to` (at most `max`), read
    /// from the stream directly: for a feed whose deliveries stall behind
    /// the stream (messages lost in flight wait [`ACK_WAIT`] for
    /// redelivery).
    pub async fn read_to(&mut self, to: u64, max: usize) -> Result<Batch, BusError> {
        let from = self.applied + 1;
        let to = to.min(self.applied + max as u64);
        if from > to {
            return Ok(Batch { through: self.applied, ..Batch::default() });
        }
        let (purges, lost) = self.read_range(from, to).await?;
        Ok(Batch { purges, lost, ack: None, through: to })
    }

    /// Marks a batch applied: the applied sequence moves to its end and
    /// the consumer is acknowledged through it.
    pub async fn done(&mut self, batch: Batch) -> Result<(), BusError> {
        self.applied = self.applied.max(batch.through);
        if let Some(m) = batch.ack {
            m.ack_with(AckKind::Ack).await.map_err(|e| BusError::request("acknowledge purges", e))?;
        }
        Ok(())
    }

    /// Publishes this node's acknowledgement of a purge (for publishers
    /// gathering them).
    pub async fn acknowledge(&self, ack: &PurgeAck) -> Result<(), BusError> {
        let body = serde_json::to_vec(ack).map_err(|e| BusError::Payload { what: "purge ack", why: e.to_string() })?;
        self.bus
            .client()
            .publish(self.bus.names().ack_subject(ack.seq), body.into())
            .await
            .map_err(|e| BusError::request("publish purge ack", e))
    }

    /// The consumer's own view: its ack floor (stream sequence) and what it
    /// has not delivered yet.
    pub async fn consumer_state(&self) -> Result<(u64, u64), BusError> {
        let i = self.consumer.get_info().await.map_err(|e| BusError::request("consumer info", e))?;
        Ok((i.ack_floor.stream_sequence, i.num_pending))
    }
}

fn read_mark(p: &Path) -> Option<FeedMark> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn write_mark(p: &Path, m: &FeedMark) -> Result<(), BusError> {
    let io = |e: std::io::Error| BusError::request(format!("write {}", p.display()), e);
    if read_mark(p).as_ref() == Some(m) {
        return Ok(());
    }
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    let tmp: PathBuf = p.with_extension("json.tmp");
    let body = serde_json::to_vec(m).map_err(|e| BusError::Payload { what: "feed mark", why: e.to_string() })?;
    std::fs::write(&tmp, body).map_err(io)?;
    std::fs::rename(&tmp, p).map_err(io)
}
