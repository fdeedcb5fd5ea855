//! Following the purge log: bind the durable feed, catch up to the log's
//! last sequence, apply what arrives, confirm the lease.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bus::purge::{Batch, NodeFeed, PULL_BATCH, PurgeAck};
use bus::{Bus, BusError};

use super::Link;
use crate::admin::purge::response_of;
use crate::purge::relay::PurgeRelayed;
use crate::purge::{PurgeRequest, PurgeSpec, Target};
use crate::state::EdgeState;

/// Deliveries that have not come this long after the log said there was
/// more are read from the log directly.
const STALL: Duration = Duration::from_millis(300);

/// Follows the log until aborted; binds again after errors.
pub(super) async fn follow(st: Arc<EdgeState>, link: Arc<Link>, b: Bus) {
    let dir = st.purge.data_dir();
    let mut complained = false;
    loop {
        let (mut feed, binding) = match NodeFeed::bind(&b, &st.name, dir.as_deref()).await {
            Ok(x) => x,
            Err(e) => {
                if !complained {
                    tracing::warn!(edge = %st.name, error = %e, "control bus: cannot follow the purge log yet; retrying");
                    complained = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        complained = false;
        tracing::info!(
            edge = %st.name, applied = binding.applied, log = binding.position.last, new = binding.created,
            "control bus: following the purge log"
        );
        if let Some(why) = &binding.lost {
            lost_state(&st, &link, why).await;
        }
        link.set_applied(feed.applied());
        st.order.applied_now(feed.applied());
        if let Err(e) = keep_up(&st, &link, &mut feed).await {
            tracing::warn!(edge = %st.name, error = %e, "control bus: purge feed interrupted; binding again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Catches up, confirms, waits for deliveries; returns on an error.
async fn keep_up(st: &EdgeState, link: &Link, feed: &mut NodeFeed) -> Result<(), BusError> {
    loop {
        let t0 = Instant::now();
        let last = feed.position().await?.last;
        link.log_seq.store(last, Ordering::Relaxed);
        let mut progress = Instant::now();
        while feed.applied() < last {
            let mut batch = feed.next_batch(PULL_BATCH, Duration::from_millis(50)).await?;
            if batch.is_empty() && progress.elapsed() > STALL {
                batch = feed.read_to(last, PULL_BATCH).await?;
            }
            if !batch.is_empty() {
                apply(st, link, feed, batch).await?;
                progress = Instant::now();
            }
        }
        link.confirm(t0);
        if st.purging().regain_step() {
            st.health.bus_step(None);
            tracing::info!(edge = %st.name, applied = feed.applied(), "in step with the control bus");
        }
        let next = t0 + link.config.lease / 3;
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let batch = feed.next_batch(PULL_BATCH, left).await?;
            if !batch.is_empty() {
                apply(st, link, feed, batch).await?;
            }
        }
    }
}

/// Purges this edge missed that the log no longer holds: everything stored
/// before is treated as purged (a hard purge-all).
async fn lost_state(st: &EdgeState, link: &Link, why: &str) {
    tracing::warn!(edge = %st.name, why, "control bus: purges missed and gone from the log; purging everything");
    let all = PurgeSpec { target: Target::All, soft: false };
    if let Err(e) = st.purging().purge(&all).await {
        tracing::error!(edge = %st.name, error = %e, "purge-all for lost purges failed");
    }
    link.lost_state.fetch_add(1, Ordering::Relaxed);
    st.health.note(format!("control bus: {why}; everything stored before was treated as purged"));
}

/// Applies a batch (one fsync), acknowledges it to the log, then to the
/// publishers.
async fn apply(st: &EdgeState, link: &Link, feed: &mut NodeFeed, batch: Batch) -> Result<(), BusError> {
    if let Some(why) = &batch.lost {
        lost_state(st, link, why).await;
    }
    let mut specs = Vec::with_capacity(batch.purges.len());
    let mut senders = Vec::with_capacity(batch.purges.len());
    let mut refused = Vec::new();
    for p in &batch.purges {
        let parsed = serde_json::from_slice::<PurgeRequest>(&p.body)
            .map_err(|e| format!("invalid purge request: {e}"))
            .and_then(|r| Ok((PurgeSpec::try_from(&r).map_err(|e| e.to_string())?, r)));
        match parsed {
            Ok((s, r)) => {
                // Before it applies (crate::origins): no fill older than its write.
                if let (Some(o), Some(at)) = (&st.origins, r.origin_seq) {
                    o.raise_floor(&s.target, at);
                }
                specs.push((p.seq, s));
                // The sender's id and start travel in the log entry, so the
                // purge timeline times a bus purge from its sender too. A bad
                // one only loses that timing, never the purge.
                senders.push(crate::purge::recent::Sender::of(&r).ok().flatten());
            }
            Err(why) => {
                tracing::error!(edge = %st.name, seq = p.seq, why, "purge from the log refused");
                refused.push((p.seq, why));
            }
        }
    }
    let only: Vec<PurgeSpec> = specs.iter().map(|(_, s)| s.clone()).collect();
    let done = st.purging().purge_many_from(&only, senders).await.map_err(|e| BusError::request("apply purges", e))?;
    feed.done(batch).await?;
    let mut acks = Vec::with_capacity(done.len());
    for ((seq, spec), p) in specs.iter().zip(done) {
        let mut r = response_of(&st.name, spec, &p);
        r.bus_seq = Some(*seq);
        acks.push(PurgeAck {
            node: st.name.clone(),
            seq: *seq,
            ok: r.persisted,
            detail: serde_json::to_value(&r).unwrap_or_default(),
        });
        link.remember(PurgeRelayed { bus_seq: *seq, spec: spec.clone(), purged: p });
    }
    // Remembered first: `POST /purge` answers with the result once it sees the sequence applied.
    link.set_applied(feed.applied());
    st.order.applied_now(feed.applied()); // the log's sequence is the world's (crate::purge::order)
    for ack in acks {
        if let Err(e) = feed.acknowledge(&ack).await {
            tracing::debug!(edge = %st.name, seq = ack.seq, error = %e, "purge acknowledgement not sent");
        }
    }
    for (seq, why) in refused {
        let ack = PurgeAck { node: st.name.clone(), seq, ok: false, detail: serde_json::json!({ "error": why }) };
        let _ = feed.acknowledge(&ack).await;
    }
    Ok(())
}
