//! Edges learned from the control bus: with `--bus`, geodns reads the
//! world's membership bucket (`bus::members`) every heartbeat, so an edge
//! started on another host (`edge --bus …` with a name and region, or
//! `cdn up --only edge:NAME`) is answered once it has put its record and
//! passed a health check, and one whose record expired (stopped, cut off)
//! is answered no more, without editing the world file.
//!
//! - A member named like a world edge is that edge; its addresses are the
//!   member's (it may run on another host than the file says).
//! - Any other member with role `edge` and a region of the world joins in
//!   the next free slot ([`crate::choice::JOINED_MAX`] at most); its slot
//!   stays its own when it leaves and comes back.
//! - World edges stay in the rankings whether or not they are members
//!   (health decides about them, as without a bus).
//! - When the bucket cannot be read (bus away), the last known edges stay:
//!   health checks still drop the dead ones.

use std::collections::BTreeSet;
use std::sync::Arc;

use bus::members::{HEARTBEAT, Member, Membership};
use world::World;

use crate::choice::{Chooser, EdgeInfo, Routes, world_edges};

/// The edges as the membership last said, by slot.
pub struct Known {
    world: World,
    edges: Vec<EdgeInfo>,
    present: Vec<bool>,
    capacity: usize,
    /// Names already warned about (unknown region, no room), said once.
    warned: BTreeSet<String>,
}

/// What one reading of the bucket changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Edges that joined (or came back, or moved), by name.
    pub joined: Vec<String>,
    /// Edges that left, by name.
    pub left: Vec<String>,
}

impl Change {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty()
    }
}

impl Known {
    /// The world file's edges, with room for [`crate::choice::JOINED_MAX`] more.
    pub fn new(world: &World) -> Known {
        let edges = world_edges(world);
        let n = edges.len();
        Known {
            world: world.clone(),
            present: vec![true; n],
            edges,
            capacity: n + crate::choice::JOINED_MAX,
            warned: BTreeSet::new(),
        }
    }

    /// Edge slots (for sizing health and metrics).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The routes of the edges known now.
    pub fn routes(&self) -> Routes {
        Routes::build(&self.world, self.edges.clone(), self.present.clone(), self.capacity)
    }

    /// Takes a full listing of the bucket; says what changed.
    pub fn update(&mut self, members: &[Member]) -> Change {
        let mut change = Change::default();
        let from_world = self.world.edges.len();
        let mut seen = vec![false; self.edges.len()];
        for m in members.iter().filter(|m| m.role == "edge") {
            let slot = match self.edges.iter().position(|e| e.name == m.node) {
                Some(i) => i,
                None => {
                    let Some(region) = m.region.as_deref().filter(|r| self.world.region(r).is_some()) else {
                        if self.warned.insert(m.node.clone()) {
                            tracing::warn!(edge = %m.node, region = ?m.region, "member ignored: its region is not one of the world's");
                        }
                        continue;
                    };
                    if self.edges.len() >= self.capacity {
                        if self.warned.insert(m.node.clone()) {
                            tracing::warn!(edge = %m.node, max = crate::choice::JOINED_MAX, "member ignored: no room for more joined edges");
                        }
                        continue;
                    }
                    self.edges.push(EdgeInfo {
                        name: m.node.clone(),
                        region: region.to_string(),
                        listen: m.public,
                        admin: m.admin,
                        ipv6: None,
                    });
                    self.present.push(false);
                    seen.push(false);
                    self.edges.len() - 1
                }
            };
            seen[slot] = true;
            let e = &mut self.edges[slot];
            let moved = e.listen != m.public || e.admin != m.admin;
            if moved {
                e.listen = m.public;
                e.admin = m.admin;
                if slot < from_world {
                    e.ipv6 = None;
                }
            }
            if !self.present[slot] || moved {
                self.present[slot] = true;
                change.joined.push(m.node.clone());
            }
        }
        let joined = self.present.iter_mut().zip(&seen).zip(&self.edges).skip(from_world);
        for ((present, seen), e) in joined {
            if *present && !*seen {
                *present = false;
                change.left.push(e.name.clone());
            }
        }
        change
    }
}

/// Follows the membership bucket at `url` until `shutdown` fires,
/// replacing `chooser`'s routes when edges join or leave.
pub async fn follow(
    chooser: Arc<Chooser>,
    mut known: Known,
    url: String,
    options: bus::ConnectOptions,
    mut shutdown: runtime::Shutdown,
) {
    let world = known.world.name.clone();
    let opts = bus::ConnectOptions { retry: true, ..options };
    let b = tokio::select! {
        _ = shutdown.wait() => return,
        b = bus::Bus::connect(&url, &world, "geodns", &opts) => b,
    };
    let b = match b {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "control bus unusable: geodns answers the world file's edges only");
            return;
        }
    };
    tracing::info!(bus = %url, "geodns follows the membership of world `{world}`");
    let mut members: Option<Membership> = None;
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        if !b.connected() {
            continue;
        }
        if members.is_none() {
            members = Membership::open(&b).await.ok();
        }
        let Some(kv) = &members else { continue };
        let list = match kv.list().await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "membership not read; keeping the edges known");
                members = None;
                continue;
            }
        };
        let change = known.update(&list);
        if change.is_empty() {
            continue;
        }
        let routes = known.routes();
        let mut fresh = Vec::new();
        for name in &change.joined {
            if let Some((i, e)) = routes.edges.iter().enumerate().find(|(_, e)| &e.name == name) {
                fresh.push(i);
                tracing::info!(edge = %name, region = %e.region, address = %e.listen, admin = %e.admin, "edge joined (control bus)");
            }
        }
        for name in &change.left {
            tracing::info!(edge = %name, "edge left (its membership record expired or was removed)");
        }
        chooser.replace_routes(routes);
        // What health knew of them was of another address or an earlier run.
        for i in fresh {
            chooser.health.reset(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node: &str, region: &str, public: &str, admin: &str) -> Member {
        Member {
            node: node.into(),
            role: "edge".into(),
            region: Some(region.into()),
            public: public.parse().unwrap(),
            admin: admin.parse().unwrap(),
            status: "up".into(),
            applied: 0,
            at_ms: 0,
        }
    }

    fn ranked(r: &Routes, region: usize) -> Vec<String> {
        r.region(region).0.order.iter().map(|&(e, _)| r.edges[e].name.clone()).collect()
    }

    #[test]
    fn an_edge_joins_leaves_and_comes_back_in_its_slot() {
        let w = World::demo().unwrap();
        let mut k = Known::new(&w);
        assert_eq!(ranked(&k.routes(), 1), ["tokyo", "seoul", "newyork"]);
        let osaka = member("osaka", "tokyo", "127.2.0.7:8080", "127.2.0.7:9080");
        let c = k.update(std::slice::from_ref(&osaka));
        assert_eq!(c.joined, ["osaka"]);
        let r = k.routes();
        assert_eq!(r.edges[3].name, "osaka");
        // Same region as tokyo: same RTT, after tokyo (slot order breaks ties).
        assert_eq!(ranked(&r, 1), ["tokyo", "osaka", "seoul", "newyork"]);
        assert_eq!(k.update(std::slice::from_ref(&osaka)), Change::default());
        // Its record expired: gone from every ranking, the world's edges stay.
        assert_eq!(k.update(&[]).left, ["osaka"]);
        assert_eq!(ranked(&k.routes(), 1), ["tokyo", "seoul", "newyork"]);
        // Back at another address: the same slot, the new address.
        let moved = member("osaka", "tokyo", "127.2.0.8:8080", "127.2.0.8:9080");
        assert_eq!(k.update(&[moved]).joined, ["osaka"]);
        let r = k.routes();
        assert_eq!(r.edges.len(), 4);
        assert_eq!(r.edges[3].listen, "127.2.0.8:8080".parse().unwrap());
        assert_eq!(r.slot_name(3), Some("osaka"));
        assert_eq!(r.slot_name(r.capacity), Some("origin"));
        assert_eq!(r.slot_name(4), None);
    }

    #[test]
    fn a_world_edge_that_runs_elsewhere_is_answered_at_its_member_address() {
        let w = World::demo().unwrap();
        let mut k = Known::new(&w);
        let tokyo = member("tokyo", "tokyo", "198.51.100.2:8080", "198.51.100.2:9080");
        assert_eq!(k.update(&[tokyo]).joined, ["tokyo"]);
        let r = k.routes();
        assert_eq!(r.edges[1].listen, "198.51.100.2:8080".parse().unwrap());
        // It leaves the bucket: a world edge stays (health decides).
        assert!(k.update(&[]).is_empty());
        assert_eq!(ranked(&k.routes(), 1)[0], "tokyo");
    }

    #[test]
    fn members_of_unknown_regions_and_other_roles_are_ignored() {
        let w = World::demo().unwrap();
        let mut k = Known::new(&w);
        let mut shield = member("shield1", "tokyo", "127.2.0.7:8080", "127.2.0.7:9080");
        shield.role = "shield".into();
        let mars = member("olympus", "mars", "127.2.0.9:8080", "127.2.0.9:9080");
        assert!(k.update(&[shield, mars]).is_empty());
        assert_eq!(k.routes().edges.len(), 3);
    }

    #[test]
    fn no_more_than_the_room_for_joined_edges() {
        let w = World::demo().unwrap();
        let mut k = Known::new(&w);
        let many: Vec<Member> = (0..crate::choice::JOINED_MAX + 5)
            .map(|i| member(&format!("e{i}"), "seoul", "127.1.0.7:8080", "127.1.0.7:9080"))
            .collect();
        assert_eq!(k.update(&many).joined.len(), crate::choice::JOINED_MAX);
        assert_eq!(k.routes().edges.len(), k.capacity());
    }
}
