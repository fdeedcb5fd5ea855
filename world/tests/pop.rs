//! PoP clusters in world files: the shipped cluster world parses and
//! derives its nodes; bad topologies are refused with the file, the line
//! and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use world::World;

mod common;
use common::{line_of, messages, refuse, refused_at};
use world::config::PopPolicy;

/// The demo world with `pop` as Seoul's `[edge.pop]` table.
fn with_pop(pop: &str) -> String {
    format!("extends = \"demo\"\nname = \"c\"\n\n[edge.seoul.pop]\n{pop}\n")
}

#[test]
fn the_shipped_cluster_world_has_four_hashed_seoul_nodes_at_derived_addresses() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/worlds/cluster.toml");
    let w = World::load(&p).unwrap_or_else(|e| panic!("{e}"));
    let seoul = w.edge("seoul").unwrap();
    let pop = seoul.pop.as_ref().unwrap();
    assert_eq!((pop.nodes, pop.policy), (4, PopPolicy::Hash));
    assert_eq!(seoul.listen.to_string(), "127.1.0.1:8080", "the PoP keeps the region's public address");
    let nodes = world::pop::nodes_of(seoul);
    let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["seoul-1", "seoul-2", "seoul-3", "seoul-4"]);
    assert_eq!(nodes[0].listen.to_string(), "127.1.0.11:8080");
    assert_eq!(nodes[3].admin.to_string(), "127.1.0.14:9080");
    assert_eq!(nodes[1].peer.to_string(), "127.1.0.42:8080");
    // A node starts as an edge of its own, with the PoP's settings.
    let n2 = w.node_edge("seoul-2").unwrap();
    assert_eq!((n2.region.as_str(), n2.listen.to_string()), ("seoul", "127.1.0.12:8080".into()));
    assert_eq!(w.settings_of(&n2).memory, w.settings_of(seoul).memory);
    // Purges go to every node of the PoP and to the other edges.
    let servers: Vec<_> = w.cache_servers().into_iter().map(|e| e.name).collect();
    assert_eq!(servers, ["seoul-1", "seoul-2", "seoul-3", "seoul-4", "tokyo", "newyork"]);
}

#[test]
fn every_policy_is_read_by_its_name() {
    for (name, p) in [
        ("round-robin", PopPolicy::RoundRobin),
        ("least-connections", PopPolicy::LeastConnections),
        ("random", PopPolicy::Random),
        ("hash", PopPolicy::Hash),
    ] {
        let w = World::parse("ok.toml", &with_pop(&format!("nodes = 3\npolicy = \"{name}\""))).unwrap();
        assert_eq!(w.edge("seoul").unwrap().pop.as_ref().unwrap().policy, p);
        assert_eq!(p.as_str(), name);
    }
}

#[test]
fn a_pop_with_zero_nodes_is_refused_at_its_line() {
    refused_at(&with_pop("nodes = 0"), "nodes = 0", "a PoP needs at least one node");
}

#[test]
fn a_pop_with_too_many_nodes_is_refused() {
    refused_at(&with_pop("nodes = 17"), "nodes = 17", "at most 16");
}

#[test]
fn hashing_with_one_node_is_refused_at_the_policy() {
    let text = with_pop("nodes = 1\npolicy = \"hash\"");
    refused_at(&text, "policy = \"hash\"", "one node has nothing to share");
    // One node behind a round-robin balancer is a PoP of one: allowed.
    World::parse("ok.toml", &with_pop("nodes = 1\npolicy = \"round-robin\"")).unwrap();
}

#[test]
fn hot_keys_without_hashing_or_negative_are_refused() {
    let text = with_pop("nodes = 2\npolicy = \"random\"\nhot_key_rps = 50");
    refused_at(&text, "hot_key_rps", "for hashed PoPs");
    refused_at(&with_pop("nodes = 2\nhot_key_rps = -1"), "hot_key_rps", "must be 0 to");
}

#[test]
fn an_unknown_policy_or_field_is_refused_at_its_line() {
    let text = with_pop("nodes = 2\npolicy = \"sticky\"");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "sticky"), "{err}");
    let text = with_pop("nodes = 2\nnodez = 3");
    let err = refuse(&text);
    assert_eq!(err.at.unwrap().0, line_of(&text, "nodez"), "{err}");
}

/// A hashed PoP may be the shield: its nodes fill from the origin, every
/// other edge from the shield's tier address (the PoP's balancer); a PoP
/// of another policy may not (each node would fill its own copy).
#[test]
fn a_hashed_pop_may_be_the_shield_and_another_policy_is_refused() {
    use world::tiers::Upstream;
    let text = format!("{}\n[shield]\nregion = \"seoul\"\n", with_pop("nodes = 2\npolicy = \"hash\""));
    let w = World::parse("pop.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    for name in ["seoul", "seoul-1", "seoul-2"] {
        let e = w.node_edge(name).or_else(|| w.edge(name).cloned()).unwrap_or_else(|| panic!("{name}"));
        assert!(w.is_shield(&e) && matches!(w.upstream_of(&e), Upstream::Origin), "{name}");
    }
    let tokyo = w.edge("tokyo").unwrap_or_else(|| panic!("tokyo"));
    assert!(
        matches!(w.upstream_of(tokyo), Upstream::Shield { edge, listen } if edge.name == "seoul" && listen.to_string() == "127.1.0.2:8080")
    );
    let text = format!("{}\n[shield]\nregion = \"seoul\"\n", with_pop("nodes = 2\npolicy = \"round-robin\""));
    refused_at(&text, "region = \"seoul\"", "a shield PoP must hash");
}

#[test]
fn a_node_address_in_use_is_refused_naming_both() {
    // Tokyo's edge moved onto seoul-1's address.
    let text = format!("{}\n[edge.tokyo]\nlisten = \"127.1.0.11:8080\"\n", with_pop("nodes = 2"));
    let err = refuse(&text);
    assert!(
        messages(&err).iter().any(|(_, m)| m.contains("duplicate address 127.1.0.11:8080") && m.contains("seoul-1")),
        "{err}"
    );
}

#[test]
fn bad_pop_health_is_refused_at_its_line() {
    let text = with_pop("nodes = 2\nhealth = { interval = \"0s\" }");
    refused_at(&text, "health = {", "pop.health.interval");
}
