//! Purges the page did not send (`cdn purge`, a script at an edge's admin
//! API): read from every edge's `GET /purge/recent` each round, grouped
//! into one purge per sender's id (`cdn purge` and every fan-out name
//! theirs, [`crate::purge::new_id`]), or, for a purge sent without one,
//! per (kind, target, soft) seen at the edges within [`SAME_PURGE`] of each
//! other, and written to the journal as `observed` purge entries with a bar
//! per edge, like the page's own purges.
//!
//! An edge's acknowledgement time for an observed purge is its
//! acknowledgement (wall clock) minus the sender's start (`sent_unix_ms`
//! of the request, as `cdn purge` measures its own times), or, when the
//! sender did not say, minus the earliest arrival of that purge at any
//! edge (the spread the purge took across the world). Purges the page or
//! the scenario sent are already in the journal with the fan-out's own
//! times: the edges' records of them (matched by the fan-out's id, and by
//! edge and sequence number from its answers) are left out. Edges' records
//! are held while such a fan-out is still in progress, so that its answers
//! are known before they are matched.

use std::collections::HashSet;

use api::edge::PurgeResponse;
use api::edge::{AppliedPurge as Applied, RecentPurges as Recent};

use crate::events::{Entry, Journal, Source};
use crate::purge::{EdgeResult, Report};

/// Records of the same purge at different edges arrive within this of the first, ms.
pub const SAME_PURGE: u64 = 10_000;

/// Ids of our own fan-outs remembered (their records arrive within a
/// round or two of the fan-out's end).
const CLAIMED_IDS: usize = 256;

/// One observed purge.
struct Group {
    journal_seq: u64,
    /// The sender's id: the group is every record with it.
    id: Option<String>,
    /// The sender's start, when it said: what acknowledgements count from.
    sent_ms: Option<u64>,
    kind: String,
    target: String,
    soft: bool,
    /// The earliest arrival at an edge.
    first_ms: u64,
    /// Per edge, in world order.
    at: Vec<Option<Applied>>,
    done: bool,
}

/// The state of the observation.
pub struct Observed {
    edges: Vec<(String, std::net::SocketAddr)>,
    cursors: Vec<u64>,
    pending: Vec<(usize, Applied)>,
    claimed: HashSet<(String, u64)>,
    /// Ids of our own fan-outs, the last [`CLAIMED_IDS`].
    claimed_ids: std::collections::VecDeque<String>,
    groups: Vec<Group>,
}

impl Observed {
    /// For the edges (name, admin address), in world order.
    pub fn new(edges: Vec<(String, std::net::SocketAddr)>) -> Observed {
        Observed {
            cursors: vec![0; edges.len()],
            edges,
            pending: Vec::new(),
            claimed: HashSet::new(),
            claimed_ids: Default::default(),
            groups: Vec::new(),
        }
    }

    /// What to ask each edge for: `?after=` its cursor.
    pub fn cursors(&self) -> Vec<u64> {
        self.cursors.clone()
    }

    /// Takes one round of `/purge/recent` answers (per edge, in world order).
    pub fn take(&mut self, answers: &[Option<Recent>]) {
        for (i, a) in answers.iter().enumerate() {
            let (Some(a), Some(cur)) = (a, self.cursors.get_mut(i)) else { continue };
            if a.seq < *cur {
                *cur = 0; // restarted with no journal: numbering started again
                continue;
            }
            for p in &a.purges {
                if p.seq > *cur {
                    *cur = p.seq;
                    self.pending.push((i, p.clone()));
                }
            }
        }
    }

    /// Notes the edges' answers in a journal entry of a fan-out (the page's or the scenario's).
    pub fn claim(&mut self, e: &Entry) {
        if e.source == Source::Observed {
            return; // our own reading of the edges
        }
        if let Some(id) = e.purge.as_ref().and_then(|p| p.id.clone()) {
            self.claimed_ids.push_back(id);
            if self.claimed_ids.len() > CLAIMED_IDS {
                self.claimed_ids.pop_front();
            }
        }
        for r in e.purge.iter().flat_map(|p| &p.edges) {
            if let Some(resp) = &r.response {
                self.claimed.insert((r.edge.clone(), resp.seq));
            }
        }
    }

    /// Groups the records held (unless `busy`: a fan-out of ours is in
    /// progress) and writes new or changed observed purges to `journal`.
    pub fn settle(&mut self, busy: bool, now_ms: u64, journal: &Journal) {
        let mut changed: Vec<usize> = Vec::new();
        if !busy {
            for (i, p) in std::mem::take(&mut self.pending) {
                let ours_by_seq = self.claimed.remove(&(self.edges[i].0.clone(), p.seq));
                if ours_by_seq || p.id.as_ref().is_some_and(|id| self.claimed_ids.contains(id)) {
                    continue;
                }
                let g = self.groups.iter().position(|g| {
                    !g.done
                        && g.at[i].is_none()
                        && match (&g.id, &p.id) {
                            (Some(a), Some(b)) => a == b,
                            (None, None) => {
                                g.kind == p.kind
                                    && g.target == p.target
                                    && g.soft == p.soft
                                    && p.received_unix_ms.abs_diff(g.first_ms) <= SAME_PURGE
                            }
                            _ => false,
                        }
                });
                let g = match g {
                    Some(g) => g,
                    None => {
                        let detail = format!("{}{} {}", if p.soft { "soft " } else { "" }, p.kind, p.target);
                        let sent_ms = p.id.as_ref().and(p.sent_unix_ms);
                        let at = sent_ms.unwrap_or(p.received_unix_ms);
                        let journal_seq = journal.begin_at(Source::Observed, "purge", detail.trim_end(), at);
                        self.groups.push(Group {
                            journal_seq,
                            id: p.id.clone(),
                            sent_ms,
                            kind: p.kind.clone(),
                            target: p.target.clone(),
                            soft: p.soft,
                            first_ms: p.received_unix_ms,
                            at: vec![None; self.edges.len()],
                            done: false,
                        });
                        self.groups.len() - 1
                    }
                };
                let grp = &mut self.groups[g];
                grp.first_ms = grp.first_ms.min(p.received_unix_ms);
                grp.at[i] = Some(p);
                changed.push(g);
            }
        }
        for (k, g) in self.groups.iter_mut().enumerate() {
            if g.done {
                continue;
            }
            let all = g.at.iter().all(Option::is_some);
            let late = now_ms.saturating_sub(g.first_ms) > SAME_PURGE;
            if all || late {
                g.done = true;
                changed.push(k);
            }
        }
        changed.sort_unstable();
        changed.dedup();
        for k in changed {
            let g = &self.groups[k];
            let rep = report(g, &self.edges);
            journal.finish(g.journal_seq, rep.complete(), g.done, effect(&rep, g.done), Some(rep));
        }
        // Forget finished groups beyond the last few (the journal keeps them).
        let finished = self.groups.iter().filter(|g| g.done).count();
        if finished > 64 {
            let mut excess = finished - 64;
            self.groups.retain(|g| {
                let gone = g.done && excess > 0;
                excess -= usize::from(gone);
                !gone
            });
        }
    }
}

fn report(g: &Group, edges: &[(String, std::net::SocketAddr)]) -> Report {
    let results: Vec<EdgeResult> = edges
        .iter()
        .zip(&g.at)
        .map(|((name, admin), a)| match a {
            Some(a) => EdgeResult {
                edge: name.clone(),
                admin: *admin,
                ok: a.persisted,
                latency_ms: a.acked_unix_ms.saturating_sub(g.sent_ms.unwrap_or(g.first_ms)) as f64,
                attempts: 1,
                response: Some(PurgeResponse {
                    edge: name.clone(),
                    kind: a.kind.clone(),
                    target: a.target.clone(),
                    soft: a.soft,
                    seq: a.seq,
                    objects: a.objects,
                    keys: a.keys,
                    inflight: a.inflight,
                    took_us: a.took_us,
                    persisted: a.persisted,
                    error: (!a.persisted).then(|| "applied in memory but not persisted".to_string()),
                    bus_seq: None,
                }),
                error: None,
            },
            None => EdgeResult {
                edge: name.clone(),
                admin: *admin,
                ok: false,
                latency_ms: 0.0,
                attempts: 0,
                response: None,
                error: Some(if g.done {
                    "this edge has no record of this purge".into()
                } else {
                    "not seen at this edge yet".into()
                }),
            },
        })
        .collect();
    let failed: Vec<String> = results.iter().filter(|r| !r.ok).map(|r| r.edge.clone()).collect();
    Report {
        id: g.id.clone(),
        sent_unix_ms: g.sent_ms,
        kind: g.kind.clone(),
        target: g.target.clone(),
        soft: g.soft,
        acknowledged: results.len() - failed.len(),
        all_acknowledged_ms: failed.is_empty().then(|| results.iter().map(|r| r.latency_ms).fold(0.0, f64::max)),
        objects: g.at.iter().flatten().map(|a| a.objects).sum(),
        failed,
        edges: results,
    }
}

fn effect(rep: &Report, done: bool) -> String {
    let since = if rep.sent_unix_ms.is_some() { "its sender's start" } else { "the first" };
    match (rep.all_acknowledged_ms, done) {
        (Some(ms), _) => format!(
            "seen at the edges: all {} applied it within {ms:.0} ms of {since}, {}",
            rep.acknowledged,
            crate::purge::count(rep.objects, "object")
        ),
        (None, false) => format!("seen at {} edges so far", rep.acknowledged),
        (None, true) => format!("seen at {} edges; not at: {}", rep.acknowledged, rep.failed.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(seq: u64, target: &str, at: u64, took: u64) -> Applied {
        Applied {
            seq,
            kind: "url".into(),
            target: target.into(),
            soft: false,
            objects: 1,
            keys: 1,
            inflight: 0,
            persisted: true,
            received_unix_ms: at,
            acked_unix_ms: at + took,
            took_us: took * 1000,
            id: None,
            sent_unix_ms: None,
        }
    }

    /// `applied` with the sender's id and start.
    fn sent(a: Applied, id: &str, sent_ms: u64) -> Applied {
        Applied { id: Some(id.into()), sent_unix_ms: Some(sent_ms), ..a }
    }

    fn recent(edge: &str, purges: Vec<Applied>) -> Option<Recent> {
        Some(Recent { edge: edge.into(), seq: purges.iter().map(|p| p.seq).max().unwrap_or(0), purges })
    }

    fn edges() -> Vec<(String, std::net::SocketAddr)> {
        vec![("a".into(), "127.0.0.1:1".parse().unwrap()), ("b".into(), "127.0.0.1:2".parse().unwrap())]
    }

    fn purges(j: &Journal) -> Vec<Entry> {
        j.changed_since(0).0.into_iter().filter(|e| e.kind == "purge").collect()
    }

    #[test]
    fn one_purge_seen_at_every_edge_is_one_entry_with_each_edges_time() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        o.take(&[recent("a", vec![applied(1, "/x", 1000, 2)]), None]);
        o.settle(false, 1100, &j);
        let e = &purges(&j)[0];
        assert!(!e.done && e.effect.contains("seen at 1 edges so far"), "{e:?}");
        assert_eq!(o.cursors(), [1, 0]);
        o.take(&[recent("a", vec![]), recent("b", vec![applied(7, "/x", 1030, 5)])]);
        o.settle(false, 1200, &j);
        let all = purges(&j);
        assert_eq!(all.len(), 1, "{all:?}");
        let e = &all[0];
        assert_eq!((e.source, e.at_unix_ms, e.done, e.ok), (Source::Observed, 1000, true, true));
        let rep = e.purge.as_ref().unwrap();
        let ms: Vec<f64> = rep.edges.iter().map(|r| r.latency_ms).collect();
        assert_eq!(ms, [2.0, 35.0]);
        assert_eq!(rep.all_acknowledged_ms, Some(35.0));
    }

    #[test]
    fn an_edge_that_never_applies_it_is_named_once_the_wait_is_over() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        o.take(&[recent("a", vec![applied(1, "/x", 1000, 2)]), recent("b", vec![])]);
        o.settle(false, 1000 + SAME_PURGE + 1, &j);
        let e = &purges(&j)[0];
        assert!(e.done && !e.ok && e.effect.contains("not at: b"), "{e:?}");
    }

    #[test]
    fn purges_of_our_own_fan_out_are_left_out_and_held_while_it_runs() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        o.take(&[recent("a", vec![applied(1, "/x", 1000, 2)]), recent("b", vec![applied(1, "/x", 1000, 2)])]);
        o.settle(true, 1100, &j); // the page's fan-out still running
        assert!(purges(&j).is_empty());
        let rep = Report {
            id: None,
            sent_unix_ms: None,
            kind: "url".into(),
            target: "/x".into(),
            soft: false,
            edges: ["a", "b"]
                .iter()
                .map(|n| EdgeResult {
                    edge: (*n).into(),
                    admin: "127.0.0.1:1".parse().unwrap(),
                    ok: true,
                    latency_ms: 1.0,
                    attempts: 1,
                    response: Some(PurgeResponse {
                        edge: (*n).into(),
                        kind: "url".into(),
                        target: "/x".into(),
                        soft: false,
                        seq: 1,
                        objects: 1,
                        keys: 1,
                        inflight: 0,
                        took_us: 1,
                        persisted: true,
                        error: None,
                        bus_seq: None,
                    }),
                    error: None,
                })
                .collect(),
            acknowledged: 2,
            failed: vec![],
            all_acknowledged_ms: Some(1.0),
            objects: 2,
        };
        let seq = j.begin(Source::Dashboard, "purge", "url /x");
        j.finish(seq, true, true, "ok".into(), Some(rep));
        for e in j.changed_since(0).0 {
            o.claim(&e);
        }
        o.settle(false, 1200, &j);
        assert_eq!(purges(&j).len(), 1, "only the page's own entry");
    }

    #[test]
    fn a_purge_with_a_senders_id_is_timed_from_the_senders_start() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        // `cdn purge` started at 1000; its requests reached a at 1040, b at 1065
        o.take(&[
            recent("a", vec![sent(applied(1, "/x", 1040, 2), "cli-1", 1000)]),
            recent("b", vec![sent(applied(7, "/x", 1065, 5), "cli-1", 1000)]),
        ]);
        o.settle(false, 1100, &j);
        let all = purges(&j);
        assert_eq!(all.len(), 1, "{all:?}");
        let e = &all[0];
        assert_eq!((e.source, e.at_unix_ms, e.done, e.ok), (Source::Observed, 1000, true, true));
        let rep = e.purge.as_ref().unwrap();
        assert_eq!((rep.id.as_deref(), rep.sent_unix_ms), (Some("cli-1"), Some(1000)));
        let ms: Vec<f64> = rep.edges.iter().map(|r| r.latency_ms).collect();
        assert_eq!(ms, [42.0, 70.0], "acknowledgements counted from the sender's start");
        assert!(e.effect.contains("within 70 ms of its sender's start"), "{}", e.effect);
    }

    #[test]
    fn identical_purges_are_told_apart_by_their_ids() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        // two `cdn purge --url /x` a second apart, and one sent without an id
        o.take(&[
            recent(
                "a",
                vec![
                    sent(applied(1, "/x", 1000, 1), "p1", 999),
                    sent(applied(2, "/x", 2000, 1), "p2", 1999),
                    applied(3, "/x", 2500, 1),
                ],
            ),
            recent("b", vec![sent(applied(1, "/x", 2001, 1), "p2", 1999), sent(applied(2, "/x", 1003, 1), "p1", 999)]),
        ]);
        o.settle(false, 2600, &j);
        let all = purges(&j);
        let by: Vec<(Option<&str>, Vec<Option<f64>>)> = all
            .iter()
            .map(|e| {
                let rep = e.purge.as_ref().unwrap();
                (rep.id.as_deref(), rep.edges.iter().map(|r| r.ok.then_some(r.latency_ms)).collect())
            })
            .collect();
        assert_eq!(
            by,
            [
                (Some("p1"), vec![Some(2.0), Some(5.0)]),
                (Some("p2"), vec![Some(2.0), Some(3.0)]),
                (None, vec![Some(1.0), None])
            ],
            "{all:?}"
        );
    }

    #[test]
    fn records_of_our_own_fan_out_are_known_by_its_id() {
        let j = Journal::default();
        let mut o = Observed::new(edges());
        let rep = Report {
            id: Some("mine".into()),
            sent_unix_ms: Some(900),
            kind: "url".into(),
            target: "/x".into(),
            soft: false,
            edges: vec![],
            acknowledged: 2,
            failed: vec![],
            all_acknowledged_ms: Some(1.0),
            objects: 0,
        };
        let seq = j.begin(Source::Dashboard, "purge", "url /x");
        j.finish(seq, true, true, "ok".into(), Some(rep));
        for e in j.changed_since(0).0 {
            o.claim(&e);
        }
        o.take(&[
            recent("a", vec![sent(applied(1, "/x", 1000, 2), "mine", 900)]),
            recent("b", vec![sent(applied(4, "/x", 1000, 2), "mine", 900)]),
        ]);
        o.settle(false, 1100, &j);
        assert_eq!(purges(&j).len(), 1, "only the page's own entry");
    }

    #[test]
    fn a_restarted_edge_is_read_from_the_start_again() {
        let mut o = Observed::new(edges());
        o.take(&[recent("a", vec![applied(5, "/x", 1000, 2)]), None]);
        assert_eq!(o.cursors(), [5, 0]);
        o.take(&[Some(Recent { edge: "a".into(), seq: 0, purges: vec![] }), None]);
        assert_eq!(o.cursors(), [0, 0]);
    }
}
