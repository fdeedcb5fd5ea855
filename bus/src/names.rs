//! Every name the bus uses for a world, in one place, so nodes and
//! commands built separately agree on them.
//!
//! | what | name |
//! | --- | --- |
//! | purge stream | `cdnlab-<world>-purge`, subject `cdnlab.<world>.purge` |
//! | a node's durable consumer | `node-<node>` |
//! | a node's acknowledgement of purge `seq` | subject `cdnlab.<world>.ack.<seq>` |
//! | membership bucket (KV) | `cdnlab-<world>-members`, key `<node>` |
//! | a node's counters | subject `cdnlab.<world>.stats.<node>` |
//!
//! World and node names are cdnlab's (letters, digits, `-`, `_`, at most
//! 63), which are valid NATS subject tokens, stream, consumer and key names.

use crate::BusError;

/// Whether `s` is a cdnlab name usable in every bus name.
pub fn valid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `Ok` when `name` is usable; the error says what it names.
pub fn check(what: &'static str, name: &str) -> Result<(), BusError> {
    if valid(name) { Ok(()) } else { Err(BusError::Name { what, name: name.into() }) }
}

/// The names of one world's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    world: String,
}

impl Names {
    /// The names for world `world`.
    pub fn new(world: &str) -> Result<Names, BusError> {
        check("world name", world)?;
        Ok(Names { world: world.into() })
    }

    /// The world's name.
    pub fn world(&self) -> &str {
        &self.world
    }

    /// The purge stream.
    pub fn purge_stream(&self) -> String {
        format!("cdnlab-{}-purge", self.world)
    }

    /// The subject purges are published on (the stream's only subject).
    pub fn purge_subject(&self) -> String {
        format!("cdnlab.{}.purge", self.world)
    }

    /// A node's durable consumer of the purge stream.
    pub fn consumer(&self, node: &str) -> String {
        format!("node-{node}")
    }

    /// Where nodes acknowledge purge `seq`.
    pub fn ack_subject(&self, seq: u64) -> String {
        format!("cdnlab.{}.ack.{seq}", self.world)
    }

    /// Every acknowledgement.
    pub fn ack_wildcard(&self) -> String {
        format!("cdnlab.{}.ack.*", self.world)
    }

    /// The membership bucket.
    pub fn members_bucket(&self) -> String {
        format!("cdnlab-{}-members", self.world)
    }

    /// Where `node` publishes its counters.
    pub fn stats_subject(&self, node: &str) -> String {
        format!("cdnlab.{}.stats.{node}", self.world)
    }

    /// Every node's counters.
    pub fn stats_wildcard(&self) -> String {
        format!("cdnlab.{}.stats.*", self.world)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_demo_world() {
        let n = Names::new("demo").unwrap();
        assert_eq!(n.purge_stream(), "cdnlab-demo-purge");
        assert_eq!(n.purge_subject(), "cdnlab.demo.purge");
        assert_eq!(n.consumer("seoul"), "node-seoul");
        assert_eq!(n.ack_subject(17), "cdnlab.demo.ack.17");
        assert_eq!(n.members_bucket(), "cdnlab-demo-members");
        assert_eq!(n.stats_subject("tokyo"), "cdnlab.demo.stats.tokyo");
    }

    #[test]
    fn names_that_would_break_a_subject_are_refused() {
        for bad in ["", "a.b", "a b", "*", ">", "é", &"x".repeat(64)] {
            assert!(Names::new(bad).is_err(), "{bad:?}");
        }
        assert!(check("node name", "edge_1-A").is_ok());
    }
}
