//! The last purges this edge applied, with wall-clock times, whoever sent
//! them (`cdn purge`, a scenario, the dashboard, a script at the admin
//! API): `GET /purge/recent` serves them so the dashboard's purge timeline
//! shows every purge with each edge's acknowledgement time.
//!
//! Bounded ([`KEEP`]), in memory only (a restarted edge starts with none),
//! and written once per purge: purges are rare next to requests.
//!
//! A sender may name its purge and say when it started sending it
//! ([`Sender`]: `id` and `sent_unix_ms` in the request, the same in its
//! request to every edge); both are kept with the record, so the timeline
//! groups one purge's records by its id and times every acknowledgement
//! from the sender's start rather than from the first edge's arrival.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Purges remembered.
pub const KEEP: usize = 128;

use api::edge::PurgeRequest;
pub use api::edge::{AppliedPurge as Applied, RecentPurges as Recent};

/// Longest purge id.
pub const MAX_ID_LEN: usize = 128;

/// Who sent a purge, in the sender's words: its id for the purge and when
/// it started sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The sender's id for the purge.
    pub id: String,
    /// When the sender started sending it, Unix ms.
    pub sent_unix_ms: Option<u64>,
}

impl Sender {
    /// The request's `id` and `sent_unix_ms`, checked: `None` when it has
    /// neither; an error (answered 400) for an id that is empty, too long
    /// or has other characters than `A-Z a-z 0-9 . _ : -`, or a start time
    /// without an id.
    pub fn of(r: &PurgeRequest) -> Result<Option<Sender>, String> {
        let Some(id) = &r.id else {
            return match r.sent_unix_ms {
                Some(_) => Err("`sent_unix_ms` needs an `id`".into()),
                None => Ok(None),
            };
        };
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(format!("purge id: 1 to {MAX_ID_LEN} characters (got {})", id.len()));
        }
        if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
            return Err(format!("purge id: {c:?} is not allowed (A-Z a-z 0-9 . _ : - only)"));
        }
        Ok(Some(Sender { id: id.clone(), sent_unix_ms: r.sent_unix_ms }))
    }
}

/// The bounded list.
#[derive(Debug, Default)]
pub struct Log {
    items: Mutex<VecDeque<Applied>>,
}

/// Wall-clock Unix ms.
pub fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Log {
    /// Remembers a purge acknowledged now that took `took` from arrival,
    /// sent by `sender` when it said so.
    pub fn record(&self, mut a: Applied, took: Duration, sender: Option<Sender>) {
        if let Some(s) = sender {
            a.id = Some(s.id);
            a.sent_unix_ms = s.sent_unix_ms;
        }
        a.acked_unix_ms = wall_ms();
        a.took_us = took.as_micros() as u64;
        a.received_unix_ms = a.acked_unix_ms.saturating_sub(took.as_millis() as u64);
        let mut g = self.items.lock();
        g.push_back(a);
        while g.len() > KEEP {
            g.pop_front();
        }
    }

    /// The purges with a sequence number above `after`, oldest first.
    pub fn after(&self, after: u64) -> Vec<Applied> {
        self.items.lock().iter().filter(|a| a.seq > after).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(seq: u64) -> Applied {
        Applied {
            seq,
            kind: "url".into(),
            target: format!("/obj/{seq}"),
            soft: false,
            objects: 1,
            keys: 1,
            inflight: 0,
            persisted: true,
            received_unix_ms: 0,
            acked_unix_ms: 0,
            took_us: 0,
            id: None,
            sent_unix_ms: None,
        }
    }

    #[test]
    fn keeps_the_last_ones_with_their_times() {
        let log = Log::default();
        let before = wall_ms();
        for s in 1..=(KEEP as u64 + 10) {
            log.record(one(s), Duration::from_millis(3), None);
        }
        let all = log.after(0);
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].seq, 11);
        assert_eq!(
            log.after(KEEP as u64 + 8).iter().map(|a| a.seq).collect::<Vec<_>>(),
            [KEEP as u64 + 9, KEEP as u64 + 10]
        );
        let a = &all[0];
        assert!(a.acked_unix_ms >= before && a.acked_unix_ms - a.received_unix_ms == 3 && a.took_us == 3000);
    }

    #[test]
    fn a_senders_id_and_start_are_kept_and_checked() {
        let log = Log::default();
        let req = |id: Option<&str>, sent: Option<u64>| PurgeRequest {
            url: Some("/x".into()),
            id: id.map(str::to_string),
            sent_unix_ms: sent,
            ..Default::default()
        };
        let s = Sender::of(&req(Some("cli-12:3.a_b"), Some(1_000))).unwrap_or_else(|e| panic!("{e}"));
        log.record(one(1), Duration::from_millis(1), s);
        log.record(one(2), Duration::from_millis(1), Sender::of(&req(None, None)).unwrap_or_else(|e| panic!("{e}")));
        let all = log.after(0);
        assert_eq!((all[0].id.as_deref(), all[0].sent_unix_ms), (Some("cli-12:3.a_b"), Some(1_000)));
        assert_eq!((all[1].id.as_deref(), all[1].sent_unix_ms), (None, None));
        let json = serde_json::to_string(&all[1]).unwrap_or_default();
        assert!(!json.contains("\"id\"") && !json.contains("sent_unix_ms"), "no sender, no fields: {json}");
        for (id, sent, why) in [
            (Some(""), None, "1 to 128 characters"),
            (Some("a b"), None, "' ' is not allowed"),
            (Some("x\n"), None, "'\\n' is not allowed"),
            (None, Some(5), "needs an `id`"),
        ] {
            let e = Sender::of(&req(id, sent)).err().unwrap_or_default();
            assert!(e.contains(why), "{id:?}: {e}");
        }
        assert!(Sender::of(&req(Some(&"a".repeat(MAX_ID_LEN + 1)), None)).is_err());
    }
}
