//! The last purges this edge applied, with wall-clock times, whoever sent
//! them (`cdn purge`, a scenario, the dashboard, a script at the admin
//! API): `GET /purge/recent` serves them so the dashboard's purge timeline
//! shows every purge with each edge's acknowledgement time.
//!
//! Bounded ([`KEEP`]), in memory only (a restarted edge starts with none),
//! and written once per purge: purges are rare next to requests.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Purges remembered.
pub const KEEP: usize = 128;

pub use api::edge::{AppliedPurge as Applied, RecentPurges as Recent};

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
    /// Remembers a purge acknowledged now that took `took` from arrival.
    pub fn record(&self, mut a: Applied, took: Duration) {
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
        }
    }

    #[test]
    fn keeps_the_last_ones_with_their_times() {
        let log = Log::default();
        let before = wall_ms();
        for s in 1..=(KEEP as u64 + 10) {
            log.record(one(s), Duration::from_millis(3));
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
}
